"""Which picture of a case is which: start or end of its episode, annotated (zone and boxes drawn), clean
or a crop. The console leads with the START frame annotated and puts the END frame beside it once the
episode ended, so an operator sees the goods and then sees them gone.

Roles come from what central stored: each phase message (`event_phases.payload`) names its evidence refs,
with their `kind` (wire.schema.EvidenceKind: annotated, clean, crop). A ref that also says `role` or
`phase` (newer edges) is taken at its word; an unknown kind is kept and shown by its name. Pictures no
phase names (the edge sent them apart, or the events table is missing) count as updates in case order."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.i18n import N_
from central.orm.cases import Case, CaseEvent

KIND_ORDER = {"annotated": 0, "clean": 1, "crop": 2}
PHASE_LABEL = {"start": N_("Start"), "update": N_("Update"), "end": N_("End")}
KIND_LABEL = {"annotated": N_("annotated"), "clean": N_("clean"), "crop": N_("crop")}


@dataclass(frozen=True)
class Picture:
    sha: str
    kind: str  # annotated | clean | crop | whatever a newer edge sends
    phase: str  # start | update | end
    seq: int = 0
    event_id: str = ""

    @property
    def is_crop(self) -> bool:
        return self.kind == "crop" or self.kind.endswith("crop")


@dataclass
class CaseEvidence:
    start: list[Picture] = field(default_factory=list)
    end: list[Picture] = field(default_factory=list)
    updates: list[Picture] = field(default_factory=list)
    ended: bool = False

    @property
    def lead(self) -> Picture | None:
        """The picture a card opens with: the start frame annotated, else the best full frame there is."""
        return _best(self.start) or _best(self.updates) or _best(self.end)

    @property
    def end_lead(self) -> Picture | None:
        """The end frame (annotated: the zone drawn, now empty), once the episode ended."""
        return _best(self.end) if self.ended else None

    @property
    def all(self) -> list[Picture]:
        return [*self.start, *self.updates, *self.end]


def _best(pictures: Iterable[Picture]) -> Picture | None:
    ranked = sorted(pictures, key=lambda p: (p.is_crop, KIND_ORDER.get(p.kind, 1), p.seq))
    return ranked[0] if ranked else None


def _refs(payload: str) -> tuple[str, int, list[dict]]:
    try:
        msg = json.loads(payload)
    except ValueError:
        return "update", 0, []
    if not isinstance(msg, dict):
        return "update", 0, []
    refs = [r for r in msg.get("evidence") or [] if isinstance(r, dict) and r.get("sha256")]
    return str(msg.get("phase") or "update"), int(msg.get("seq") or 0), refs


def _phase_of(ref: dict, phase: str) -> str:
    said = str(ref.get("role") or ref.get("phase") or "")
    for p in ("start", "end", "update"):
        if said.startswith(p):
            return p
    return phase if phase in ("start", "end") else "update"


def case_evidence(session: Session, cases: list[Case]) -> dict[str, CaseEvidence]:
    """Case id → its pictures by role, for a page of cases in a few queries."""
    out = {c.id: CaseEvidence() for c in cases}
    if not cases:
        return out
    links = session.execute(select(CaseEvent.case_id, CaseEvent.event_id)
                            .where(CaseEvent.case_id.in_(list(out)))).all()
    case_of = {event_id: case_id for case_id, event_id in links}
    placed: dict[str, set[str]] = {c.id: set() for c in cases}
    try:
        from central.orm.events import Event, EventPhaseRecord
    except ImportError:  # the transport tables are not installed: case order only
        Event = EventPhaseRecord = None  # type: ignore[assignment,misc]
    if EventPhaseRecord is not None and case_of:
        first_event: dict[str, str] = {}
        for ev in session.scalars(select(Event).where(Event.event_id.in_(list(case_of)))
                                  .order_by(Event.first_ts)):
            cid = case_of[ev.event_id]
            first_event.setdefault(cid, ev.event_id)
            if ev.phase == "end":
                out[cid].ended = True
        rows = session.execute(select(EventPhaseRecord.event_id, EventPhaseRecord.payload)
                               .where(EventPhaseRecord.event_id.in_(list(case_of)))
                               .order_by(EventPhaseRecord.event_id, EventPhaseRecord.seq)).all()
        for event_id, payload in rows:
            cid = case_of[event_id]
            phase, seq, refs = _refs(payload)
            for ref in refs:
                sha = ref["sha256"]
                if sha in placed[cid]:
                    continue
                placed[cid].add(sha)
                role = _phase_of(ref, phase)
                # a later episode's start is an update of the case: the case starts once
                if role == "start" and event_id != first_event.get(cid):
                    role = "update"
                pic = Picture(sha, str(ref.get("kind") or "annotated"), role, seq, event_id)
                getattr(out[cid], role if role != "update" else "updates").append(pic)
    for c in cases:
        ce = out[c.id]
        if c.end_seen_at is not None:
            ce.ended = True
        rest = [sha for sha in (c.evidence or []) if sha not in placed[c.id]]
        if rest and not ce.start and not placed[c.id]:
            # nothing known about phases: the first picture is the start, the others updates
            ce.start.append(Picture(rest[0], "annotated", "start"))
            rest = rest[1:]
        ce.updates.extend(Picture(sha, "annotated", "update", i) for i, sha in enumerate(rest, start=1))
        if ce.end and not ce.ended:
            ce.ended = True
    return out
