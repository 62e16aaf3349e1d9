"""The case state machine.

    detected ──confirm──► notified ──window expires──► rechecking ──clear──► rectified (closed)
        │                    │   (fixed camera: recheck command)    │──present──► escalated (officer task)
        │                    └──(drone / no camera)──► officer_recheck ◄──timeout / unknown
        └──dismiss──► dismissed (closed)
    strike ≥ 3 without a penalty: a clear result leads to penalty_due instead of closing; `close_case`
    refuses (PenaltyRequired) until `record_penalty`.

Every change writes an audit record. Functions flush but never commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from central.domain import audit, strikes
from central.domain.clock import as_utc, from_unix, now_utc
from central.domain.errors import InvalidTransition, NotFound
from central.domain.scope import EVERYWHERE, Scope
from central.orm.cases import Case, CaseEvent, Notice
from central.orm.shops import Camera, Shop
from central.settings import CentralSettings
from wire.ids import new_id
from wire.schema import EventMessage, RecheckResult

log = logging.getLogger("doorline.central.cases")


def get_case(session: Session, case_id: str, *, lock: bool = False, scope: Scope = EVERYWHERE) -> Case:
    """The case; with `lock`, its row is locked (PostgreSQL) and re-read, so a decision is taken on the
    latest committed state even when the ticker or another worker changes the same case concurrently. A case
    of a shop outside `scope` is not found."""
    if not scope.everywhere:
        shop_id = session.scalar(select(Case.shop_id).where(Case.id == case_id))
        scope.check_shop_id(session, shop_id, f"case {case_id!r}")
    opts: dict[str, Any] = {"with_for_update": True, "populate_existing": True} if lock else {}
    case = session.get(Case, case_id, **opts)
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    return case


def _evidence(msg: EventMessage | RecheckResult) -> list[str]:
    return [e.sha256 for e in msg.evidence]


def _set_state(
    session: Session,
    case: Case,
    state: str,
    *,
    actor: str,
    action: str,
    now: datetime,
    details: dict[str, Any] | None = None,
    evidence: list[str] | None = None,
) -> None:
    old = case.state
    case.state = state
    if state in ("rectified", "resolved", "dismissed"):
        case.is_open = False
        case.closed_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        case_id=case.id,
        shop_id=case.shop_id,
        at=now,
        details={"from": old, "to": state, **(details or {})},
        evidence=evidence,
    )


# ---------------------------------------------------------------- events


def find_open_case(session: Session, shop_id: str, violation: str) -> Case | None:
    return session.scalar(
        select(Case).where(Case.shop_id == shop_id, Case.violation == violation, Case.is_open.is_(True))
    )


def case_for_episode(session: Session, event_id: str) -> Case | None:
    return session.scalar(
        select(Case).join(CaseEvent, CaseEvent.case_id == Case.id).where(CaseEvent.event_id == event_id)
    )


def attach_event(
    session: Session,
    shop_id: str,
    msg: EventMessage,
    settings: CentralSettings,
    *,
    now: datetime | None = None,
    actor: str = "edge",
) -> Case:
    """Put one event phase on the shop's open case for its violation, opening one if there is none."""
    now = as_utc(now) or now_utc()
    seen = from_unix(msg.ts)
    case = case_for_episode(session, msg.event_id)
    if case is not None:
        _touch(session, case, msg, seen, now, actor)
        return case
    case = find_open_case(session, shop_id, msg.violation)
    if case is None:
        case = _open_case(session, shop_id, msg, seen, now, actor)
        if case.event_count == 0:  # freshly opened (not a concurrent writer's case)
            session.add(CaseEvent(case_id=case.id, event_id=msg.event_id, attached_at=now))
            case.event_count = 1
            session.flush()
            _maybe_auto_confirm(session, case, msg, settings, now)
            return case
    session.add(CaseEvent(case_id=case.id, event_id=msg.event_id, attached_at=now))
    case.event_count += 1
    case.last_seen_at = max(as_utc(case.last_seen_at) or seen, seen)
    case.score = max(case.score, msg.score)
    case.evidence = [*case.evidence, *_evidence(msg)]
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="case.attach",
        case_id=case.id,
        shop_id=shop_id,
        at=now,
        details={"event_id": msg.event_id, "phase": msg.phase, "score": msg.score},
        evidence=_evidence(msg),
    )
    return case


