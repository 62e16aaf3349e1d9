"""Shop-owner links: `<shop id>.<version>.<signature>`, signed with `settings.owner_link_secret` (not the
operators' `secret_key`). Each shop's `OwnerLink.version` is part of the signature: an operator revokes a
link by raising the version (no link opens until one is re-issued) or re-issues one (a new version)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.domain.clock import now_utc
from central.orm.notices import OwnerLink
from central.settings import CentralSettings

SIG_LEN = 32  # hex characters (128 bits)


def _sig(secret: str, shop_id: str, version: int) -> str:
    return hmac.new(secret.encode(), f"owner-link:{shop_id}:{version}".encode(), hashlib.sha256).hexdigest()[:SIG_LEN]


def _row(session: Session, shop_id: str) -> OwnerLink:
    row = session.get(OwnerLink, shop_id)
    if row is None:
        try:
            with session.begin_nested():  # two cases of one shop confirmed at once both make the first row
                row = OwnerLink(shop_id=shop_id, version=1, revoked=False)
                session.add(row)
                session.flush()
        except IntegrityError:
            row = session.get(OwnerLink, shop_id, populate_existing=True)
            if row is None:
                raise
    return row


def owner_token(session: Session, settings: CentralSettings, shop_id: str) -> str | None:
    """The current link token of a shop (made on first use), or None while it is revoked."""
    row = _row(session, shop_id)
    if row.revoked:
        return None
    return f"{shop_id}.{row.version}.{_sig(settings.owner_link_key, shop_id, row.version)}"


def owner_url(session: Session, settings: CentralSettings, shop_id: str) -> str | None:
    token = owner_token(session, settings, shop_id)
    return None if token is None else f"{settings.public_base_url.rstrip('/')}/owner/{token}"


def shop_for_token(session: Session, settings: CentralSettings, token: str) -> str | None:
    """The shop id a valid, current, unrevoked token opens; None for anything else."""
    shop_id, _, rest = token.rpartition(".")  # shop ids may contain dots; version and signature do not
    shop_id, _, version_s = shop_id.rpartition(".")
    sig = rest
    if not shop_id or not version_s.isdigit() or len(sig) != SIG_LEN:
        return None
    version = int(version_s)
    ok = any(hmac.compare_digest(sig, _sig(secret, shop_id, version))
             for secret in [settings.owner_link_key, *settings.owner_link_old_secrets])
    if not ok:
        return None
    row = session.get(OwnerLink, shop_id)
    if row is None or row.revoked or row.version != version:
        return None
    return shop_id


def revoke(session: Session, shop_id: str, *, actor: str, now: datetime | None = None) -> None:
    row = _row(session, shop_id)
    row.version += 1
    row.revoked = True
    row.issued_by, row.issued_at = actor, now or now_utc()
    session.flush()


def reissue(session: Session, settings: CentralSettings, shop_id: str, *, actor: str,
            now: datetime | None = None) -> str:
    """A new link for the shop; every earlier one stops working. Returns the new URL."""
    row = _row(session, shop_id)
    row.version += 1
    row.revoked = False
    row.issued_by, row.issued_at = actor, now or now_utc()
    session.flush()
    url = owner_url(session, settings, shop_id)
    assert url is not None
    return url
