"""Deciding an owner's appeal. Rejected: recorded, nothing else changes. Upheld: the case is annulled (a closed
state, like dismissed) and stops counting as a violation (`strikes.counting_filter`), so:

- its open officer tasks (recheck, escalation, penalty) are closed as annulled, no penalty is due for it;
- the shop's later cases in the strike window are renumbered by the same function that numbered them
  (`strikes.prior_strikes` at their confirmation time + 1); one waiting for a penalty it no longer needs
  (strike < 3 now) has its penalty task closed and is closed as rectified;
- the shop is regraded.

A penalty ticket already recorded on the annulled case is listed in the audit record as void. Every change
is audited. Either way the owner is told, in the same transaction (`central.notices.outbox`): upheld, that
the strike is annulled and their grade now; rejected, the reviewer's note and what follows (the
rectification deadline still applies). Functions flush, never commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.domain import audit, strikes
from central.domain.cases import get_case
from central.domain.clock import as_utc, now_utc
from central.domain.errors import InvalidTransition, NotFound
from central.orm.cases import APPEAL_NOTICE_KINDS, Case, Notice
from central.orm.notices import Appeal
from central.orm.shops import Shop
from central.settings import CentralSettings

ANNULLED = "annulled"


def decide(session: Session, appeal_id: int, *, outcome: Literal["upheld", "rejected"], actor: str,
           settings: CentralSettings, note: str = "", now: datetime | None = None) -> Appeal:
    now = as_utc(now) or now_utc()
    appeal = session.get(Appeal, appeal_id, with_for_update=True, populate_existing=True)
    if appeal is None:
        raise NotFound(f"no appeal {appeal_id}")
    if appeal.status != "open":
        raise InvalidTransition(f"appeal {appeal_id} is already {appeal.status}")
    if outcome not in ("upheld", "rejected"):
        raise InvalidTransition(f"an appeal is upheld or rejected, not {outcome!r}")
    appeal.status, appeal.decided_by, appeal.decided_at = outcome, actor, now
    session.flush()
    audit.record(session, actor=actor, action=f"appeal.{outcome}", case_id=appeal.case_id, shop_id=appeal.shop_id,
                 at=now, details={"appeal_id": appeal.id, "note": note})
    if outcome == "upheld":
        annul(session, appeal.case_id, actor=actor, reason=f"appeal {appeal.id} upheld" + (f": {note}" if note else ""),
              settings=settings, now=now)
    notify(session, appeal, note=note, settings=settings, now=now)
    return appeal


def notify(session: Session, appeal: Appeal, *, note: str, settings: CentralSettings, now: datetime) -> Notice | None:
    """The owner's notice of the decision (after an upheld appeal's regrade, so it states the new grade),
    queued to the shop's channels. Flushes."""
    from central.notices.outbox import enqueue_notice, owner_message  # the notice commits with the decision

    case = session.get(Case, appeal.case_id)
    shop = session.get(Shop, appeal.shop_id)
    if case is None or shop is None:
        return None
    notice = Notice(case_id=case.id, shop_id=shop.id, kind=APPEAL_NOTICE_KINDS[appeal.status],
                    strike=case.strike or 0, created_at=now,
                    recipient=f"{shop.owner or ''} {shop.phone or ''}".strip())
    notice.text = owner_message(notice, case=case, shop=shop, settings=settings, lang=settings.language, note=note,
                                now=now)[1]
    session.add(notice)
    session.flush()
    session.expire(case, ["notices"])  # loaded again, with this notice, when next read
    enqueue_notice(session, notice, case=case, shop=shop, settings=settings, now=now, note=note)
    return notice


def annul(session: Session, case_id: str, *, actor: str, reason: str, settings: CentralSettings,
          now: datetime | None = None) -> Case:
    """The case should never have counted: close it as annulled, renumber the shop's later strikes, regrade."""
    now = as_utc(now) or now_utc()
    case = get_case(session, case_id, lock=True)
    if case.state == ANNULLED:
        raise InvalidTransition(f"case {case_id} is already annulled")
    if case.confirmed_at is None or case.state == "dismissed":
        raise InvalidTransition(f"case {case_id} is {case.state}; only a confirmed case can be annulled")
    old = case.state
    closed_tasks = []
    for task in case.tasks:
        if task.status == "open":
            task.status, task.done_at, task.done_by, task.outcome = "done", now, actor, ANNULLED
            closed_tasks.append(task.id)
    case.state, case.is_open, case.closed_reason = ANNULLED, False, reason
    if case.closed_at is None:
        case.closed_at = now
    session.flush()
    audit.record(session, actor=actor, action="case.annul", case_id=case.id, shop_id=case.shop_id, at=now,
                 details={"from": old, "to": ANNULLED, "reason": reason, "strike": case.strike,
                          "tasks_closed": closed_tasks, "void_penalties": [p.ticket_no for p in case.penalties]})
    renumber_after(session, case, actor=actor, settings=settings, now=now)
    from central.domain import grades  # grades import cases' tables, not this module

    grades.regrade_shops(session, [case.shop_id], now=now, settings=settings, reason_prefix="appeal upheld")
    return case


def renumber_after(session: Session, annulled: Case, *, actor: str, settings: CentralSettings,
                   now: datetime) -> list[Case]:
    """Recount the strikes of the shop's cases confirmed after `annulled` within one window of it (the only
    ones whose count included it); returns the cases whose strike changed."""
    start = as_utc(annulled.confirmed_at)
    later = session.scalars(
        select(Case)
        .where(Case.shop_id == annulled.shop_id, Case.id != annulled.id, Case.confirmed_at >= start,
               Case.confirmed_at <= start + timedelta(days=settings.strike_window_days))
        .where(strikes.counting_filter(settings))
        .order_by(Case.confirmed_at)
        .with_for_update()
    ).all()
    changed = []
    for case in later:
        strike = strikes.prior_strikes(session, case.shop_id, as_utc(case.confirmed_at), settings,
                                       exclude_case=case.id) + 1
        if strike == case.strike:
            continue
        before, case.strike = case.strike, strike
        changed.append(case)
        details: dict = {"from_strike": before, "to_strike": strike, "annulled_case": annulled.id}
        if case.state == "penalty_due" and strike < strikes.PENALTY_STRIKE and not case.penalties:
            for task in case.tasks:
                if task.kind == "penalty" and task.status == "open":
                    task.status, task.done_at, task.done_by, task.outcome = "done", now, actor, ANNULLED
            case.state, case.is_open, case.closed_at = "rectified", False, now
            case.closed_reason = f"rectified; strike {strike} after case {annulled.id} was annulled: no penalty due"
            details.update({"from": "penalty_due", "to": "rectified"})
        session.flush()
        audit.record(session, actor=actor, action="case.restrike", case_id=case.id, shop_id=case.shop_id, at=now,
                     details=details)
    return changed
