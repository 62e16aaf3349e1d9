"""Evidence JPEGs (and citizens' re-encoded MP4 clips) as HTTP responses, checked against their content hash;
shared by the API and the shop page."""

from __future__ import annotations

import hashlib
import logging
import re

from fastapi import HTTPException, Response, status

from central.evidence_store import EvidenceStore

log = logging.getLogger("doorline.central.evidence")

SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def read_evidence(store: EvidenceStore, sha256: str) -> bytes:
    """The stored bytes, after checking the name and the content hash; HTTPException otherwise."""
    if not SHA256_RE.fullmatch(sha256):
        raise HTTPException(422, "evidence id must be 64 hex digits")
    sha256 = sha256.lower()
    try:
        data = store.get(sha256)
    except (FileNotFoundError, KeyError, LookupError):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no evidence {sha256}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        log.error("evidence %s in the store does not match its hash", sha256)
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR,
                            f"evidence {sha256} is corrupted in the store")
    return data


def evidence_response(store: EvidenceStore, sha256: str) -> Response:
    data = read_evidence(store, sha256)
    # only cleaned files are stored: JPEGs, and MP4s the video check wrote (they start with an ftyp box)
    mp4 = data[4:8] == b"ftyp"
    return Response(data, media_type="video/mp4" if mp4 else "image/jpeg", headers={
        "ETag": f'"{sha256.lower()}"',
        "Cache-Control": "private, max-age=31536000, immutable",  # content-addressed: never changes
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="{sha256.lower()}.{"mp4" if mp4 else "jpg"}"',
    })
