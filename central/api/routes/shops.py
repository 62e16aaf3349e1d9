"""Shop registry: list, read, create, edit, import (CSV / GeoJSON with row-level errors), export;
complaints about a shop; its grade history."""

from __future__ import annotations

import io
import os
import tempfile
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, UploadFile, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from central.api.bounds import BoundedDatetime, Offset
from central.api.deps import AdminUser, ReviewerUser, ScopeDep, SessionDep, SettingsDep, ViewerUser
from central.domain import grades, registry, shop_export, shop_import
from central.domain.shop_schema import ShopIn, ShopPatch, ShopPublic
from central.orm.cases import Complaint

router = APIRouter(prefix="/api/shops", tags=["shops"])

MAX_IMPORT_BYTES = 512 * 1024 * 1024


class ShopPage(BaseModel):
    total: int
    items: list[ShopPublic]


class RowErrorOut(BaseModel):
    line: int
    shop_id: str | None
    reason: str


class ImportReportOut(BaseModel):
    source: str
    rows: int
    inserted: int
    updated: int
    skipped: int
    seconds: float
    errors: list[RowErrorOut]


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)
    source: str = Field(default="citizen", max_length=30)
    at: BoundedDatetime | None = None
    evidence: dict[str, Any] | None = None


class ComplaintOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    shop_id: str
    at: datetime
    source: str
    text: str
    valid: bool


class GradeChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    shop_id: str
    at: datetime
    old_grade: str | None
    new_grade: str
    rule_set: str
    reason: str


@router.get("", response_model=ShopPage)
def list_shops(
    session: SessionDep,
    _: ViewerUser,
    scope: ScopeDep,
    road: str | None = None,
    area: str | None = None,
    grade: Literal["red", "yellow", "green"] | None = None,
    q: Annotated[str | None, Query(max_length=100, description="id, name or address contains")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    total, rows = registry.list_shops(session, road=road, area=area, grade=grade, q=q, limit=limit, offset=offset,
                                      scope=scope)
    return {"total": total, "items": rows}


@router.post(
    "",
    response_model=ShopPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "id taken or a zone belongs to another shop"}},
)
def create_shop(body: ShopIn, session: SessionDep, settings: SettingsDep, user: AdminUser) -> Any:
    shop = registry.create_shop(session, body, actor=user.username)
    grades.regrade_shops(session, [shop.id], settings=settings, reason_prefix="registered")
    session.commit()
    session.refresh(shop)
    return shop


@router.post(
    "/import",
    response_model=ImportReportOut,
    responses={400: {"description": "the file as a whole is unreadable (header, JSON)"}},
)
def import_shops(
    file: UploadFile,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    fmt: Annotated[
        Literal["csv", "geojson", "xlsx"] | None,
        Query(description="default: from the file name (.csv, .xlsx, else GeoJSON)"),
    ] = None,
    on_conflict: Annotated[
        Literal["update", "replace", "skip", "error"],
        Query(description="an existing shop: update what the file gives (default), replace the whole record, "
                          "skip it, or report it"),
    ] = "update",
    encoding: Annotated[
        str | None, Query(max_length=40, description="text encoding; default: detected (UTF-8, GB18030)")
    ] = None,
) -> dict[str, Any]:
    """Good rows are imported, bad rows are listed with their line (CSV, sheet row) or feature number
    (GeoJSON); then every shop is graded. Runs in a worker thread (a big file takes tens of seconds)."""
    data = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "import file larger than 512 MiB")
    name = file.filename or "upload"
    lower = name.lower()
    kind = fmt or ("csv" if lower.endswith(".csv") else "xlsx" if lower.endswith(".xlsx") else "geojson")
    try:
        source = data if kind == "xlsx" else io.StringIO(shop_import.decode_text(data, encoding), newline="")
        report = shop_import.import_shops(
            session,
            source,
            fmt=kind,
            source=name,
            on_conflict=on_conflict,
            actor=user.username,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        session.rollback()
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"cannot read {name}: {exc}") from None
    if report.inserted or report.updated:
        grades.recompute(session, settings=settings, reason_prefix=f"import of {name}")
    session.commit()
    return report.to_dict()


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/geo+json": {}}}},
)
def export_shops(session: SessionDep, _: ViewerUser, scope: ScopeDep,
                 fmt: Literal["csv", "geojson"] = "csv") -> Response:
    """The whole registry (a scoped account's area only); written to a temporary file first (250,000 shops
    are ~100 MB), then sent."""
    media = "text/csv" if fmt == "csv" else "application/geo+json"
    ext = "csv" if fmt == "csv" else "geojson"
    fd, name = tempfile.mkstemp(prefix="doorline-shops-", suffix=f".{ext}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fp:
            (shop_export.export_csv if fmt == "csv" else shop_export.export_geojson)(session, fp, scope)
    except BaseException:
        os.unlink(name)
        raise
    cleanup = BackgroundTask(os.unlink, name)
    return FileResponse(name, media_type=media, filename=f"shops.{ext}", background=cleanup)


@router.get("/{shop_id}", response_model=ShopPublic)
def get_shop(shop_id: str, session: SessionDep, _: ViewerUser, scope: ScopeDep) -> Any:
    return registry.get_shop(session, shop_id, scope)


@router.patch("/{shop_id}", response_model=ShopPublic)
def update_shop(shop_id: str, body: ShopPatch, session: SessionDep, settings: SettingsDep, user: AdminUser) -> Any:
    shop = registry.update_shop(session, shop_id, body, actor=user.username)
    if body.business_type is not None:
        grades.regrade_shops(session, [shop_id], settings=settings, reason_prefix="business type changed")
    session.commit()
    session.refresh(shop)
    return shop


@router.get("/{shop_id}/grades", response_model=list[GradeChangeOut])
def grade_history(
    shop_id: str, session: SessionDep, _: ViewerUser, scope: ScopeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> Any:
    registry.get_shop(session, shop_id, scope)
    return grades.history(session, shop_id, limit=limit)


@router.post("/{shop_id}/complaints", response_model=ComplaintOut, status_code=status.HTTP_201_CREATED)
def add_complaint(
    shop_id: str, body: ComplaintIn, session: SessionDep, settings: SettingsDep, user: ReviewerUser,
    scope: ScopeDep
) -> Any:
    """A citizen report checked by an operator; it counts towards the shop's grade."""
    registry.get_shop(session, shop_id, scope)
    from central.domain import audit
    from central.domain.clock import as_utc, now_utc

    at = as_utc(body.at) or now_utc()
    complaint = Complaint(shop_id=shop_id, at=at, source=body.source, text=body.text, evidence=body.evidence)
    session.add(complaint)
    session.flush()
    audit.record(
        session,
        actor=user.username,
        action="shop.complaint",
        shop_id=shop_id,
        details={"complaint_id": complaint.id, "source": body.source},
    )
    grades.regrade_shops(session, [shop_id], settings=settings, reason_prefix="complaint")
    session.commit()
    return complaint
