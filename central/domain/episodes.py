"""Episode ends: central never holds an episode that nothing will end.

An edge ends an episode with a reason (`EventMessage.end_reason`): `cleared` when the zone was clear (the goods
were taken away) or why it stopped watching (stopped, end_of_stream, zone_removed, ...). Only `cleared` says
anything about the goods; the others close the episode and leave the case to the operator. Central itself
ends two kinds of episode that no edge will end any more:

- `superseded`: a new episode started in the same zone of the same camera for the same violation. An edge runs
  one episode per (zone, violation) at a time, so the older one was left open by an edge that died (a crash,
  a power cut) and was restarted;
- `edge_offline`: the camera has been offline (its edge's last will) for `edge_offline_grace_s`. Should the
  edge come back and go on with the episode, its next phase opens it again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from central.domain import audit, cases
from central.domain.clock import as_utc
from central.orm.events import EdgeStatus, Event
from central.settings import CentralSettings
from wire.schema import END_CLEARED, EventMessage

log = logging.getLogger("doorline.central.episodes")

SUPERSEDED = "superseded"
EDGE_OFFLINE = "edge_offline"
_FINAL = (SUPERSEDED,)  # central's ends that a late phase of the same episode does not undo


def record_phase(session: Session, msg: EventMessage, now: datetime) -> None:
    """After the phase is stored (`central.ingest`): keep the episode's end reason, and end older episodes
    of the zone that a new start shows were abandoned."""
    session.flush()
    ev = session.get(Event, msg.event_id)
    if ev is None:
        return
    if ev.phase == "end":
        if msg.phase == "end":  # the edge's own end: its reason replaces any central gave
            ev.end_reason = msg.end_reason or END_CLEARED
    elif ev.end_reason in _FINAL:  # a late phase of an episode a newer one replaced: it stays ended
        ev.phase = "end"
    else:
        ev.end_reason = None  # e.g. an edge thought offline that went on with the episode
    if msg.phase == "start" and msg.zone_id is not None:
        same_zone = select(Event).where(
            Event.site_id == msg.site_id,
            Event.camera_id == msg.camera_id,
            Event.zone_id == msg.zone_id,
            Event.violation == msg.violation,
            Event.event_id != msg.event_id,
        )
        # SKIP LOCKED: another central instance ending the same abandoned episode has it; waiting for it while
        # holding this transaction's rows deadlocked two instances on PostgreSQL (SQLite ignores it)
        older = (same_zone.where(Event.phase != "end", Event.first_ts < ev.first_ts)
                 .order_by(Event.event_id).with_for_update(skip_locked=True))
        for old in session.scalars(older):
            end_episode(session, old, SUPERSEDED, now, detail=f"episode {msg.event_id} started in its zone")
        # delivered late (a spool's backlog): a newer episode of the zone is already known, so this one is over;
        # its own end, should it come, replaces this reason
        newer = session.scalar(same_zone.where(Event.first_ts > ev.first_ts).limit(1))
        if newer is not None and ev.phase != "end":
            end_episode(session, ev, SUPERSEDED, now, detail=f"episode {newer.event_id} started later in its zone")


def end_episode(session: Session, ev: Event, reason: str, now: datetime, *, detail: str = "") -> None:
    """Mark an episode ended by central (no edge will end it); its case, if any, stays as it is for the
    operator and records why in the audit chain."""
    ev.phase, ev.end_reason, ev.updated_at = "end", reason, now
    session.flush()
    log.info("episode %s (%s/%s zone %s) ended: %s %s", ev.event_id, ev.site_id, ev.camera_id, ev.zone_id,
             reason, detail)
    case = cases.case_for_episode(session, ev.event_id)
    if case is not None:
        audit.record(
            session,
            actor="system",
            action="case.episode_closed",
            case_id=case.id,
            shop_id=case.shop_id,
            at=now,
            details={"event_id": ev.event_id, "end_reason": reason, "detail": detail, "state": case.state},
        )


def end_for_offline_edges(session: Session, now: datetime, settings: CentralSettings, limit: int = 500) -> int:
    """End the open episodes of cameras offline for longer than `edge_offline_grace_s`; how many."""
    cutoff = as_utc(now) - timedelta(seconds=settings.edge_offline_grace_s)
    offline = select(EdgeStatus.site_id, EdgeStatus.camera_id).where(
        EdgeStatus.state == "offline", EdgeStatus.updated_at <= cutoff
    )
    rows = list(
        session.scalars(
            select(Event)
            .where(Event.phase != "end", tuple_(Event.site_id, Event.camera_id).in_(offline),
                   Event.last_ts <= cutoff)
            .order_by(Event.last_ts)
            .limit(limit)
        )
    )
    for ev in rows:
        end_episode(session, ev, EDGE_OFFLINE, now,
                    detail=f"camera offline for more than {settings.edge_offline_grace_s:g} s")
    return len(rows)
