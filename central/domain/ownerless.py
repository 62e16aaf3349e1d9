"""The ownerless queue: events that matched no shop wait here until an operator assigns them.

Assigning a fixed-camera event also remembers (camera, zone) → shop, so the zone's later events match on
their own, and assigns every other waiting event from the same zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.domain import audit, cases, matching
from central.domain.clock import as_utc, from_unix, now_utc
from central.domain.errors import InvalidTransition, NotFound
from central.domain.registry import get_shop
from central.domain.scope import EVERYWHERE, Scope
from central.orm.cases import Case, OwnerlessEvent
from central.settings import CentralSettings
from wire.schema import EventMessage, GeoPoint


def enqueue(session: Session, msg: EventMessage) -> OwnerlessEvent:
    """Queue an unmatched event phase (one row per episode; later phases update it)."""
    item = session.get(OwnerlessEvent, msg.event_id)
    ev = [e.sha256 for e in msg.evidence]
    if item is None:
        item = OwnerlessEvent(
            event_id=msg.event_id,
            site_id=msg.site_id,
            camera_id=msg.camera_id,
            zone_id=msg.zone_id,
            reported_shop_id=msg.shop_id,
            violation=msg.violation,
            source_kind=msg.source_kind,
            lat=msg.geo.lat if msg.geo else None,
            lon=msg.geo.lon if msg.geo else None,
            score=msg.score,
            seen_at=from_unix(msg.ts),
            evidence=ev,
            status="open",
        )
        session.add(item)
    else:
        item.score = max(item.score, msg.score)
        if ev:
            item.evidence = [*item.evidence, *ev]
    session.flush()
    return item


def in_scope(scope: Scope) -> Any:
    """SQL: ownerless events a scoped operator sees: from cameras watching their area's shops."""
    return scope.by_camera(OwnerlessEvent.camera_id, OwnerlessEvent.reported_shop_id)


def _item(session: Session, event_id: str, scope: Scope) -> OwnerlessEvent:
    item = session.get(OwnerlessEvent, event_id)
    if item is None or not (scope.everywhere or session.scalar(
            select(OwnerlessEvent.event_id).where(OwnerlessEvent.event_id == event_id, in_scope(scope)))):
        raise NotFound(f"no ownerless event {event_id!r}")
    return item


def queue(session: Session, *, status: str = "open", limit: int = 100, offset: int = 0,
          scope: Scope = EVERYWHERE) -> list[OwnerlessEvent]:
    return list(
        session.scalars(
            select(OwnerlessEvent)
            .where(OwnerlessEvent.status == status, in_scope(scope))
            .order_by(OwnerlessEvent.seen_at)
            .limit(limit)
            .offset(offset)
        )
    )


def _as_message(item: OwnerlessEvent) -> EventMessage:
    geo = GeoPoint(lat=item.lat, lon=item.lon) if item.lat is not None and item.lon is not None else None
    return EventMessage(
        site_id=item.site_id,
        camera_id=item.camera_id,
        event_id=item.event_id,
        seq=0,
        zone_id=item.zone_id,
        shop_id=item.reported_shop_id,
        violation=item.violation,
        phase="start",
        ts=as_utc(item.seen_at).timestamp(),
        score=item.score,
        source_kind=item.source_kind,
        geo=geo,
    )  # type: ignore[arg-type]


def assign(
    session: Session,
    event_id: str,
    shop_id: str,
    *,
    actor: str,
    settings: CentralSettings,
    remember: bool = True,
    now: datetime | None = None,
    scope: Scope = EVERYWHERE,
) -> list[Case]:
    """Give an ownerless event to a shop: open or attach its case. Returns the cases touched. A scoped
    operator assigns only events of their area's cameras, to their area's shops."""
    now = as_utc(now) or now_utc()
    item = _item(session, event_id, scope)
    if item.status != "open":
        raise InvalidTransition(f"ownerless event {event_id} is already {item.status}")
    get_shop(session, shop_id)
    scope.shop(session, shop_id)
    items = [item]
    if remember and item.zone_id is not None and item.source_kind == "fixed":
        matching.remember_zone(session, item.camera_id, item.zone_id, shop_id, actor=actor)
        items += [
            o
            for o in session.scalars(
                select(OwnerlessEvent).where(
                    OwnerlessEvent.status == "open",
                    OwnerlessEvent.camera_id == item.camera_id,
                    OwnerlessEvent.zone_id == item.zone_id,
                    OwnerlessEvent.event_id != event_id,
                )
            )
        ]
    touched: list[Case] = []
    for it in items:
        msg = _as_message(it).model_copy(update={"evidence": []})
        case = cases.attach_event(session, shop_id, msg, settings, now=now, actor=actor)
        if it.evidence:
            case.evidence = [*case.evidence, *it.evidence]
        it.status, it.shop_id, it.case_id, it.resolved_by, it.resolved_at = (
            "assigned",
            shop_id,
            case.id,
            actor,
            now,
        )
        audit.record(
            session,
            actor=actor,
            action="ownerless.assign",
            case_id=case.id,
            shop_id=shop_id,
            at=now,
            details={
                "event_id": it.event_id,
                "camera_id": it.camera_id,
                "zone_id": it.zone_id,
                "remembered": remember and it.zone_id is not None,
            },
            evidence=it.evidence,
        )
        if case not in touched:
            touched.append(case)
    session.flush()
    return touched


def dismiss(session: Session, event_id: str, *, actor: str, reason: str, now: datetime | None = None,
            scope: Scope = EVERYWHERE) -> None:
    now = as_utc(now) or now_utc()
    item = _item(session, event_id, scope)
    if item.status != "open":
        raise InvalidTransition(f"ownerless event {event_id} is already {item.status}")
    item.status, item.resolved_by, item.resolved_at = "dismissed", actor, now
    audit.record(
        session,
        actor=actor,
        action="ownerless.dismiss",
        at=now,
        details={"event_id": event_id, "reason": reason},
        evidence=item.evidence,
    )
    session.flush()
