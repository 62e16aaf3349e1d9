"""The notice outbox: one `NoticeDelivery` row per notice and channel, written in the caller's transaction
(the one that confirmed the case), drained by `central.notices.sender`.

Claiming takes a lease: the row is the claimer's until `lease_until`; an instance that dies holding rows
gives them up when the lease runs out. On PostgreSQL candidates are read `FOR UPDATE SKIP LOCKED`, and on
both databases each row is taken by a conditional UPDATE, so two instances never hold the same row.
Failures are retried with exponential backoff; after `notices.max_attempts` the row is a dead letter
(`status='dead'`) until an operator re-sends it.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from central.domain.clock import as_utc, now_utc, to_local
from central.notices.channels import Envelope, Route
from central.notices.links import owner_url
from central.notices.text import CATALOG, appeal_message, t
from central.orm.cases import APPEAL_NOTICE_KINDS, Case, Notice
from central.orm.notices import NoticeDelivery, OfficerContact, ShopChannel
from central.orm.shops import Shop
from central.settings import CentralSettings

log = logging.getLogger("doorline.central.notices")


def _local(dt: datetime | None, settings: CentralSettings) -> str:
    return "—" if dt is None else to_local(dt, settings.timezone).strftime("%Y-%m-%d %H:%M")


def officer_contacts(session: Session, shop: Shop) -> list[OfficerContact]:
    """The officers for the shop's street: contacts for its road if there are any, else for its area."""
    rows = list(session.scalars(
        select(OfficerContact).where(OfficerContact.enabled.is_(True), OfficerContact.area == shop.area)
        .order_by(OfficerContact.id)))
    on_road = [r for r in rows if r.road and r.road == shop.road]
    return on_road or [r for r in rows if not r.road]


def _values(case: Case, notice: Notice, shop: Shop, settings: CentralSettings, lang: str) -> dict[str, object]:
    return {
        "kind": t(f"kind.{notice.kind}", lang),
        "violation": t(f"violation.{case.violation}", lang) if f"violation.{case.violation}" in CATALOG
        else case.violation.replace("_", " "),
        "shop": shop.name, "address": shop.address or shop.road or "—", "owner": shop.owner or shop.name,
        "when": _local(case.first_seen_at or case.opened_at, settings),
        "deadline": _local(case.window_ends_at, settings),
        "strike": notice.strike, "window_days": settings.strike_window_days,
        "grade": t(f"grade.{shop.grade}" if shop.grade in ("red", "yellow", "green") else "grade.none", lang),
    }


def _next_step(case: Case, now: datetime) -> str:
    """What follows a rejected appeal, as a catalog key: the window still running, over, or the case closed."""
    if not case.is_open:
        return "appeal.next.closed"
    if case.window_ends_at is not None and as_utc(case.window_ends_at) > now:
        return "appeal.next.deadline"
    return "appeal.next.passed"


def owner_message(notice: Notice, *, case: Case, shop: Shop, settings: CentralSettings, lang: str, link: str = "",
                  note: str = "", now: datetime | None = None) -> tuple[str, str]:
    """Subject and body of `notice` for the shop owner in `lang`."""
    values = _values(case, notice, shop, settings, lang)
    if notice.kind in APPEAL_NOTICE_KINDS.values():
        now = as_utc(now) or now_utc()
        rejected = notice.kind == APPEAL_NOTICE_KINDS["rejected"]
        return appeal_message(notice.kind, lang, **values, link=link, note=note if rejected else "",
                              next_step=_next_step(case, now) if rejected else None)
    return t("owner.subject", lang, **values), t("owner.body", lang, **values, link=link)


