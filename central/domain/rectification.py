"""After the operator's decision: the rectification window, the camera recheck, officer tasks, penalties and
closing (the right half of the state machine in `central.domain.cases`). Every change writes an audit record.
Functions flush but never commit."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.domain import audit, strikes
from central.domain.cases import _evidence, _set_state, get_case
from central.domain.clock import as_utc, now_utc
from central.domain.errors import EvidenceRequired, InvalidTransition, NotFound, PenaltyRequired
from central.domain.scope import EVERYWHERE, Scope
from central.orm.cases import Case, OfficerTask, Penalty
from central.settings import CentralSettings
from wire.schema import CommandMessage, RecheckResult

log = logging.getLogger("doorline.central.cases")


def _officer_task(session: Session, case: Case, kind: str, reason: str, now: datetime) -> OfficerTask:
    task = OfficerTask(case_id=case.id, shop_id=case.shop_id, kind=kind, reason=reason, created_at=now)
    case.tasks.append(task)
    session.flush()
    return task


def start_recheck(session: Session, case: Case, *, settings: CentralSettings, now: datetime) -> None:
    """The self-rectification window is over: ask the camera that saw it, or an officer."""
    if case.state != "notified":
        raise InvalidTransition(f"case {case.id} is {case.state}; recheck starts from notified")
    if case.source_kind == "fixed" and case.camera_id and case.zone_id and case.site_id:
        from central.outbox import enqueue_command

        cmd = CommandMessage(
            site_id=case.site_id,
            camera_id=case.camera_id,
            cmd="recheck",
            zone_id=case.zone_id,
            case_id=case.id,
        )
        enqueue_command(session, cmd)
        case.recheck_command_id = cmd.command_id
        case.recheck_sent_at = now
        case.recheck_deadline = now + timedelta(seconds=settings.recheck_timeout_s)
        _set_state(
            session,
            case,
            "rechecking",
            actor="system",
            action="case.recheck_sent",
            now=now,
            details={
                "command_id": cmd.command_id,
                "camera_id": case.camera_id,
                "zone_id": case.zone_id,
                "episode_ended": case.end_seen_at is not None,
            },
        )
    else:
        task = _officer_task(session, case, "recheck", "no camera can recheck this case", now)
        _set_state(
            session,
            case,
            "officer_recheck",
            actor="system",
            action="case.officer_recheck",
            now=now,
            details={"task_id": task.id, "reason": task.reason},
        )


def recheck_timed_out(session: Session, case: Case, *, now: datetime) -> None:
    if case.state != "rechecking":
        raise InvalidTransition(f"case {case.id} is {case.state}; not waiting for a recheck")
    task = _officer_task(
        session, case, "recheck", f"camera gave no recheck answer for command {case.recheck_command_id}", now
    )
    _set_state(
        session,
        case,
        "officer_recheck",
        actor="system",
        action="case.recheck_timeout",
        now=now,
        details={"task_id": task.id, "command_id": case.recheck_command_id},
    )


def _has_penalty(case: Case) -> bool:
    return bool(case.penalties)


def _needs_penalty(case: Case) -> bool:
    return (case.strike or 0) >= strikes.PENALTY_STRIKE and not _has_penalty(case)


def _rectified(
    session: Session,
    case: Case,
    *,
    actor: str,
    action: str,
    now: datetime,
    self_fixed: bool,
    details: dict[str, Any],
    settings: CentralSettings,
    evidence: list[str] | None = None,
) -> None:
    case.self_rectified = self_fixed
    if _needs_penalty(case):
        sanction = strikes.sanction(case.strike or 0, self_rectified=self_fixed, settings=settings)
        reason = f"strike {case.strike}: issue a penalty ticket"
        if sanction == "lighter_penalty":
            reason += " (从轻处罚 lighter penalty: the shop fixed it in its window)"
        task = _officer_task(session, case, "penalty", reason, now)
        _set_state(
            session,
            case,
            "penalty_due",
            actor=actor,
            action=action,
            now=now,
            details={**details, "task_id": task.id, "self_rectified": self_fixed, "sanction": sanction},
            evidence=evidence,
        )
    else:
        case.closed_reason = "rectified by the shop" if self_fixed else "rectified"
        _set_state(
            session,
            case,
            "rectified",
            actor=actor,
            action=action,
            now=now,
            details={**details, "self_rectified": self_fixed},
            evidence=evidence,
        )


def apply_recheck(
    session: Session, msg: RecheckResult, *, settings: CentralSettings, now: datetime | None = None
) -> Case | None:
    """The edge's answer to a recheck command. Unknown or stale answers are recorded, not applied."""
    now = as_utc(now) or now_utc()
    case = get_case(session, msg.case_id, lock=True) if msg.case_id and session.get(Case, msg.case_id) else None
    if case is None:
        stmt = select(Case).where(Case.recheck_command_id == msg.command_id)
        case = session.scalar(stmt.with_for_update().execution_options(populate_existing=True))
    if case is None:
        log.warning("recheck result for unknown case %s / command %s", msg.case_id, msg.command_id)
        return None
    ev = _evidence(msg)
    info = {"command_id": msg.command_id, "result": msg.result, "score": msg.score, "detail": msg.detail}
    if case.state != "rechecking" or case.recheck_command_id != msg.command_id:
        audit.record(
            session,
            actor="edge",
            action="case.recheck_ignored",
            case_id=case.id,
            shop_id=case.shop_id,
            at=now,
            details={**info, "state": case.state},
            evidence=ev,
        )
        return case
    case.recheck_result = msg.result
    case.evidence = [*case.evidence, *ev]
    if msg.result == "clear":
        _rectified(
            session,
            case,
            actor="edge",
            action="case.recheck",
            now=now,
            self_fixed=True,
            details=info,
            settings=settings,
            evidence=ev,
        )
    elif msg.result == "present":
        task = _officer_task(session, case, "escalation", "still present after the self-rectification window", now)
        _set_state(
            session,
            case,
            "escalated",
            actor="edge",
            action="case.recheck",
            now=now,
            details={**info, "task_id": task.id},
            evidence=ev,
        )
    else:
        task = _officer_task(session, case, "recheck", f"camera could not judge the zone: {msg.detail}", now)
        _set_state(
            session,
            case,
            "officer_recheck",
            actor="edge",
            action="case.recheck",
            now=now,
            details={**info, "task_id": task.id},
            evidence=ev,
        )
    from central.domain import grades

    grades.regrade_shops(session, [case.shop_id], now=now, settings=settings, reason_prefix="recheck")
    return case


