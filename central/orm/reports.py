"""Citizen reports: photos, a short video and text about a shop front (from its public board) or a place (typed
or from the phone), waiting in the operator queue; a confirmed one becomes a valid complaint against the shop (it counts
towards the grade) and towards the reporter's tally."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.domain.clock import now_utc
from central.orm.base import Base


class CitizenReport(Base):
    __tablename__ = "citizen_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True,
                                                doc="known from the board; else set by the operator")
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    place: Mapped[str] = mapped_column(String(300), default="", doc="where, as the citizen typed it")
    text: Mapped[str] = mapped_column(Text, default="")
    photos: Mapped[list[str]] = mapped_column(JSON, default=list, doc="evidence sha256s (cleaned JPEGs)")
    video: Mapped[str | None] = mapped_column(String(64), default=None, doc="evidence sha256 of the re-encoded MP4")
    video_frames: Mapped[list[str]] = mapped_column(JSON, default=list, doc="the video's key frames (JPEG sha256s)")
    contact: Mapped[str] = mapped_column(String(200), default="", doc="optional; the tally counts by it")
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open | confirmed | rejected
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc, index=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    complaint_id: Mapped[int | None] = mapped_column(Integer, default=None)


class ReportAllowance(Base):
    """Citizen reports counted per client and fixed window, shared by every central instance on the database
    (`central.domain.report_limits`). `client_key` is a keyed hash of the client's address, never the address."""

    __tablename__ = "report_allowances"

    client_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