def enqueue_notice(session: Session, notice: Notice, *, case: Case, shop: Shop, settings: CentralSettings,
                   now: datetime | None = None, note: str = "") -> list[NoticeDelivery]:
    """Queue `notice` to every enabled channel of the shop and (strike notices) to the street's officers;
    an appeal decision is the owner's alone, with the reviewer's `note`. Flushes; the caller's commit makes
    the notice and its deliveries exist together, or neither."""
    now = as_utc(now) or now_utc()
    if notice.id is None:
        session.flush()
    link = owner_url(session, settings, shop.id) or ""
    rows: list[NoticeDelivery] = []
    channels = session.scalars(select(ShopChannel).where(ShopChannel.shop_id == shop.id,
                                                         ShopChannel.enabled.is_(True)).order_by(ShopChannel.id))
    for ch in channels:
        subject, body = owner_message(notice, case=case, shop=shop, settings=settings, lang=ch.language, link=link,
                                      note=note, now=now)
        rows.append(NoticeDelivery(
            idempotency_key=f"notice-{notice.id}-shop_channel-{ch.id}", notice_id=notice.id, case_id=case.id,
            shop_id=shop.id, audience="owner", route=f"shop_channel:{ch.id}", channel=ch.kind,
            language=ch.language, subject=subject, body=body, link=link, recipient=shop.phone or "",
            next_attempt_at=now,
            created_at=now))
    case_link = f"{settings.public_base_url.rstrip('/')}/console/cases/{case.id}"
    officers = [] if notice.kind in APPEAL_NOTICE_KINDS.values() else officer_contacts(session, shop)
    for oc in officers:
        values = _values(case, notice, shop, settings, oc.language)
        rows.append(NoticeDelivery(
            idempotency_key=f"notice-{notice.id}-officer_contact-{oc.id}", notice_id=notice.id, case_id=case.id,
            shop_id=shop.id, audience="officer", route=f"officer_contact:{oc.id}", channel=oc.kind,
            language=oc.language, subject=t("officer.subject", oc.language, **values),
            body=t("officer.body", oc.language, **values, officer=oc.name or "", link=case_link),
            link=case_link, recipient=oc.name or "", next_attempt_at=now, created_at=now))
    session.add_all(rows)
    session.flush()
    return rows


def envelope(row: NoticeDelivery) -> Envelope:
    return Envelope(idempotency_key=row.idempotency_key, audience=row.audience, shop_id=row.shop_id,
                    case_id=row.case_id, language=row.language, subject=row.subject, body=row.body, link=row.link,
                    recipient=row.recipient or "")


_ROUTE_TABLES = {"shop_channel": ShopChannel, "officer_contact": OfficerContact}


def resolve_routes(session: Session, rows: list[NoticeDelivery]) -> dict[int, Route | None]:
    """Row id → its destination as configured now (a rotated webhook secret applies to queued notices);
    None when the channel or contact is gone or disabled. One query per table for the whole batch."""
    wanted: dict[str, set[int]] = {}
    for row in rows:
        kind, _, ident = row.route.partition(":")
        if kind in _ROUTE_TABLES and ident.isdigit():
            wanted.setdefault(kind, set()).add(int(ident))
    found = {(kind, t.id): t for kind, ids in wanted.items()
             for t in session.scalars(select(_ROUTE_TABLES[kind]).where(_ROUTE_TABLES[kind].id.in_(ids)))}
    out: dict[int, Route | None] = {}
    for row in rows:
        kind, _, ident = row.route.partition(":")
        target = found.get((kind, int(ident))) if ident.isdigit() else None
        if target is None or not target.enabled:
            out[row.id] = None
            continue
        scope, topic_id = ("shop", row.shop_id or "") if kind == "shop_channel" else ("officer", ident)
        out[row.id] = Route(kind=target.kind, target=target.target, secret=target.secret,
                            config=target.config or {}, ref=row.route, topic_scope=scope, topic_id=topic_id)
    return out


def resolve_route(session: Session, row: NoticeDelivery) -> Route | None:
    return resolve_routes(session, [row])[row.id]