def complete_task(
    session: Session,
    task_id: int,
    *,
    actor: str,
    outcome: str,
    note: str = "",
    evidence: list[str] | None = None,
    settings: CentralSettings,
    now: datetime | None = None,
    scope: Scope = EVERYWHERE,
) -> OfficerTask:
    """An officer reports back. recheck: clear | present; escalation: resolved; penalty: done (after the
    penalty is recorded). A recheck or escalation result needs the officer's photo(s) (`evidence`, sha256s
    in the evidence store). "clear" while the camera's episode has not ended is flagged: the case closes on
    the officer's word and photo, but not as fixed by the shop."""
    now = as_utc(now) or now_utc()
    evidence = [e.lower() for e in (evidence or [])]
    task = session.get(OfficerTask, task_id)
    if task is None:
        raise NotFound(f"no officer task {task_id}")
    scope.check_shop_id(session, task.shop_id, f"officer task {task_id}")
    if task.status != "open":
        raise InvalidTransition(f"task {task_id} is already {task.status}")
    case = get_case(session, task.case_id, lock=True)
    allowed = {"recheck": ("clear", "present"), "escalation": ("resolved",), "penalty": ("done",)}[task.kind]
    if outcome not in allowed:
        raise InvalidTransition(f"a {task.kind} task ends with one of {', '.join(allowed)}, not {outcome!r}")
    if task.kind == "penalty" or (task.kind == "escalation" and outcome == "resolved"):
        if _needs_penalty(case):
            raise PenaltyRequired(f"case {case.id} is strike {case.strike}: record a penalty before closing it")
    if task.kind in ("recheck", "escalation") and not evidence:
        raise EvidenceRequired(f"a {task.kind} result needs the officer's photo of the door strip")
    task.status, task.done_at, task.done_by, task.outcome, task.note = "done", now, actor, outcome, note
    if evidence:
        case.evidence = [*case.evidence, *evidence]
    session.flush()
    details = {"task_id": task.id, "kind": task.kind, "outcome": outcome, "note": note}
    if task.kind == "recheck" and case.state == "officer_recheck":
        if outcome == "clear":
            in_window = (
                case.end_seen_at is not None
                and case.window_ends_at is not None
                and as_utc(case.end_seen_at) <= as_utc(case.window_ends_at)
            )
            # a fixed camera whose episode never ended still sees the goods: the officer's "clear" is
            # recorded, and flagged for review, but it is no evidence that the shop fixed it in time
            edge_sees = case.source_kind == "fixed" and bool(case.camera_id) and case.end_seen_at is None
            if edge_sees:
                details["flag"] = "the camera's episode had not ended when the officer reported clear"
            _rectified(
                session,
                case,
                actor=actor,
                action="case.officer_recheck_done",
                now=now,
                self_fixed=in_window or (case.end_seen_at is None and not edge_sees),
                details=details,
                settings=settings,
                evidence=evidence,
            )
            if edge_sees and case.state == "rectified":
                case.closed_reason = "rectified (flagged: the camera still saw it when the officer reported clear)"
            if edge_sees:
                audit.record(session, actor="system", action="case.flagged", case_id=case.id, shop_id=case.shop_id,
                             at=now, details={"task_id": task.id, "reason": details["flag"]})
        else:
            esc = _officer_task(session, case, "escalation", "officer found it still present", now)
            _set_state(
                session,
                case,
                "escalated",
                actor=actor,
                action="case.officer_recheck_done",
                now=now,
                details={**details, "escalation_task_id": esc.id},
                evidence=evidence,
            )
    elif task.kind in ("escalation", "penalty") and case.is_open:
        case.closed_reason = note or f"{task.kind} task done"
        _set_state(session, case, "resolved", actor=actor, action=f"case.{task.kind}_done", now=now, details=details,
                   evidence=evidence)
    else:
        audit.record(
            session,
            actor=actor,
            action="task.done",
            case_id=case.id,
            shop_id=case.shop_id,
            at=now,
            details=details,
            evidence=evidence,
        )
    return task


