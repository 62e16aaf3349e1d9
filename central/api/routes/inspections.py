"""Inspections: the due list for a day and recording a checklist visit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from central.api.bounds import BoundedDatetime, BoundedDay, Offset
from central.api.deps import OfficerUser, ScopeDep, SessionDep, SettingsDep, ViewerUser
from central.auth import has_role
from central.domain import checklist, inspections
from central.domain.clock import local_day, now_utc
from central.domain.errors import DomainError
from central.orm.grades import Inspection

router = APIRouter(prefix="/api/inspections", tags=["inspections"])


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: str = Field(min_length=1, max_length=64)
    waste: float | None = Field(default=None, ge=0, le=100)
    sanitation: float | None = Field(default=None, ge=0, le=100, description="door-front sanitation")
    advertising: float | None = Field(default=None, ge=0, le=100, description="outdoor advertising")
    items: dict[str, bool | float] | None = Field(
        default=None, max_length=200,
        description="every checklist item (GET /api/inspections/checklist) → passed, failed or points earned; "
                    "instead of the three scores")
    photos: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(
        default_factory=list, max_length=20, description="evidence sha256s of photos taken on the visit")
    notes: str = Field(default="", max_length=5000)
    at: BoundedDatetime | None = None


class InspectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    shop_id: str
    at: datetime
    inspector: str
    waste: float
    sanitation: float
    advertising: float
    result: str
    notes: str
    items: dict[str, float] | None = None
    photos: list[str] | None = None


class DueOut(BaseModel):
    shop_id: str
    name: str
    address: str
    road: str
    area: str
    grade: str
    last_inspected: datetime | None
    interval_days: int
    overdue_days: int | None


class DueList(BaseModel):
    day: date
    total: int
    items: list[DueOut]


@router.get("/due", response_model=DueList)
def due(
    session: SessionDep,
    settings: SettingsDep,
    _: ViewerUser,
    scope: ScopeDep,
    day: BoundedDay | None = None,
    road: str | None = None,
    area: str | None = None,
    order: Literal["route", "priority"] = "route",
    limit: Annotated[int, Query(ge=1, le=100000)] = 1000,
) -> Any:
    """Shops to visit on `day` (a local day; default today in settings.timezone): route order (area, road,
    address) or priority."""
    day = day or local_day(now_utc(), settings.timezone)
    items = inspections.due_list(session, day, settings=settings, road=road, area=area, order=order, scope=scope)
    return {"day": day, "total": len(items), "items": [i.__dict__ for i in items[:limit]]}


@router.get("/checklist")
def checklist_items(settings: SettingsDep, _: ViewerUser) -> dict[str, Any]:
    """The inspection checklist in use: categories, items with points, face thresholds."""
    menu = checklist.load(settings.inspection_checklist_file)
    return {
        "categories": [
            {"key": c.key, "zh": c.zh, "en": c.en,
             "items": [{"key": i.key, "zh": i.zh, "en": i.en, "points": i.points} for i in c.items]}
            for c in menu.categories
        ],
        "faces": {"green_from": menu.green_from, "yellow_from": menu.yellow_from,
                  "poor_category": menu.poor_category},
    }


@router.post("", response_model=InspectionOut, status_code=status.HTTP_201_CREATED)
def record(body: InspectionIn, session: SessionDep, settings: SettingsDep, user: OfficerUser, scope: ScopeDep) -> Any:
    """A visit to a shop of the caller's area. Officers record what their page records: the checklist
    items (`items`) and photos, as of now; the three category scores and a back-dated `at` are for
    reviewers and admins entering paper records."""
    if not has_role(user.role, "reviewer") and (body.items is None or body.at is not None):
        raise DomainError("an officer records the checklist items (GET /api/inspections/checklist), as of now")
    ins = inspections.record_inspection(
        session,
        body.shop_id,
        inspector=user.username,
        waste=body.waste,
        sanitation=body.sanitation,
        advertising=body.advertising,
        items=body.items,
        photos=body.photos,
        notes=body.notes,
        at=body.at,
        settings=settings,
        scope=scope,
    )
    session.commit()
    return ins


@router.get("", response_model=list[InspectionOut])
def list_inspections(
    session: SessionDep,
    _: ViewerUser,
    scope: ScopeDep,
    shop_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Any:
    stmt = scope.filter(select(Inspection), Inspection.shop_id)
    if shop_id:
        stmt = stmt.where(Inspection.shop_id == shop_id)
    return list(session.scalars(stmt.order_by(Inspection.at.desc()).limit(limit).offset(offset)))
