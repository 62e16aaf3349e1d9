"""Inspections: the due list for a day and recording a checklist visit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from central.api.bounds import BoundedDatetime, BoundedDay, Offset
from central.api.deps import ReviewerUser, SessionDep, SettingsDep, ViewerUser
from central.domain import inspections
from central.orm.grades import Inspection

router = APIRouter(prefix="/api/inspections", tags=["inspections"])


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: str = Field(min_length=1, max_length=64)
    waste: float = Field(ge=0, le=100)
    sanitation: float = Field(ge=0, le=100, description="door-front sanitation")
    advertising: float = Field(ge=0, le=100, description="outdoor advertising")
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
    day: BoundedDay | None = None,
    road: str | None = None,
    area: str | None = None,
    order: Literal["route", "priority"] = "route",
    limit: Annotated[int, Query(ge=1, le=100000)] = 1000,
) -> Any:
    """Shops to visit on `day` (default today, UTC): route order (area, road, address) or priority."""
    day = day or datetime.now(UTC).date()
    items = inspections.due_list(session, day, settings=settings, road=road, area=area, order=order)
    return {"day": day, "total": len(items), "items": [i.__dict__ for i in items[:limit]]}


@router.post("", response_model=InspectionOut, status_code=status.HTTP_201_CREATED)
def record(body: InspectionIn, session: SessionDep, settings: SettingsDep, user: ReviewerUser) -> Any:
    ins = inspections.record_inspection(
        session,
        body.shop_id,
        inspector=user.username,
        waste=body.waste,
        sanitation=body.sanitation,
        advertising=body.advertising,
        notes=body.notes,
        at=body.at,
        settings=settings,
    )
    session.commit()
    return ins


@router.get("", response_model=list[InspectionOut])
def list_inspections(
    session: SessionDep,
    _: ViewerUser,
    shop_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Any:
    stmt = select(Inspection)
    if shop_id:
        stmt = stmt.where(Inspection.shop_id == shop_id)
    return list(session.scalars(stmt.order_by(Inspection.at.desc()).limit(limit).offset(offset)))
