"""Violation episodes as the edges reported them: the filtered, paged query the API and the console share."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.domain.bounds import BoundedDay
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


def query_events(session: Session, f: EventFilter, *, limit: int = 50, offset: int = 0
                 ) -> tuple[list[Event], int]:
    """(events newest first, total matching). Shared by the API and the console."""
    exact = f.model_dump(include={"camera_id", "zone_id", "site_id", "shop_id", "violation", "phase"})
    conds = [getattr(Event, name) == value for name, value in exact.items() if value not in (None, "")]
    if f.since is not None:  # episodes still going on at the start of `since` count
        conds.append(Event.last_ts >= _day_start(f.since))
    if f.until is not None:
        conds.append(Event.first_ts < _day_start(f.until + timedelta(days=1)))
    total = session.scalar(select(func.count()).select_from(Event).where(*conds)) or 0
    rows = session.scalars(select(Event).where(*conds).order_by(Event.first_ts.desc(), Event.event_id)
                           .offset(offset).limit(limit))
    return list(rows), int(total)