def record_penalty(
    session: Session,
    case_id: str,
    *,
    actor: str,
    ticket_no: str,
    amount: float = 0.0,
    note: str = "",
    now: datetime | None = None,
    scope: Scope = EVERYWHERE,
) -> Penalty:
    now = as_utc(now) or now_utc()
    case = get_case(session, case_id, lock=True, scope=scope)
    if case.state == "dismissed":
        raise InvalidTransition(f"case {case_id} was dismissed; no penalty can be recorded")
    pen = Penalty(
        case_id=case.id,
        shop_id=case.shop_id,
        ticket_no=ticket_no,
        amount=amount,
        issued_by=actor,
        issued_at=now,
        note=note,
    )
    case.penalties.append(pen)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="case.penalty",
        case_id=case.id,
        shop_id=case.shop_id,
        at=now,
        details={"penalty_id": pen.id, "ticket_no": ticket_no, "amount": amount, "note": note},
    )
    if case.state == "penalty_due":
        for t in case.tasks:
            if t.kind == "penalty" and t.status == "open":
                t.status, t.done_at, t.done_by, t.outcome = "done", now, actor, "done"
        case.closed_reason = f"rectified; penalty {ticket_no}"
        _set_state(
            session,
            case,
            "rectified",
            actor=actor,
            action="case.close",
            now=now,
            details={"penalty_id": pen.id},
        )
    return pen


def close_case(
    session: Session,
    case_id: str,
    *,
    actor: str,
    reason: str,
    evidence: list[str] | None = None,
    now: datetime | None = None,
    scope: Scope = EVERYWHERE,
) -> Case:
    """Close an open case by hand (e.g. an officer settled it). Strike ≥3 needs a penalty first; closing
    needs evidence: the officer's photo(s) (`evidence`), or the camera's recheck frame showing it clear."""
    now = as_utc(now) or now_utc()
    evidence = [e.lower() for e in (evidence or [])]
    case = get_case(session, case_id, lock=True, scope=scope)
    if not case.is_open:
        raise InvalidTransition(f"case {case_id} is already closed ({case.state})")
    if case.state == "detected":
        raise InvalidTransition(f"case {case_id} is not confirmed yet: confirm or dismiss it")
    if _needs_penalty(case):
        raise PenaltyRequired(f"case {case_id} is strike {case.strike}: record a penalty before closing it")
    if not evidence and case.recheck_result != "clear":
        raise EvidenceRequired(f"case {case_id} closes only with evidence: a photo of the door strip")
    for t in case.tasks:
        if t.status == "open":
            t.status, t.done_at, t.done_by, t.outcome = "done", now, actor, "closed"
    case.closed_reason = reason
    if evidence:
        case.evidence = [*case.evidence, *evidence]
    _set_state(session, case, "resolved", actor=actor, action="case.close", now=now, details={"reason": reason},
               evidence=evidence or None)
    return case
