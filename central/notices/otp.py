"""Phone number + one-time code: an owner without their link asks for a code; it goes through the shop's
webhook gateway (the city's SMS service) like any notice, through the notice outbox; entering it opens
their page. Codes live `CODE_TTL`, allow `MAX_TRIES` guesses, and a phone gets `MAX_CODES` per
`CODES_WINDOW`. The answer never says whether a phone is registered. Functions flush, never commit."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.domain.clock import as_utc, now_utc
from central.notices.text import t
from central.orm.notices import NoticeDelivery, OwnerLoginCode, ShopChannel
from central.orm.shops import Shop
from central.settings import CentralSettings

CODE_TTL = timedelta(minutes=10)
MAX_TRIES = 5
MAX_CODES = 3
CODES_WINDOW = timedelta(minutes=15)


class TooManyCodes(Exception):
    pass


def normalize_phone(phone: str) -> str:
    """Digits only (a leading + kept): '138 0000-0000' → '13800000000'."""
    phone = phone.strip()
    digits = re.sub(r"\D", "", phone)
    return ("+" + digits) if phone.startswith("+") and digits else digits


def _hash(settings: CentralSettings, phone: str, code: str) -> str:
    return hmac.new(settings.owner_link_key.encode(), f"owner-code:{phone}:{code}".encode(),
                    hashlib.sha256).hexdigest()


def shops_for_phone(session: Session, phone: str) -> list[Shop]:
    stored = func.replace(func.replace(func.replace(Shop.phone, " ", ""), "-", ""), "+", "")
    return list(session.scalars(select(Shop).where(stored == phone.lstrip("+")).order_by(Shop.id)))


def request_code(session: Session, settings: CentralSettings, raw_phone: str, *, language: str,
                 now: datetime | None = None) -> bool:
    """Queue a code for the phone if a shop with a webhook channel has it; True if one was queued (the page
    does not tell the visitor). Raises TooManyCodes past the phone's allowance."""
    now = as_utc(now) or now_utc()
    phone = normalize_phone(raw_phone)
    if len(phone.lstrip("+")) < 5:
        return False
    recent = session.scalar(select(func.count()).where(OwnerLoginCode.phone == phone,
                                                       OwnerLoginCode.created_at >= now - CODES_WINDOW))
    if recent >= MAX_CODES:
        raise TooManyCodes(phone)
    shop_ids = [s.id for s in shops_for_phone(session, phone)]
    channel = session.scalar(select(ShopChannel).where(ShopChannel.shop_id.in_(shop_ids), ShopChannel.kind == "webhook",
                                                       ShopChannel.enabled.is_(True)).order_by(ShopChannel.id)
                             ) if shop_ids else None
    code = f"{secrets.randbelow(10**6):06d}"
    row = OwnerLoginCode(phone=phone, code_hash=_hash(settings, phone, code), created_at=now,
                         expires_at=now + CODE_TTL)
    session.add(row)  # recorded even for unknown phones: the allowance counts every request
    session.flush()
    if channel is None:
        return False
    login = f"{settings.public_base_url.rstrip('/')}/owner/login"
    session.add(NoticeDelivery(
        idempotency_key=f"owner-code-{row.id}", shop_id=channel.shop_id, audience="owner",
        route=f"shop_channel:{channel.id}", channel="webhook", recipient=phone, language=language,
        subject=t("login.subject", language), body=t("login.body", language, code=code,
                                                     minutes=int(CODE_TTL.total_seconds() // 60)),
        link=login, next_attempt_at=now, created_at=now))
    session.flush()
    return True


def verify(session: Session, settings: CentralSettings, raw_phone: str, code: str, *,
           now: datetime | None = None) -> list[Shop]:
    """The shops the phone opens if `code` is its newest live code; [] otherwise (each wrong guess counts)."""
    now = as_utc(now) or now_utc()
    phone = normalize_phone(raw_phone)
    row = session.scalar(select(OwnerLoginCode).where(OwnerLoginCode.phone == phone, OwnerLoginCode.used_at.is_(None))
                         .order_by(OwnerLoginCode.id.desc()).limit(1).with_for_update())
    if row is None or as_utc(row.expires_at) < now or row.attempts >= MAX_TRIES:
        return []
    if not hmac.compare_digest(row.code_hash, _hash(settings, phone, code.strip())):
        row.attempts += 1
        session.flush()
        return []
    row.used_at = now
    session.flush()
    return shops_for_phone(session, phone)
