"""Evidence download: content-addressed JPEGs from the evidence store, for viewers and up.

The path parameter must be exactly 64 hex digits, so it can never name anything outside the store."""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, UploadFile, status

from central.api.deps import ReviewerUser, StoreDep, ViewerUser
from central.evidence_store import EvidenceStore

log = logging.getLogger("doorline.central.evidence")

router = APIRouter(prefix="/api/evidence", tags=["evidence"])

SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$",
                                 description="SHA-256 of the JPEG, 64 hex digits")]


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
    return Response(data, media_type="image/jpeg", headers={
        "ETag": f'"{sha256.lower()}"',
        "Cache-Control": "private, max-age=31536000, immutable",  # content-addressed: never changes
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="{sha256.lower()}.jpg"',
    })


@router.get("/{sha256}", summary="download one evidence JPEG",
            response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "not in the store"},
                       422: {"description": "not a SHA-256"}})
def get_evidence(sha256: Sha256Path, store: StoreDep, _: ViewerUser) -> Response:
    return evidence_response(store, sha256)


MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def store_photo(store: EvidenceStore, data: bytes) -> str:
    """Keep an officer's photo (JPEG or PNG, ≤ 10 MiB) in the evidence store; its sha256."""
    if len(data) > MAX_PHOTO_BYTES:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "photo larger than 10 MiB")
    if not data.startswith(PHOTO_MAGIC):
        raise HTTPException(422, "a photo must be a JPEG or PNG image")
    return store.put(data)


def require_photos(store: EvidenceStore, shas: list[str]) -> list[str]:
    """The given evidence ids, each checked to be in the store (422 naming the first missing one)."""
    out = []
    for sha in shas:
        if not SHA256_RE.fullmatch(sha) or not store.exists(sha.lower()):
            raise HTTPException(422, f"no evidence {sha} in the store: upload the photo first")
        out.append(sha.lower())
    return out


@router.post("", summary="upload an officer's photo", status_code=status.HTTP_201_CREATED,
             responses={413: {"description": "larger than 10 MiB"}, 422: {"description": "not a JPEG or PNG"}})
def upload_photo(file: UploadFile, store: StoreDep, _: ReviewerUser) -> dict[str, str]:
    """Store a photo taken on a visit; its sha256 goes with the officer's result or a case's closing."""
    return {"sha256": store_photo(store, file.file.read(MAX_PHOTO_BYTES + 1))}