def claim(session: Session, owner: str, settings: CentralSettings, *, limit: int = 50,
          now: datetime | None = None) -> list[NoticeDelivery]:
    """Take up to `limit` due rows for `owner` under a lease. Commits."""
    now = as_utc(now) or now_utc()
    lease_until = now + timedelta(seconds=settings.notices.lease_s)
    free = or_(NoticeDelivery.lease_until.is_(None), NoticeDelivery.lease_until < now)
    due = and_(NoticeDelivery.status == "pending", NoticeDelivery.next_attempt_at <= now, free)
    ids = session.scalars(select(NoticeDelivery.id).where(due).order_by(NoticeDelivery.next_attempt_at,
                                                                         NoticeDelivery.id)
                          .limit(limit).with_for_update(skip_locked=True)).all()
    if not ids:
        session.commit()
        return []
    # one conditional UPDATE for the batch: a row another instance took meanwhile no longer matches `due`
    won = session.scalars(update(NoticeDelivery).where(NoticeDelivery.id.in_(ids), due)
                          .values(claimed_by=owner, lease_until=lease_until, attempts=NoticeDelivery.attempts + 1)
                          .returning(NoticeDelivery.id).execution_options(synchronize_session=False)).all()
    session.commit()
    if not won:
        return []
    return list(session.scalars(select(NoticeDelivery).where(NoticeDelivery.id.in_(won))
                                .order_by(NoticeDelivery.id).execution_options(populate_existing=True)))


def _mine(row_id: int, owner: str):
    return and_(NoticeDelivery.id == row_id, NoticeDelivery.claimed_by == owner,
                NoticeDelivery.status == "pending")


def mark_sent(session: Session, row_id: int, owner: str, now: datetime | None = None) -> bool:
    res = session.execute(update(NoticeDelivery).where(_mine(row_id, owner))
                          .values(status="sent", sent_at=as_utc(now) or now_utc(), lease_until=None,
                                  last_error=None))
    session.commit()
    return res.rowcount == 1


def mark_sent_many(session: Session, row_ids: list[int], owner: str, now: datetime | None = None) -> int:
    """Mark the rows `owner` still holds as sent; returns how many. Commits."""
    if not row_ids:
        return 0
    res = session.execute(update(NoticeDelivery)
                          .where(NoticeDelivery.id.in_(row_ids), NoticeDelivery.claimed_by == owner,
                                 NoticeDelivery.status == "pending")
                          .values(status="sent", sent_at=as_utc(now) or now_utc(), lease_until=None, last_error=None)
                          .execution_options(synchronize_session=False))
    session.commit()
    return res.rowcount


def backoff(settings: CentralSettings, attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before attempt `attempts + 1`: backoff_s · 2^(attempts-1), capped, ±20 % jitter."""
    base = min(settings.notices.backoff_max_s, settings.notices.backoff_s * 2 ** max(0, attempts - 1))
    return base * (rng or random).uniform(0.8, 1.2)


def mark_failed(session: Session, row: NoticeDelivery, owner: str, error: str, *, permanent: bool,
                settings: CentralSettings, now: datetime | None = None) -> str:
    """Retry later, or make it a dead letter (permanent error, or out of attempts). Returns the new status."""
    now = as_utc(now) or now_utc()
    dead = permanent or row.attempts >= settings.notices.max_attempts
    values: dict[str, object] = {"last_error": error[:1000], "lease_until": None, "claimed_by": None}
    if dead:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = now + timedelta(seconds=backoff(settings, row.attempts))
    session.execute(update(NoticeDelivery).where(_mine(row.id, owner)).values(**values))
    session.commit()
    status = "dead" if dead else "pending"
    if dead:
        log.warning("notice %s (%s) is a dead letter after %d attempt(s): %s", row.idempotency_key, row.channel,
                    row.attempts, error)
    return status


def resend(session: Session, row_id: int, *, now: datetime | None = None) -> NoticeDelivery:
    """An operator sends a dead letter again: back to pending, attempts from zero, due now. Flushes."""
    from central.domain.errors import InvalidTransition, NotFound

    row = session.get(NoticeDelivery, row_id)
    if row is None:
        raise NotFound(f"no notice delivery {row_id}")
    if row.status != "dead":
        raise InvalidTransition(f"notice delivery {row_id} is {row.status}; only a dead letter can be re-sent")
    row.status, row.attempts, row.claimed_by, row.lease_until = "pending", 0, None, None
    row.next_attempt_at = as_utc(now) or now_utc()
    session.flush()
    return row
