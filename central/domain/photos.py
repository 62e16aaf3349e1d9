"""Photos taken on a visit (an officer's result, a case closed on site), kept in the evidence store."""

from __future__ import annotations

import re

from central.domain.errors import DomainError
from central.evidence_store import EvidenceStore

MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


class PhotoTooLarge(DomainError):
    status = 413


class PhotoRefused(DomainError):
    """Not a JPEG or PNG, or not in the store."""

    status = 422


def store_photo(store: EvidenceStore, data: bytes) -> str:
    """Keep a photo (JPEG or PNG, at most 10 MiB); its sha256."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoTooLarge("photo larger than 10 MiB")
    if not data.startswith(PHOTO_MAGIC):
        raise PhotoRefused("a photo must be a JPEG or PNG image")
    return store.put(data)


def require_photos(store: EvidenceStore, shas: list[str]) -> list[str]:
    """The given evidence ids, each checked to be in the store (the first missing one is named)."""
    out = []
    for sha in shas:
        if not SHA256_RE.fullmatch(sha) or not store.exists(sha.lower()):
            raise PhotoRefused(f"no evidence {sha} in the store: upload the photo first")
        out.append(sha.lower())
    return out
