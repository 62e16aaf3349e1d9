"""The case audit trail: one row per change, each sealed by a SHA-256 over its own content and the
previous row's hash, so an edited, inserted or deleted row breaks the chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.orm.base import Base


class AuditRecord(Base):
    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    case_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    shop_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    details: Mapped[str] = mapped_column(Text, doc="canonical JSON, exactly the text that was hashed")
    evidence: Mapped[str] = mapped_column(Text, default="[]", doc="canonical JSON list of sha256")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """Single row holding the chain's tip. Appends update it first, which serialises writers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