def _open_case(session: Session, shop_id: str, msg: EventMessage, seen: datetime, now: datetime, actor: str) -> Case:
    case = Case(
        id=new_id(),
        shop_id=shop_id,
        violation=msg.violation,
        state="detected",
        is_open=True,
        site_id=msg.site_id,
        camera_id=msg.camera_id,
        zone_id=msg.zone_id,
        source_kind=msg.source_kind,
        lat=msg.geo.lat if msg.geo else None,
        lon=msg.geo.lon if msg.geo else None,
        score=msg.score,
        event_count=0,
        evidence=_evidence(msg),
        opened_at=now,
        first_seen_at=seen,
        last_seen_at=seen,
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        # another writer opened the case for this (shop, violation) first: use theirs
        other = find_open_case(session, shop_id, msg.violation)
        if other is None:
            raise
        return other
    audit.record(
        session,
        actor=actor,
        action="case.open",
        case_id=case.id,
        shop_id=shop_id,
        at=now,
        details={
            "violation": msg.violation,
            "event_id": msg.event_id,
            "camera_id": msg.camera_id,
            "zone_id": msg.zone_id,
            "source_kind": msg.source_kind,
            "score": msg.score,
        },
        evidence=_evidence(msg),
    )
    return case


def _touch(session: Session, case: Case, msg: EventMessage, seen: datetime, now: datetime, actor: str) -> None:
    before = (as_utc(case.last_seen_at), case.score)
    case.last_seen_at = max(as_utc(case.last_seen_at) or seen, seen)
    case.score = max(case.score, msg.score)
    ev = _evidence(msg)
    if ev:
        case.evidence = [*case.evidence, *ev]
    # only an end that saw the zone clear says the goods went; an end because the edge stopped watching
    # (stopped, end of file, zone removed, ...) closes the episode and leaves the case as it is
    ended = msg.goods_cleared and case.is_open
    closed = msg.phase == "end" and not msg.goods_cleared
    if ended:
        case.end_seen_at = seen
    session.flush()
    seen_again = (as_utc(case.last_seen_at), case.score) != before
    if ended or closed or ev or seen_again:  # every change of a case leaves a record, even a later last-seen time
        details = {"event_id": msg.event_id, "phase": msg.phase, "state": case.state,
                   "last_seen_at": as_utc(case.last_seen_at).isoformat(), "score": case.score}
        if closed:
            details["end_reason"] = msg.end_reason
        audit.record(
            session,
            actor=actor,
            action=("case.episode_end" if ended else "case.episode_closed" if closed
                    else "case.evidence" if ev else "case.seen"),
            case_id=case.id,
            shop_id=case.shop_id,
            at=now,
            details=details,
            evidence=ev,
        )


def _maybe_auto_confirm(
    session: Session, case: Case, msg: EventMessage, settings: CentralSettings, now: datetime
) -> None:
    if settings.auto_confirm_score is None or msg.score < settings.auto_confirm_score:
        return
    cam = session.get(Camera, msg.camera_id)
    if cam is not None and cam.trusted:
        confirm(
            session,
            case.id,
            actor="auto",
            settings=settings,
            now=now,
            note=f"trusted camera, score {msg.score:.2f} ≥ {settings.auto_confirm_score:.2f}",
        )


# ---------------------------------------------------------------- operator decisions


def confirm(
    session: Session,
    case_id: str,
    *,
    actor: str,
    settings: CentralSettings,
    now: datetime | None = None,
    note: str = "",
    scope: Scope = EVERYWHERE,
) -> Case:
    """Operator (or auto-confirm) accepts the alert: count the strike, notify the owner, open the window."""
    now = as_utc(now) or now_utc()
    if not scope.everywhere:
        shop_id = session.scalar(select(Case.shop_id).where(Case.id == case_id))
        scope.check_shop_id(session, shop_id, f"case {case_id!r}")
    # a detected case has no notices, tasks or penalties yet: lock the row without loading them (and the shop
    # without its zones); every query saved here is saved on each confirmation
    case = session.get(Case, case_id, with_for_update=True, populate_existing=True, options=[lazyload("*")])
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    if case.state != "detected":
        raise InvalidTransition(f"case {case_id} is {case.state}; only a detected case can be confirmed")
    strike = strikes.prior_strikes(session, case.shop_id, now, settings, exclude_case=case.id) + 1
    kind = strikes.notice_kind(strike)
    shop = session.get(Shop, case.shop_id, options=[lazyload("*")])
    case.confirmed_at, case.confirmed_by, case.strike = now, actor, strike
    case.notified_at = now
    case.window_ends_at = now + timedelta(seconds=settings.self_rectify_window_s)
    notice = Notice(case_id=case.id, shop_id=case.shop_id, kind=kind, strike=strike, created_at=now,
                    recipient=f"{shop.owner} {shop.phone}".strip() if shop else "",
                    text=strikes.notice_text(kind, strike=strike, violation=case.violation, settings=settings,
                                             deadline=case.window_ends_at))
    session.add(notice)
    session.flush()
    session.expire(case, ["notices"])  # loaded again, with this notice, when next read
    if shop is not None:
        from central.notices.outbox import enqueue_notice  # delivery rows commit with the notice, or neither

        enqueue_notice(session, notice, case=case, shop=shop, settings=settings, now=now)
    from central.domain import grades  # grades import cases' tables, not this module

    # regrade before the audit record: from that record to the commit this transaction holds the audit
    # chain's head row, which every other writer waits for
    grades.regrade_shops(session, [case.shop_id], now=now, settings=settings, reason_prefix="case confirmed")
    _set_state(session, case, "notified", actor=actor, action="case.confirm", now=now,
               details={"strike": strike, "notice": kind, "window_ends_at": case.window_ends_at.isoformat(),
                        "note": note})
    return case


def dismiss(session: Session, case_id: str, *, actor: str, reason: str, now: datetime | None = None,
            scope: Scope = EVERYWHERE) -> Case:
    now = as_utc(now) or now_utc()
    case = get_case(session, case_id, lock=True, scope=scope)
    if case.state != "detected":
        raise InvalidTransition(f"case {case_id} is {case.state}; only a detected case can be dismissed")
    case.closed_reason = reason
    _set_state(session, case, "dismissed", actor=actor, action="case.dismiss", now=now, details={"reason": reason})
    return case
