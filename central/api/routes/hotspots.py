"""Hot spots (addresses with many tickets) and road grades."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from central.api.deps import AdminUser, ScopeDep, SessionDep, SettingsDep, ViewerUser
from central.domain import hotspots

router = APIRouter(prefix="/api/hotspots", tags=["hot spots"])


class HotSpotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    address: str
    road: str
    area: str
    since: datetime
    cleared_at: datetime | None
    tickets: int
    open_cases: int


class RoadOut(BaseModel):
    road: str
    area: str
    shops: int
    red: int
    yellow: int
    green: int
    hot_spots: int
    grade: str


@router.get("", response_model=list[HotSpotOut])
def list_hotspots(session: SessionDep, _: ViewerUser, scope: ScopeDep, active: bool = True) -> Any:
    return hotspots.hotspots(session, active_only=active, scope=scope)


@router.get("/roads", response_model=list[RoadOut])
def roads(session: SessionDep, _: ViewerUser, scope: ScopeDep, area: str | None = None) -> Any:
    """Roads graded from their shops' grades and active hot spots, worst first."""
    return [r.__dict__ for r in hotspots.road_grades(session, area=area, scope=scope)]


@router.post("/refresh")
def refresh(session: SessionDep, settings: SettingsDep, _: AdminUser) -> dict[str, int]:
    opened, cleared = hotspots.refresh_hotspots(session, settings=settings)
    session.commit()
    return {"opened": opened, "cleared": cleared}
