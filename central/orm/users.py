"""Operator accounts (viewer < reviewer < admin) and per-edge credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from central.domain.clock import now_utc
from central.orm.base import Base

# each role can do everything the ones before it can; an officer works in the field (today's tasks, inspections,
# recheck results with photos) on the /officer pages
ROLES: tuple[str, ...] = ("viewer", "officer", "reviewer", "admin")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    token_version: Mapped[int] = mapped_column(Integer, default=0,
                                               doc="bumped on password change; older tokens stop working")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # the district / street this account works in (None: everywhere); an officer's pages show only its shops
    scope_area: Mapped[str | None] = mapped_column(String(200), default=None)
    scope_road: Mapped[str | None] = mapped_column(String(200), default=None)


class EdgeCredential(Base):
    """What one edge box may speak for: its site and cameras. The secret is stored as an argon2 hash only."""

    __tablename__ = "edge_credentials"

    edge_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(128), index=True)
    camera_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_hash: Mapped[str] = mapped_column(String(200))
    mqtt_password_line: Mapped[str] = mapped_column(String(300), default="",
                                                    doc="the same secret as a Mosquitto `passwd` line ($7$)")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
