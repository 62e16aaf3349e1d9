"""Storing one validated message: plain functions on a database session (no broker, no threads), each
checking first and then adding rows, so a `Rejected` leaves the session untouched. Workflow calls are not made
here: they are appended to `deferred` and run by the caller once the rows are flushed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from central.domain import zone_editor
from central.domain.clock import now_utc
from central.evidence_store import EvidenceStoreError
from central.ingest.inbound import Inbound, Rejected, aware, utc
from central.ingest.rows import Rows
from central.orm.events import DeadLetter, EdgeStatus, Event, EventPhaseRecord, Evidence, RecheckRecord
from wire import topics
from wire.schema import (
    Bundle,
    EventMessage,
    EvidenceMessage,
    EvidenceRef,
    RecheckResult,
    StatusMessage,
    evidence_owner,
    recheck_evidence_owner,
)

log = logging.getLogger("doorline.central.ingest")

DEAD_LETTER_KEEP_BYTES = 64 * 1024
_CLOCK_TOLERANCE_S = 60.0  # an edge status stamped further ahead of central's clock is from a clock that is off

# (sha256, bytes): store a picture in the evidence store unless this batch already did
PutPicture = Callable[[str, bytes], None]
# (session, "handle_event" | "handle_recheck", message, inbound): the domain step after a message is stored
CallWorkflow = Callable[[Session, str, Any, Inbound], None]
Deferred = list[tuple[str, Any, Inbound]]
Outcome = tuple[str, str | None]  # ("stored" | "duplicate" | "dead" | "status", message_id)


def add_batch(
    session: Session, batch: list[Inbound], parsed: list[Any], put: PutPicture
) -> tuple[list[Outcome], Deferred]:
    """The fast path: with every message validated, fetch the existing rows for the whole batch in a few
    queries and add the new rows. Returns each message's outcome and the workflow calls to make once the
    rows are flushed (each then in a savepoint)."""
    rows = Rows(session, [m for m in parsed if not isinstance(m, Rejected)])
    outcomes: list[Outcome] = []
    deferred: Deferred = []
    for item, msg in zip(batch, parsed, strict=True):
        if isinstance(msg, Rejected):
            dead_letter(session, item, msg.reason, msg.msg, savepoint=False)
            outcomes.append(("dead", None))
            continue
        try:
            outcome = apply(session, msg, item, rows, deferred, put)
        except Rejected as exc:
            dead_letter(session, item, exc.reason, exc.msg, savepoint=False)
            outcomes.append(("dead", None))
            continue
        outcomes.append((outcome, msg.message_id))
    return outcomes, deferred


def handle_one(session: Session, item: Inbound, parsed: Any, put: PutPicture, call_workflow: CallWorkflow) -> Outcome:
    """The careful path: one message (or the reason it is refused) inside its own savepoint, its workflow
    step included."""
    for attempt in range(3):
        msg = None
        try:
            with session.begin_nested():
                if isinstance(parsed, Rejected):
                    raise parsed
                msg = parsed
                deferred: Deferred = []
                outcome = apply(session, msg, item, Rows(session), deferred, put)
                session.flush()
                for name, m, it in deferred:
                    call_workflow(session, name, m, it)
                return outcome, msg.message_id
        except Rejected as exc:
            dead_letter(session, item, exc.reason, exc.msg)
            return "dead", None
        except IntegrityError as exc:
            # another instance stored the same row between our check and our insert: look again (the
            # next attempt finds it and reports a duplicate). Three failures in a row are not a race.
            if attempt == 2:
                reason = f"integrity error after 3 attempts: {str(exc).splitlines()[0]}"[:1000]
                dead_letter(session, item, reason, msg)
                return "dead", None
        except (OperationalError, DBAPIError, EvidenceStoreError):
            raise  # infrastructure: the whole batch is retried, nothing acked
        except Exception as exc:
            # a bug must not stop the consumer: keep the message as a dead letter for replay
            log.exception("ingest failed on a message from %s", item.topic)
            dead_letter(session, item, f"internal error: {type(exc).__name__}: {exc}"[:1000], msg)
            return "dead", None
    raise AssertionError("unreachable")


def apply(
    session: Session,
    msg: Any,
    item: Inbound,
    rows: Rows,
    deferred: list[tuple[str, Any, Inbound]],
    put: PutPicture,
) -> str:
    """Check first, then add rows (a Rejected leaves the session untouched). Workflow calls are deferred
    until the rows are flushed."""
    if isinstance(msg, Bundle):
        return store_bundle(session, msg, item, rows, deferred, put)
    if isinstance(msg, EventMessage):
        return store_event(session, msg, item, rows, deferred)
    if isinstance(msg, EvidenceMessage):
        return store_evidence(session, msg, rows, put)
    if isinstance(msg, RecheckResult):
        return store_recheck(session, msg, item, rows, deferred)
    return apply_status(session, msg)

def check_refs(rows: Rows, refs: list[EvidenceRef], owner: str, msg: Any) -> list[EvidenceRef]:
    """Evidence named by an event: returns the refs that need a row (bytes may come later); raises
    Rejected when a ref disagrees with the row the evidence message already made."""
    missing = []
    for ref in refs:
        ev = rows.evidence(ref.evidence_id)
        if ev is None:
            missing.append(ref)
        elif ev.sha256 != ref.sha256:
            raise Rejected(
                f"evidence {ref.evidence_id}: referenced sha256 {ref.sha256[:16]}… differs from "
                f"the stored {ev.sha256[:16]}…",
                msg,
            )
        elif ev.event_id != owner:
            raise Rejected(f"evidence {ref.evidence_id} belongs to {ev.event_id}, not {owner}", msg)
    return missing

def add_refs(session: Session, rows: Rows, refs: list[EvidenceRef], owner: str, msg: Any) -> None:
    for ref in refs:
        row = Evidence(
            evidence_id=ref.evidence_id,
            sha256=ref.sha256,
            event_id=owner,
            kind=ref.kind,
            size=ref.size,
            stored=False,
            site_id=msg.site_id,
            camera_id=msg.camera_id,
        )
        session.add(row)
        rows.evidence_rows[ref.evidence_id] = row

def store_event(
    session: Session,
    msg: EventMessage,
    item: Inbound,
    rows: Rows,
    deferred: list[tuple[str, Any, Inbound]],
    text: str | None = None,
) -> str:
    if rows.has_phase(msg.message_id):
        rows.check_same(msg)
        return "duplicate"
    ev = check_event(rows, msg)
    missing = check_refs(rows, msg.evidence, msg.event_id, msg)
    add_refs(session, rows, missing, msg.event_id, msg)
    ts = utc(msg.ts)
    if ev is None:
        ev = Event(
            event_id=msg.event_id,
            site_id=msg.site_id,
            camera_id=msg.camera_id,
            zone_id=msg.zone_id,
            shop_id=msg.shop_id,
            violation=msg.violation,
            phase=msg.phase,
            last_seq=msg.seq,
            first_ts=ts,
            last_ts=ts,
            score=msg.score,
            lat=msg.geo.lat if msg.geo else None,
            lon=msg.geo.lon if msg.geo else None,
            source_kind=msg.source_kind,
            phase_count=1,
        )
        session.add(ev)
        rows.events[msg.event_id] = ev
    else:
        ev.first_ts = min(aware(ev.first_ts), ts)
        ev.last_ts = max(aware(ev.last_ts), ts)
        if msg.seq >= ev.last_seq:
            ev.phase, ev.last_seq = msg.phase, msg.seq
        ev.score = max(ev.score, msg.score)
        ev.phase_count += 1
        ev.updated_at = now_utc()
    session.add(
        EventPhaseRecord(
            message_id=msg.message_id,
            event_id=msg.event_id,
            seq=msg.seq,
            phase=msg.phase,
            ts=ts,
            sent_at=msg.sent_at,
            payload=text if text is not None else item.payload.decode("utf-8"),
        )
    )
    rows.phases.add(msg.message_id)
    rows.added[msg.message_id] = msg
    deferred.append(("handle_event", msg, item))
    return "stored"

def check_event(rows: Rows, msg: EventMessage) -> Event | None:
    """The event's row, if any; raises Rejected when it belongs to another camera or violation."""
    ev = rows.event(msg.event_id)
    if ev is not None and (ev.site_id, ev.camera_id, ev.violation) != (
        msg.site_id,
        msg.camera_id,
        msg.violation,
    ):
        raise Rejected(f"event {msg.event_id} already belongs to {ev.site_id}/{ev.camera_id} ({ev.violation})", msg)
    return ev

