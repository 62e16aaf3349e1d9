"""Entry points the transport and the timer call: one event, one recheck answer, one tick.

`handle_event` / `handle_recheck` run inside the ingest transaction (the caller commits); `tick` is called
every `settings.tick_interval_s` by the central process and commits nothing itself either.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.domain import cases, episodes, grades, hotspots, leases, matching, ownerless, rectification
from central.domain.clock import as_utc, now_utc
from central.orm.cases import Case
from central.settings import CentralSettings
from wire.schema import EventMessage, RecheckResult

log = logging.getLogger("doorline.central.workflow")

def handle_event(
    session: Session, msg: EventMessage, settings: CentralSettings, *, now: datetime | None = None
) -> Case | None:
    """Match the event to a shop and put it on a case; unmatched events go to the ownerless queue. Then keep
    the episode's end reason and end the episodes of its zone that it shows were abandoned."""
    now = as_utc(now) or now_utc()
    case = _put_on_case(session, msg, settings, now)
    episodes.record_phase(session, msg, now)
    return case


def _put_on_case(session: Session, msg: EventMessage, settings: CentralSettings, now: datetime) -> Case | None:
    known = cases.case_for_episode(session, msg.event_id)
    if known is not None:
        cases.attach_event(session, known.shop_id, msg, settings, now=now)
        return known
    match = matching.match_event(session, msg, settings)
    if match.shop_id is None:
        ownerless.enqueue(session, msg)
        log.info("event %s (%s/%s) matched no shop: ownerless", msg.event_id, msg.camera_id, msg.zone_id,
                 extra=_ids(msg))
        return None
    case = cases.attach_event(session, match.shop_id, msg, settings, now=now)
    if case is not None:
        log.info("event %s %s (%s/%s) on case %s of shop %s", msg.event_id, msg.phase, msg.camera_id, msg.zone_id,
                 case.id, match.shop_id, extra={**_ids(msg), "case_id": case.id, "shop_id": match.shop_id})
    return case


def _ids(msg: EventMessage) -> dict[str, str]:
    """The ids a structured log line carries (wire.logs)."""
    return {"camera_id": msg.camera_id, "zone_id": msg.zone_id, "event_id": msg.event_id, "site_id": msg.site_id}


def handle_recheck(
    session: Session, msg: RecheckResult, settings: CentralSettings, *, now: datetime | None = None
) -> Case | None:
    return rectification.apply_recheck(session, msg, settings=settings, now=now)


def expire_windows(session: Session, now: datetime, settings: CentralSettings, limit: int = 500) -> int:
    due = list(
        session.scalars(
            select(Case)
            .where(Case.state == "notified", Case.window_ends_at <= now)
            .order_by(Case.window_ends_at)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL: a case another worker holds waits for next tick
        )
    )
    for case in due:
        rectification.start_recheck(session, case, settings=settings, now=now)
    return len(due)


def expire_rechecks(session: Session, now: datetime, limit: int = 500) -> int:
    late = list(
        session.scalars(
            select(Case)
            .where(Case.state == "rechecking", Case.recheck_deadline <= now)
            .order_by(Case.recheck_deadline)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for case in late:
        rectification.recheck_timed_out(session, case, now=now)
    return len(late)


HOTSPOT_INTERVAL_S = 60.0


def _due(kind: str, session: Session, now: datetime, interval_s: float, force: bool = False) -> bool:
    """True once per `interval_s` per database and kind, whichever central instance asks first (a lease row
    locked until this transaction ends; see central.domain.leases)."""
    return leases.claim(session, kind, now, interval_s, force=force)


def refresh_grades_if_due(
    session: Session, now: datetime, settings: CentralSettings, *, force: bool = False
) -> grades.GradeRun | None:
    if not _due("grades", session, now, settings.grade_refresh_interval_s, force):
        return None
    run = grades.recompute(session, now=now, settings=settings, reason_prefix="periodic")
    if run.changed:
        log.info("grades: %d of %d shops changed (%s) in %.2f s", run.changed, run.shops, run.rule_set, run.seconds)
    return run


def tick(session: Session, now: datetime, settings: CentralSettings) -> None:
    """Timers: expired windows → recheck commands (or officer tasks), recheck timeouts → officer tasks,
    open episodes of cameras offline too long → ended and hot spots, every minute, and a full grade recomputation
    every `settings.grade_refresh_interval_s`."""
    now = as_utc(now)
    expire_windows(session, now, settings)
    expire_rechecks(session, now)
    if _due("offline_episodes", session, now, HOTSPOT_INTERVAL_S):
        episodes.end_for_offline_edges(session, now, settings)
    if _due("hotspots", session, now, HOTSPOT_INTERVAL_S):
        hotspots.refresh_hotspots(session, now=now, settings=settings)
    refresh_grades_if_due(session, now, settings)
