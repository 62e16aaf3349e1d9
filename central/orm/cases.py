"""Cases and what hangs off them: attached events, notices, officer tasks, penalties; the ownerless queue;
citizen complaints (they count towards grades)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from central.domain.clock import now_utc
from central.orm.base import Base

# Case states. Open: detected, notified, rechecking, officer_recheck, escalated, penalty_due.
# Closed: rectified, resolved, dismissed, annulled (an upheld appeal).
OPEN_STATES = ("detected", "notified", "rechecking", "officer_recheck", "escalated", "penalty_due")
CLOSED_STATES = ("rectified", "resolved", "dismissed", "annulled")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # one open case per (shop, violation); closed cases do not take part
        Index(
            "uq_cases_open_shop_violation",
            "shop_id",
            "violation",
            unique=True,
            sqlite_where=text("is_open = 1"),
            postgresql_where=text("is_open"),
        ),
        Index("ix_cases_state_window", "state", "window_ends_at"),
        Index("ix_cases_shop_confirmed", "shop_id", "confirmed_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id"), index=True)
    violation: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default="detected")
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    site_id: Mapped[str | None] = mapped_column(String(128), default=None)
    camera_id: Mapped[str | None] = mapped_column(String(128), default=None)
    zone_id: Mapped[str | None] = mapped_column(String(128), default=None)
    source_kind: Mapped[str] = mapped_column(String(10), default="fixed")
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    score: Mapped[float] = mapped_column(Float, default=0.0, doc="highest event score seen")
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list, doc="evidence sha256s, oldest first")
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc, index=True)
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    confirmed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    strike: Mapped[int | None] = mapped_column(Integer, default=None, doc="1, 2, 3... in the rolling window")
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    window_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    end_seen_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, doc="the edge reported the episode ended"
    )
    recheck_command_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    recheck_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    recheck_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    recheck_result: Mapped[str | None] = mapped_column(String(10), default=None)
    self_rectified: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    closed_reason: Mapped[str | None] = mapped_column(Text, default=None)

    notices: Mapped[list[Notice]] = relationship(back_populates="case", lazy="selectin", order_by="Notice.id")
    tasks: Mapped[list[OfficerTask]] = relationship(back_populates="case", lazy="selectin", order_by="OfficerTask.id")
    penalties: Mapped[list[Penalty]] = relationship(back_populates="case", lazy="selectin", order_by="Penalty.id")


class CaseEvent(Base):
    """Which event episodes (`events.event_id`) belong to which case."""

    __tablename__ = "case_events"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    attached_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)


class OwnerlessEvent(Base):
    """An event episode that matched no shop, waiting for an operator to assign it."""

    __tablename__ = "ownerless_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(128))
    camera_id: Mapped[str] = mapped_column(String(128))
    zone_id: Mapped[str | None] = mapped_column(String(128), default=None)
    reported_shop_id: Mapped[str | None] = mapped_column(String(128), default=None)
    violation: Mapped[str] = mapped_column(String(40))
    source_kind: Mapped[str] = mapped_column(String(10), default="fixed")
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open | assigned | dismissed
    shop_id: Mapped[str | None] = mapped_column(String(64), default=None)
    case_id: Mapped[str | None] = mapped_column(String(64), default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(100), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


# the notice telling an owner how a reviewer decided their appeal (`central.domain.appeals.decide`)
APPEAL_NOTICE_KINDS = {"upheld": "appeal_upheld", "rejected": "appeal_rejected"}


class Notice(Base):
    """Sent to the shop owner: advice (1st strike), rectification notice (2nd), penalty notice (3rd+), and
    the decision on an appeal (`APPEAL_NOTICE_KINDS`; `strike` is then the appealed case's)."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    shop_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    strike: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)

    case: Mapped[Case] = relationship(back_populates="notices")


class OfficerTask(Base):
    """Work for an officer on the street: a recheck the cameras cannot do, or an escalated case."""

    __tablename__ = "officer_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    shop_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # recheck | escalation | penalty
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open | done
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    done_by: Mapped[str | None] = mapped_column(String(100), default=None)
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)  # clear | present
    note: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(back_populates="tasks")


class Penalty(Base):
    __tablename__ = "penalties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    shop_id: Mapped[str] = mapped_column(String(64), index=True)
    ticket_no: Mapped[str] = mapped_column(String(100))
    amount: Mapped[float] = mapped_column(Float, default=0.0)
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    note: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(back_populates="penalties")


class Complaint(Base):
    """A citizen report about a shop (e.g. from the QR code on its grade board); counts towards its grade."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc, index=True)
    source: Mapped[str] = mapped_column(String(30), default="citizen")
    text: Mapped[str] = mapped_column(Text, default="")
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