def check_evidence(rows: Rows, msg: EvidenceMessage, owner: Any) -> bool:
    """True when the picture still needs storing; raises Rejected when it disagrees with the row its event
    (or an earlier copy) made."""
    if rows.has_evidence_message(msg.message_id):
        rows.check_same_evidence(msg, owner)
        return False
    ev = rows.evidence(msg.evidence_id)
    if ev is None:
        return True
    if ev.sha256 != msg.sha256:
        raise Rejected(
            f"evidence {msg.evidence_id}: sha256 {msg.sha256[:16]}… does not match the "
            f"{ev.sha256[:16]}… its event referenced",
            owner,
        )
    if ev.event_id != msg.event_id:
        raise Rejected(f"evidence {msg.evidence_id} belongs to {ev.event_id}, not {msg.event_id}", owner)
    return not ev.stored

def store_bundle(
    session: Session,
    bundle: Bundle,
    item: Inbound,
    rows: Rows,
    deferred: list[tuple[str, Any, Inbound]],
    put: PutPicture,
) -> str:
    """The head and its attached pictures: every check first (a Rejected leaves the session untouched),
    then the rows, all in the caller's transaction."""
    head = bundle.head
    if isinstance(head, EventMessage):
        if rows.has_phase(head.message_id):
            rows.check_same(head)
            return "duplicate"
        check_event(rows, head)
    elif rows.has_recheck(head.message_id):
        rows.check_same(head)
        return "duplicate"
    attached = {e.evidence_id for e in bundle.evidence}
    apart = [r for r in head.evidence if r.evidence_id not in attached]
    check_refs(rows, apart, evidence_owner(head), bundle)
    fresh = [e for e in bundle.evidence if check_evidence(rows, e, bundle)]
    for ev in fresh:
        add_evidence(session, ev, rows, put)
    text = head.model_dump_json()
    if isinstance(head, EventMessage):
        return store_event(session, head, item, rows, deferred, text=text)
    return store_recheck(session, head, item, rows, deferred, text=text)

