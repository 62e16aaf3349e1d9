"""What the ingest takes from the broker (`Inbound`), and why it refuses a message (`Rejected`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class Rejected(Exception):
    """A message central will not store; `reason` goes into the dead-letter table."""

    def __init__(self, reason: str, msg: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.msg = msg


@dataclass(frozen=True)
class Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received: float
    signature: str | None = None  # the `doorline-sig` user property, when the message had one




def utc(ts: float) -> datetime:
    """A Unix time from the wire as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def aware(value: datetime) -> datetime:
    """A datetime read back from SQLite (naive, UTC) made aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
