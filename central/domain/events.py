"""Violation episodes as the edges reported them: the filtered, paged query the API and the console share."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.domain.bounds import BoundedDay
from central.domain.errors import NotFound
from central.domain.scope import EVERYWHERE, Scope
from central.orm.events import Event
from wire.schema import Phase, Violation


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class EventFilter(BaseModel):
    """Query filters for events; every given one must match."""

    camera_id: str | None = None
    zone_id: str | None = None
    site_id: str | None = None
    shop_id: str | None = Field(default=None, description="shop id the edge reported")
    violation: Violation | None = None
    phase: Phase | None = None
    since: BoundedDay | None = Field(default=None, description="first day (UTC), inclusive")
    until: BoundedDay | None = Field(default=None, description="last day (UTC), inclusive")

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if v == "" else v  # an HTML form sends empty fields as ""


def query_events(session: Session, f: EventFilter, *, limit: int = 50, offset: int = 0,
                 scope: Scope = EVERYWHERE) -> tuple[list[Event], int]:
    """(events newest first, total matching). Shared by the API and the console."""
    exact = f.model_dump(include={"camera_id", "zone_id", "site_id", "shop_id", "violation", "phase"})
    conds = [getattr(Event, name) == value for name, value in exact.items() if value not in (None, "")]
    if not scope.everywhere:
        conds.append(in_scope(scope))
    if f.since is not None:  # episodes still going on at the start of `since` count
        conds.append(Event.last_ts >= _day_start(f.since))
    if f.until is not None:
        conds.append(Event.first_ts < _day_start(f.until + timedelta(days=1)))
    total = session.scalar(select(func.count()).select_from(Event).where(*conds)) or 0
    rows = session.scalars(select(Event).where(*conds).order_by(Event.first_ts.desc(), Event.event_id)
                           .offset(offset).limit(limit))
    return list(rows), int(total)


def in_scope(scope: Scope) -> Any:
    """SQL: episodes a scoped operator sees (through their case's shop, or their camera while caseless)."""
    return scope.by_event(Event.event_id, Event.camera_id)


def get_event(session: Session, event_id: str, scope: Scope = EVERYWHERE) -> Event:
    stmt = select(Event).where(Event.event_id == event_id)
    event = session.scalar(stmt if scope.everywhere else stmt.where(in_scope(scope)))
    if event is None:
        raise NotFound(f"event {event_id} not found")
    return event
