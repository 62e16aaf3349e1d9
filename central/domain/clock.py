"""Datetimes are UTC and timezone-aware inside the domain; SQLite hands back naive ones, fixed here.
People see local times and count local days: `to_local` and `local_day` take the deployment's zone
(`CentralSettings.timezone`, default Asia/Shanghai)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


def as_utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def from_unix(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_local(dt: datetime, tz: str) -> datetime:
    """A stored (UTC, possibly naive from SQLite) datetime in the deployment's zone."""
    return as_utc(dt).astimezone(zone(tz))


def local_day(dt: datetime, tz: str) -> date:
    """The local calendar day a stored datetime falls on."""
    return to_local(dt, tz).date()


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of one local day (23 or 25 hours long across a DST change)."""
    start = datetime.combine(day, time.min, tzinfo=zone(tz))
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone(tz))
    return start.astimezone(UTC), end.astimezone(UTC)
