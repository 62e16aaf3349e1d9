"""Violation episodes as the edges reported them: list with filters, detail with phases,
evidence references and the case they went to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from central.api.bounds import Offset
from central.api.deps import ScopeDep, SessionDep, ViewerUser
from central.domain.events import EventFilter, query_events
from central.domain.events import get_event as scoped_event
from central.orm.cases import CaseEvent
from central.orm.events import EventPhaseRecord, Evidence

router = APIRouter(prefix="/api/events", tags=["events"])

class EvidencePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    evidence_id: str
    sha256: str
    kind: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    stored: bool = Field(description="false while the JPEG has not arrived yet")
    url: str = ""


class EventBase(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event_id: str
    site_id: str
    camera_id: str
    zone_id: str | None = None
    shop_id: str | None = Field(default=None,
                                description="as the edge reported it; the case has the matched shop")
    violation: str
    phase: str = Field(description="latest phase received")
    end_reason: str | None = Field(
        default=None, description="why it ended: 'cleared' (goods taken away) or why nobody watches it any more "
        "(stopped, end_of_stream, zone_removed, zone_changed, view_moved, camera_failed, edge_offline, superseded)")
    score: float | None = None
    source_kind: str | None = None


class EventPublic(EventBase):
    first_ts: datetime
    last_ts: datetime
    lat: float | None = None
    lon: float | None = None


class PhasePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: str
    seq: int
    phase: str
    ts: datetime
    received_at: datetime | None = None


class EventDetail(EventPublic):
    phases: list[PhasePublic]
    evidence: list[EvidencePublic]
    case_id: str | None = None


class EventPage(BaseModel):
    items: list[EventPublic]
    total: int
    limit: int
    offset: int


class Count(BaseModel):
    count: int


def evidence_public(row: Evidence) -> EvidencePublic:
    out = EvidencePublic.model_validate(row)
    out.url = f"/api/evidence/{out.sha256}"
    return out


@router.get("", response_model=EventPage, summary="list events, newest first, with filters")
def list_events(session: SessionDep, _: ViewerUser, scope: ScopeDep, f: Annotated[EventFilter, Query()],
                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                offset: Offset = 0) -> EventPage:
    rows, total = query_events(session, f, limit=limit, offset=offset, scope=scope)
    return EventPage(items=[EventPublic.model_validate(r) for r in rows], total=total, limit=limit,
                     offset=offset)


@router.get("/phases/count", response_model=Count, summary="how many event messages are stored")
def count_phases(session: SessionDep, _: ViewerUser) -> Count:
    return Count(count=int(session.scalar(select(func.count()).select_from(EventPhaseRecord)) or 0))


@router.get("/{event_id}", response_model=EventDetail, summary="one event with its phases and evidence")
def get_event(event_id: str, session: SessionDep, _: ViewerUser, scope: ScopeDep) -> EventDetail:
    event = scoped_event(session, event_id, scope)
    phases = session.scalars(select(EventPhaseRecord).where(EventPhaseRecord.event_id == event.event_id)
                             .order_by(EventPhaseRecord.seq))
    evidence = session.scalars(select(Evidence).where(Evidence.event_id == event.event_id))
    case_id = session.scalar(select(CaseEvent.case_id).where(CaseEvent.event_id == event.event_id))
    return EventDetail(**EventPublic.model_validate(event).model_dump(),
                       phases=[PhasePublic.model_validate(p) for p in phases],
                       evidence=[evidence_public(e) for e in evidence], case_id=case_id)
