"""Delivering notices: where each shop and each street officer wants them (channels), the notice outbox the
sender drains, the owner links (a version counter per shop, so a link can be revoked and re-issued), and
the owners' appeals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.domain.clock import now_utc
from central.orm.base import Base

CHANNEL_KINDS = ("webhook", "email", "mqtt", "webpush")
DELIVERY_STATES = ("pending", "sent", "dead")


class ShopChannel(Base):
    """One way to reach a shop owner. `target`: webhook URL, e-mail address, MQTT topic suffix (default the
    shop id) or Web Push endpoint; `secret`: the webhook's HMAC key; `config`: the Web Push subscription."""

    __tablename__ = "shop_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(1000), default="")
    secret: Mapped[str] = mapped_column(String(200), default="")
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)


class OfficerContact(Base):
    """The street officer for an area (and optionally one road of it), reached through the same channels."""

    __tablename__ = "officer_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    area: Mapped[str] = mapped_column(String(200), index=True)
    road: Mapped[str] = mapped_column(String(200), default="", doc="'' = the whole area")
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(1000), default="")
    secret: Mapped[str] = mapped_column(String(200), default="")
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class NoticeDelivery(Base):
    """One message to one channel: written in the transaction that changed the case, sent by the notice
    sender. `idempotency_key` goes to the channel with every attempt, so a receiver can drop a repeat."""

    __tablename__ = "notice_outbox"
    __table_args__ = (Index("ix_notice_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"), default=None,
                                                  index=True)
    case_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    shop_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    audience: Mapped[str] = mapped_column(String(10), doc="owner | officer")
    route: Mapped[str] = mapped_column(String(40), doc="shop_channel:<id> | officer_contact:<id>")
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(200), default="", doc="the shop's phone, the officer's name")
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    claimed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class OwnerLink(Base):
    """The current version of a shop's owner link; a link carrying an older version no longer opens."""

    __tablename__ = "owner_links"

    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    issued_by: Mapped[str] = mapped_column(String(100), default="system")


class Appeal(Base):
    """An owner disputes a case from their page; it waits in the review queue."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    shop_id: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open | upheld | rejected
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class OwnerLoginCode(Base):
    """A one-time code sent to a shop owner's phone through the shop's webhook (SMS) gateway; entering it
    opens the owner's page without the link. Only a keyed hash of the code is kept here."""

    __tablename__ = "owner_login_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(50), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