def store_evidence(session: Session, msg: EvidenceMessage, rows: Rows, put: PutPicture) -> str:
    if not check_evidence(rows, msg, msg):
        return "duplicate"
    add_evidence(session, msg, rows, put)
    return "stored"

def add_evidence(session: Session, msg: EvidenceMessage, rows: Rows, put: PutPicture) -> None:
    ev = rows.evidence(msg.evidence_id)
    data = msg.data()
    # content-addressed and atomic; durable once the batch's flush() runs, before the commit (the prepare
    # stage has usually written and synced it already). A rolled-back transaction leaves an unreferenced
    # blob behind, nothing worse.
    put(msg.sha256, data)
    if ev is None:
        ev = Evidence(
            evidence_id=msg.evidence_id,
            sha256=msg.sha256,
            event_id=msg.event_id,
            kind=msg.kind,
            site_id=msg.site_id,
            camera_id=msg.camera_id,
        )
        session.add(ev)
        rows.evidence_rows[msg.evidence_id] = ev
    ev.size, ev.width, ev.height, ev.kind = len(data), msg.width, msg.height, msg.kind
    ev.stored, ev.message_id, ev.stored_at = True, msg.message_id, now_utc()
    rows.evidence_messages.add(msg.message_id)

def store_recheck(
    session: Session,
    msg: RecheckResult,
    item: Inbound,
    rows: Rows,
    deferred: list[tuple[str, Any, Inbound]],
    text: str | None = None,
) -> str:
    if rows.has_recheck(msg.message_id):
        rows.check_same(msg)
        return "duplicate"
    owner = recheck_evidence_owner(msg.command_id)
    missing = check_refs(rows, msg.evidence, owner, msg)
    add_refs(session, rows, missing, owner, msg)
    session.add(
        RecheckRecord(
            message_id=msg.message_id,
            command_id=msg.command_id,
            case_id=msg.case_id,
            site_id=msg.site_id,
            camera_id=msg.camera_id,
            zone_id=msg.zone_id,
            result=msg.result,
            ts=utc(msg.ts),
            payload=text if text is not None else item.payload.decode("utf-8"),
        )
    )
    rows.rechecks.add(msg.message_id)
    rows.added[msg.message_id] = msg
    deferred.append(("handle_recheck", msg, item))
    return "stored"

def apply_status(session: Session, msg: StatusMessage) -> str:
    now = now_utc()
    if msg.state == "offline":
        # the last will names one camera; the whole edge is gone
        session.execute(
            update(EdgeStatus)
            .where(EdgeStatus.edge_id == msg.edge_id, EdgeStatus.site_id == msg.site_id)
            .values(state="offline", detail=msg.detail, updated_at=now)
        )
    row = session.get(EdgeStatus, (msg.site_id, msg.camera_id))
    credible = True
    if row is None:
        row = EdgeStatus(site_id=msg.site_id, camera_id=msg.camera_id)
        session.add(row)
    else:
        # a stored time in central's future came from an edge clock that was ahead: it orders nothing (else
        # every status after the clock is put right would count as older until real time caught up)
        credible = (row.sent_at or 0.0) <= time.time() + _CLOCK_TOLERANCE_S
        if credible and msg.state != "offline" and msg.sent_at < row.sent_at:
            return "status"  # an older status overtaken by a newer one
    row.edge_id, row.state, row.source_state, row.fps = msg.edge_id, msg.state, msg.source_state, msg.fps
    row.spool_depth, row.spool_bytes, row.detail = msg.spool_depth, msg.spool_bytes, msg.detail
    row.sent_at = max(msg.sent_at, row.sent_at or 0.0) if credible else msg.sent_at
    row.updated_at = now
    zone_editor.note_status(session, msg)  # realigned zones a bumped camera proposes (or their withdrawal)
    session.flush()
    return "status"

def dead_letter(
    session: Session, item: Inbound, reason: str, msg: Any = None, *, savepoint: bool = True
) -> None:
    site = camera = None
    try:
        t = topics.parse(item.topic)
        site, camera = t.site_id, t.camera_id
    except ValueError:
        pass
    row = DeadLetter(
        topic=item.topic[:512],
        reason=reason[:1000],
        message_id=getattr(msg, "message_id", None),
        site_id=site,
        camera_id=camera,
        payload_size=len(item.payload),
        payload=item.payload[:DEAD_LETTER_KEEP_BYTES],
    )
    if savepoint:
        with session.begin_nested():
            session.add(row)
    else:
        session.add(row)
    log.warning("dead letter from %s: %s", item.topic, reason)
