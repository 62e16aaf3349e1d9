"""Datetimes are UTC and timezone-aware inside the domain; SQLite hands back naive ones, fixed here."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def from_unix(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)
