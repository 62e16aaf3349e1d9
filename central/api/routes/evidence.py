"""Evidence download: content-addressed JPEGs from the evidence store, for viewers and up.

The path parameter must be exactly 64 hex digits, so it can never name anything outside the store."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, UploadFile, status

from central.api.deps import OfficerUser, StoreDep, ViewerUser
from central.api.evidence_response import evidence_response
from central.domain.photos import OFFICER_MAX_BYTES, store_photo

router = APIRouter(prefix="/api/evidence", tags=["evidence"])

Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$",
                                 description="SHA-256 of the JPEG, 64 hex digits")]


@router.get("/{sha256}", summary="download one evidence JPEG",
            response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "not in the store"},
                       422: {"description": "not a SHA-256"}})
def get_evidence(sha256: Sha256Path, store: StoreDep, _: ViewerUser) -> Response:
    return evidence_response(store, sha256)


@router.post("", summary="upload an officer's photo", status_code=status.HTTP_201_CREATED,
             responses={413: {"description": "larger than 10 MiB"}, 422: {"description": "not a JPEG or PNG"}})
def upload_photo(file: UploadFile, store: StoreDep, _: OfficerUser) -> dict[str, str]:
    """Store a photo taken on a visit; its sha256 goes with the officer's result or a case's closing."""
    return {"sha256": store_photo(store, file.file.read(OFFICER_MAX_BYTES + 1))}
