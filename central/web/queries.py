"""Read-side queries the pages need, over the domain and event tables. Writes go through the
domain functions (central.domain.*), never from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from central.domain.scope import EVERYWHERE, Scope
from central.orm.audit import AuditRecord
from central.orm.cases import Case, CaseEvent, Notice, OwnerlessEvent
from central.orm.events import Event
from central.orm.shops import Shop

GRADES = ("red", "yellow", "green")


def shop_names(session: Session, shop_ids: set[str]) -> dict[str, Shop]:
    if not shop_ids:
        return {}
    return {s.id: s for s in session.scalars(select(Shop).where(Shop.id.in_(shop_ids)))}


@dataclass(frozen=True)
class QueueFilter:
    """What the review queue shows: one state (detected: waiting for an operator), narrowed by road, camera,
    violation and lowest score; newest or oldest first."""

    state: str = "detected"
    road: str | None = None
    camera: str | None = None
    violation: str | None = None
    min_score: float | None = None
    order: str = "newest"


def review_queue(session: Session, f: QueueFilter | None = None, *, limit: int = 50, offset: int = 0,
                 scope: Scope = EVERYWHERE) -> tuple[list[Case], int]:
    """One page of the queue and how many cases match in all."""
    f = f or QueueFilter()
    conds = [Case.state == f.state, scope.by_shop(Case.shop_id)]
    if f.camera:
        conds.append(Case.camera_id == f.camera)
    if f.violation:
        conds.append(Case.violation == f.violation)
    if f.min_score is not None:
        conds.append(Case.score >= f.min_score)
    if f.road:
        conds.append(Case.shop_id.in_(select(Shop.id).where(Shop.road == f.road)))
    total = session.scalar(select(func.count()).select_from(Case).where(*conds)) or 0
    when = func.coalesce(Case.first_seen_at, Case.opened_at)
    order = (when.desc(), Case.id.desc()) if f.order == "newest" else (when, Case.id)
    rows = list(session.scalars(select(Case).where(*conds).order_by(*order).offset(offset).limit(limit)))
    return rows, int(total)


def queue_snapshot(session: Session, scope: Scope = EVERYWHERE) -> dict[str, Any]:
    """What the live queue watches: how many cases wait and the newest one; a change means fetch again."""
    waiting = (Case.state == "detected", scope.by_shop(Case.shop_id))
    detected = session.scalar(select(func.count()).select_from(Case).where(*waiting)) or 0
    latest = session.scalar(select(Case.id).where(*waiting)
                            .order_by(Case.opened_at.desc(), Case.id.desc()).limit(1))
    return {"detected": int(detected), "latest": latest or ""}


def queue_choices(session: Session, scope: Scope = EVERYWHERE) -> tuple[list[str], list[str]]:
    """(roads, cameras) the queue's filters offer: those of shops and cases that exist."""
    roads = [r for r in session.scalars(select(Shop.road).where(scope.place(Shop.area, Shop.road)).distinct()
                                        .order_by(Shop.road)) if r]
    cameras = [c for c in session.scalars(select(Case.camera_id).where(scope.by_shop(Case.shop_id)).distinct()
                                          .order_by(Case.camera_id)) if c]
    return roads, cameras


def strike_outlook(session: Session, shop_ids: set[str], settings: Any, now: datetime | None = None
                   ) -> dict[str, tuple[int, str]]:
    """Shop id → (strikes counting now, the notice a confirmation would send: advice, rectification_notice
    or penalty_notice), the domain's own rules."""
    from central.domain import strikes

    now = now or datetime.now(UTC)
    out: dict[str, tuple[int, str]] = {}
    for shop_id in shop_ids:
        prior = strikes.prior_strikes(session, shop_id, now, settings)
        out[shop_id] = (prior, strikes.notice_kind(prior + 1))
    return out


def state_counts(session: Session, scope: Scope = EVERYWHERE) -> dict[str, int]:
    return {s: int(n) for s, n in session.execute(select(Case.state, func.count())
                                                  .where(scope.by_shop(Case.shop_id)).group_by(Case.state))}


