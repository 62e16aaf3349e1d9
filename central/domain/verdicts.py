"""Operator verdicts on detections: which episodes an operator confirmed or dismissed, with the camera and the
detector model that raised them. Two uses: precision per camera and per model (console, API), and the
reviewed frames exported as a training set (`doorline-models export-reviews`, central.review_export).

A verdict belongs to a case (confirm / dismiss); every episode (event) attached to the case shares it. The
model is the `model` of the episode's first stored phase (edges before that field: "unknown")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from central.domain.clock import as_utc
from central.domain.scope import EVERYWHERE, Scope
from central.orm.cases import Case, CaseEvent
from central.orm.events import Event, EventPhaseRecord, Evidence

UNKNOWN_MODEL = "unknown"
CONFIRMED, DISMISSED = "confirmed", "dismissed"


@dataclass
class ReviewedEpisode:
    case_id: str
    verdict: str  # confirmed | dismissed
    verdict_at: datetime
    verdict_by: str | None
    reason: str  # a dismissal's reason ("" for a confirmation)
    shop_id: str
    violation: str
    event_id: str
    site_id: str
    camera_id: str
    zone_id: str | None
    model: str
    first_ts: datetime
    boxes: list[list[float]] = field(default_factory=list)  # the start phase's boxes, frame pixels
    evidence: list[Evidence] = field(default_factory=list)  # the start phase's pictures, in the message's order


def _verdict(case: Case) -> tuple[str, datetime, str | None, str] | None:
    if case.state == "dismissed" and case.closed_at is not None:
        return DISMISSED, as_utc(case.closed_at), None, case.closed_reason or ""
    if case.confirmed_at is not None:
        return CONFIRMED, as_utc(case.confirmed_at), case.confirmed_by, ""
    return None


def _chunks(items: list[str], n: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def reviewed_episodes(
    session: Session, since: datetime | None = None, until: datetime | None = None, *, with_evidence: bool = True,
    scope: Scope = EVERYWHERE,
) -> list[ReviewedEpisode]:
    """Every episode of a case confirmed or dismissed in [since, until), oldest verdict first. A handful of
    queries whatever the number of cases (IN lists of 500)."""
    since, until = as_utc(since), as_utc(until)

    def window(col):  # noqa: ANN001, ANN202
        conds = [col.is_not(None)]
        if since is not None:
            conds.append(col >= since)
        if until is not None:
            conds.append(col < until)
        return and_(*conds)

    q = select(Case).where(or_(window(Case.confirmed_at), and_(Case.state == "dismissed", window(Case.closed_at))),
                           scope.by_shop(Case.shop_id))
    cases = {c.id: c for c in session.scalars(q)}
    verdicts = {cid: v for cid, c in cases.items() if (v := _verdict(c)) is not None
                and (since is None or v[1] >= since) and (until is None or v[1] < until)}
    links: list[tuple[str, str]] = []
    for chunk in _chunks(list(verdicts)):
        q_links = select(CaseEvent.case_id, CaseEvent.event_id).where(CaseEvent.case_id.in_(chunk))
        links += [(c, e) for c, e in session.execute(q_links)]
    event_ids = sorted({e for _, e in links})
    events: dict[str, Event] = {}
    first: dict[str, dict] = {}
    for chunk in _chunks(event_ids):
        events.update({e.event_id: e for e in session.scalars(select(Event).where(Event.event_id.in_(chunk)))})
        phases = session.execute(
            select(EventPhaseRecord.event_id, EventPhaseRecord.payload).where(EventPhaseRecord.event_id.in_(chunk))
            .order_by(EventPhaseRecord.event_id, EventPhaseRecord.seq.desc(), EventPhaseRecord.received_at.desc())
        )
        for event_id, payload in phases:  # the last row per event wins: its lowest seq, first received
            first[event_id] = json.loads(payload)
    pictures: dict[str, Evidence] = {}
    if with_evidence:
        refs = sorted({r["evidence_id"] for p in first.values() for r in p.get("evidence", [])})
        for chunk in _chunks(refs):
            rows = session.scalars(select(Evidence).where(Evidence.evidence_id.in_(chunk)))
            pictures.update({e.evidence_id: e for e in rows})
    out: list[ReviewedEpisode] = []
    for case_id, event_id in links:
        ev, case, v = events.get(event_id), cases[case_id], verdicts[case_id]
        if ev is None:
            continue
        payload = first.get(event_id, {})
        refs = [r["evidence_id"] for r in payload.get("evidence", [])]
        out.append(
            ReviewedEpisode(
                case_id=case.id, verdict=v[0], verdict_at=v[1], verdict_by=v[2], reason=v[3],
                shop_id=case.shop_id, violation=ev.violation, event_id=ev.event_id, site_id=ev.site_id,
                camera_id=ev.camera_id, zone_id=ev.zone_id, model=payload.get("model") or UNKNOWN_MODEL,
                first_ts=as_utc(ev.first_ts), boxes=[list(map(float, b)) for b in payload.get("boxes", [])],
                evidence=[pictures[r] for r in refs if r in pictures],
            )
        )
    out.sort(key=lambda r: (r.verdict_at, r.event_id))
    return out


@dataclass
class PrecisionRow:
    site_id: str
    camera_id: str
    model: str
    confirmed: int
    dismissed: int

    @property
    def reviewed(self) -> int:
        return self.confirmed + self.dismissed

    @property
    def precision(self) -> float | None:
        return self.confirmed / self.reviewed if self.reviewed else None

    def to_dict(self) -> dict:
        return {"site_id": self.site_id, "camera_id": self.camera_id, "model": self.model,
                "confirmed": self.confirmed, "dismissed": self.dismissed, "reviewed": self.reviewed,
                "precision": None if self.precision is None else round(self.precision, 4)}


def precision_by_camera_and_model(
    session: Session, since: datetime | None = None, until: datetime | None = None, *, scope: Scope = EVERYWHERE
) -> list[PrecisionRow]:
    """Per (site, camera, model): reviewed cases confirmed against dismissed. A case counts once for each
    (camera, model) that raised one of its episodes; sorted by camera, then model."""
    seen: dict[tuple[str, str, str], dict[str, set[str]]] = {}
    for r in reviewed_episodes(session, since, until, with_evidence=False, scope=scope):
        cell = seen.setdefault((r.site_id, r.camera_id, r.model), {CONFIRMED: set(), DISMISSED: set()})
        cell[r.verdict].add(r.case_id)
    return [
        PrecisionRow(site, cam, model, len(cell[CONFIRMED]), len(cell[DISMISSED]))
        for (site, cam, model), cell in sorted(seen.items())
    ]
