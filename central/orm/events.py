"""What the transport stores: event episodes and their phase messages, evidence, dead letters, the last
status of every edge camera, and the command outbox.

Idempotency lives here: `EventPhaseRecord.message_id` is the primary key, `Evidence.evidence_id` too, and
`Outbox.message_id` is unique, so a redelivered message can never be stored twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.domain.clock import now_utc
from central.orm.base import Base


class Event(Base):
    """One violation episode in one zone (start → updates → end), as the edge reported it."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_camera_first", "site_id", "camera_id", "first_ts"),)

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(128))
    camera_id: Mapped[str] = mapped_column(String(128))
    zone_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    shop_id: Mapped[str | None] = mapped_column(
        String(128), default=None, index=True, doc="as reported by the edge; matching decides the case"
    )
    violation: Mapped[str] = mapped_column(String(40))
    phase: Mapped[str] = mapped_column(String(10), doc="phase of the highest seq received")
    end_reason: Mapped[str | None] = mapped_column(
        String(40), default=None,
        doc="why it ended: 'cleared' (the goods were taken away), or why nobody watches it any more "
        "(stopped, end_of_stream, zone_removed, ..., edge_offline, superseded)",
    )
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    first_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    score: Mapped[float] = mapped_column(Float, default=0.0, doc="highest score of any phase")
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    source_kind: Mapped[str] = mapped_column(String(10), default="fixed")
    phase_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)


class EventPhaseRecord(Base):
    """One received EventMessage, verbatim. Stored at most once per message_id."""

    __tablename__ = "event_phases"
    __table_args__ = (Index("ix_event_phases_event_seq", "event_id", "seq"),)

    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(10))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[float] = mapped_column(Float, doc="edge clock, unix seconds")
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=now_utc, doc="stamped in the ingest transaction, just before commit"
    )
    payload: Mapped[str] = mapped_column(Text, doc="the message JSON as received")


class RecheckRecord(Base):
    """One received RecheckResult (the edge's answer to a recheck command). Stored at most once."""

    __tablename__ = "recheck_results"

    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    command_id: Mapped[str] = mapped_column(String(128), index=True)
    case_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    site_id: Mapped[str] = mapped_column(String(128))
    camera_id: Mapped[str] = mapped_column(String(128))
    zone_id: Mapped[str] = mapped_column(String(128))
    result: Mapped[str] = mapped_column(String(10))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    payload: Mapped[str] = mapped_column(Text)


class Evidence(Base):
    """A JPEG proving an event. The row may exist before its bytes (`stored` false): the event named it
    first and the evidence message is still on its way."""

    __tablename__ = "evidence"

    evidence_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    event_id: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="annotated")
    size: Mapped[int] = mapped_column(Integer, default=0)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    stored: Mapped[bool] = mapped_column(Boolean, default=False, doc="bytes are in the evidence store")
    message_id: Mapped[str | None] = mapped_column(String(128), default=None, unique=True)
    site_id: Mapped[str] = mapped_column(String(128))
    camera_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    stored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class DeadLetter(Base):
    """A message central refused, with the reason; the payload is kept (truncated) for inspection."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc, index=True)
    topic: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(String(1000))
    message_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    site_id: Mapped[str | None] = mapped_column(String(128), default=None)
    camera_id: Mapped[str | None] = mapped_column(String(128), default=None)
    payload_size: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[bytes] = mapped_column(LargeBinary, doc="first DEAD_LETTER_KEEP_BYTES of the payload")


class EdgeStatus(Base):
    """The latest status of one edge camera (from its retained status topic or its last will)."""

    __tablename__ = "edge_status"

    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(20))
    source_state: Mapped[str] = mapped_column(String(200), default="")
    fps: Mapped[float] = mapped_column(Float, default=0.0)
    spool_depth: Mapped[int] = mapped_column(Integer, default=0)
    spool_bytes: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(String(1000), default="")
    sent_at: Mapped[float] = mapped_column(Float, default=0.0, doc="edge clock of the status applied")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)


class Outbox(Base):
    """A command for an edge, written in the transaction that decided it; the ingest service publishes it
    to `{prefix}/v1/{site}/{camera}/cmd` and sets `sent_at` after the broker's PUBACK."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(128), unique=True)
    command_id: Mapped[str] = mapped_column(String(128), index=True)
    site_id: Mapped[str] = mapped_column(String(128))
    camera_id: Mapped[str] = mapped_column(String(128))
    cmd: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    claimed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