def recent_cases(session: Session, *, state: str | None = None, shop_id: str | None = None,
                 limit: int = 50, offset: int = 0, scope: Scope = EVERYWHERE) -> tuple[list[Case], int]:
    stmt = select(Case).where(scope.by_shop(Case.shop_id))
    count = select(func.count()).select_from(Case).where(scope.by_shop(Case.shop_id))
    if state:
        stmt, count = stmt.where(Case.state == state), count.where(Case.state == state)
    if shop_id:
        stmt, count = stmt.where(Case.shop_id == shop_id), count.where(Case.shop_id == shop_id)
    rows = list(session.scalars(stmt.order_by(Case.opened_at.desc(), Case.id).offset(offset).limit(limit)))
    return rows, int(session.scalar(count) or 0)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]
    evidence: list[str]
    seq: int


def case_timeline(session: Session, case_id: str) -> list[TimelineEntry]:
    import json

    out: list[TimelineEntry] = []
    stmt = select(AuditRecord).where(AuditRecord.case_id == case_id).order_by(AuditRecord.seq)
    for r in session.scalars(stmt):
        try:
            details = json.loads(r.details)
        except ValueError:
            details = {"raw": r.details}
        try:
            evidence = json.loads(r.evidence)
        except ValueError:
            evidence = []
        out.append(TimelineEntry(r.at, r.actor, r.action, details if isinstance(details, dict) else
                                 {"value": details}, evidence, r.seq))
    return out


def case_event_ids(session: Session, case_id: str) -> list[str]:
    return list(session.scalars(select(CaseEvent.event_id).where(CaseEvent.case_id == case_id)
                                .order_by(CaseEvent.attached_at)))


def case_events(session: Session, case_id: str) -> list[Any]:
    """The event episodes attached to a case, oldest first."""
    ids = case_event_ids(session, case_id)
    if not ids:
        return []
    return list(session.scalars(select(Event).where(Event.event_id.in_(ids)).order_by(Event.first_ts)))


def ownerless_open(session: Session, limit: int = 100, scope: Scope = EVERYWHERE
                   ) -> tuple[list[OwnerlessEvent], int]:
    from central.domain.ownerless import in_scope

    cond = (OwnerlessEvent.status == "open", in_scope(scope))
    total = session.scalar(select(func.count()).select_from(OwnerlessEvent).where(*cond)) or 0
    rows = list(session.scalars(select(OwnerlessEvent).where(*cond).order_by(OwnerlessEvent.seen_at)
                                .limit(limit)))
    return rows, int(total)


def shops_page(session: Session, *, q: str | None = None, grade: str | None = None, offset: int = 0,
               limit: int = 50, scope: Scope = EVERYWHERE) -> tuple[list[Shop], int]:
    stmt = select(Shop).where(scope.place(Shop.area, Shop.road))
    count = select(func.count()).select_from(Shop).where(scope.place(Shop.area, Shop.road))
    if q:
        like = f"%{q}%"
        cond = or_(Shop.id == q, Shop.name.ilike(like), Shop.road.ilike(like), Shop.address.ilike(like))
        stmt, count = stmt.where(cond), count.where(cond)
    if grade in GRADES:
        stmt, count = stmt.where(Shop.grade == grade), count.where(Shop.grade == grade)
    rows = list(session.scalars(stmt.order_by(Shop.area, Shop.road, Shop.address, Shop.id)
                                .offset(offset).limit(limit)))
    return rows, int(session.scalar(count) or 0)


def shop_notices(session: Session, shop_id: str, limit: int = 20) -> list[tuple[Notice, Case]]:
    rows = session.execute(select(Notice, Case).join(Case, Case.id == Notice.case_id)
                           .where(Notice.shop_id == shop_id)
                           .order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit))
    return [(n, c) for n, c in rows]


def shop_evidence(session: Session, shop_id: str) -> set[str]:
    """Every evidence hash on the shop's cases: what its owner may see."""
    out: set[str] = set()
    for ev in session.scalars(select(Case.evidence).where(Case.shop_id == shop_id)):
        out.update(ev or [])
    return out
