"""Grade history, inspections (with their checklist scores) and hot spots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.domain.clock import now_utc
from central.orm.base import Base


class GradeChange(Base):
    __tablename__ = "grade_changes"
    __table_args__ = (Index("ix_grade_changes_shop_at", "shop_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc, index=True)
    old_grade: Mapped[str | None] = mapped_column(String(10), default=None)
    new_grade: Mapped[str] = mapped_column(String(10))
    rule_set: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)


class Inspection(Base):
    """An officer's visit with the three-category checklist; each score 0–100 (100 = excellent)."""

    __tablename__ = "inspections"
    __table_args__ = (Index("ix_inspections_shop_at", "shop_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    inspector: Mapped[str] = mapped_column(String(100))
    waste: Mapped[float] = mapped_column(Float)
    sanitation: Mapped[float] = mapped_column(Float, doc="door-front sanitation")
    advertising: Mapped[float] = mapped_column(Float, doc="outdoor advertising")
    result: Mapped[str] = mapped_column(String(10), doc="red | yellow | green face from the checklist")
    notes: Mapped[str] = mapped_column(Text, default="")
    items: Mapped[dict[str, float] | None] = mapped_column(
        JSON, default=None, doc="checklist item → points earned (central/rules/inspection_checklist.yaml)")
    photos: Mapped[list[str] | None] = mapped_column(JSON, default=list, doc="evidence sha256s taken on the visit")


class HotSpot(Base):
    """An address that reached the ticket threshold; active until it has no open case."""

    __tablename__ = "hot_spots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(300), index=True)
    road: Mapped[str] = mapped_column(String(200), default="")
    area: Mapped[str] = mapped_column(String(200), default="")
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None, index=True)
    tickets: Mapped[int] = mapped_column(Integer, doc="tickets in the window when last refreshed")
    open_cases: Mapped[int] = mapped_column(Integer, default=0)


class JobLease(Base):
    """When a periodic job (hot spots, grade refresh) last ran, shared by every central instance: the one
    that locks the row and finds the job due runs it, in the same transaction as the job's writes."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    holder: Mapped[str] = mapped_column(String(200), default="")
