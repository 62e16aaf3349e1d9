"""Cases and their decisions (confirm, dismiss, close, penalty), officer tasks, the ownerless queue, and
the case audit trail."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from central.api.bounds import IntId, Offset
from central.api.deps import (
    AdminUser,
    OfficerUser,
    ReviewerUser,
    ScopeDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    ViewerUser,
)
from central.domain import audit, cases, ownerless, rectification
from central.domain.photos import require_photos
from central.orm.cases import Case, CaseEvent, OfficerTask

router = APIRouter(prefix="/api/cases", tags=["cases"])

State = Literal[
    "detected",
    "notified",
    "rechecking",
    "officer_recheck",
    "escalated",
    "penalty_due",
    "rectified",
    "resolved",
    "dismissed",
    "annulled",
]


class NoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    strike: int
    recipient: str
    text: str
    created_at: datetime


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: str
    shop_id: str
    kind: str
    reason: str
    status: str
    created_at: datetime
    done_at: datetime | None
    done_by: str | None
    outcome: str | None
    note: str


class PenaltyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_no: str
    amount: float
    issued_by: str
    issued_at: datetime
    note: str


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    shop_id: str
    violation: str
    state: str
    is_open: bool
    site_id: str | None
    camera_id: str | None
    zone_id: str | None
    source_kind: str
    lat: float | None
    lon: float | None
    score: float
    event_count: int
    evidence: list[str]
    opened_at: datetime
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    confirmed_at: datetime | None
    confirmed_by: str | None
    strike: int | None
    notified_at: datetime | None
    window_ends_at: datetime | None
    end_seen_at: datetime | None
    recheck_command_id: str | None
    recheck_sent_at: datetime | None
    recheck_deadline: datetime | None
    recheck_result: str | None
    self_rectified: bool
    closed_at: datetime | None
    closed_reason: str | None


class CaseDetail(CaseOut):
    notices: list[NoticeOut]
    tasks: list[TaskOut]
    penalties: list[PenaltyOut]
    event_ids: list[str] = []


class CasePage(BaseModel):
    total: int
    items: list[CaseOut]


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class PenaltyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_no: str = Field(min_length=1, max_length=100)
    amount: float = Field(default=0.0, ge=0)
    note: str = Field(default="", max_length=2000)


Photos = Annotated[
    list[Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]],
    Field(max_length=20, description="sha256s of photos uploaded with POST /api/evidence"),
]


class TaskDone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["clear", "present", "resolved", "done"]
    note: str = Field(default="", max_length=2000)
    evidence: Photos = Field(default_factory=list)


class CloseIn(Reason):
    evidence: Photos = Field(default_factory=list)


class OwnerlessOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event_id: str
    site_id: str
    camera_id: str
    zone_id: str | None
    reported_shop_id: str | None
    violation: str
    source_kind: str
    lat: float | None
    lon: float | None
    score: float
    seen_at: datetime
    evidence: list[str]
    status: str
    shop_id: str | None
    case_id: str | None


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: str = Field(min_length=1, max_length=64)
    remember: bool = Field(default=True, description="remember this camera zone for the shop")


class AuditOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    case_id: str | None
    shop_id: str | None
    details: dict[str, Any]
    evidence: list[str]
    hash: str


@router.get("", response_model=CasePage)
def list_cases(
    session: SessionDep,
    _: ViewerUser,
    scope: ScopeDep,
    state: State | None = None,
    shop_id: str | None = None,
    open: bool | None = None,
    violation: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    stmt = scope.filter(select(Case), Case.shop_id)
    if state:
        stmt = stmt.where(Case.state == state)
    if shop_id:
        stmt = stmt.where(Case.shop_id == shop_id)
    if open is not None:
        stmt = stmt.where(Case.is_open.is_(open))
    if violation:
        stmt = stmt.where(Case.violation == violation)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = list(session.scalars(stmt.order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit).offset(offset)))
    return {"total": total, "items": items}


# ---- ownerless queue and officer tasks (before /{case_id} so the paths do not collide)


@router.get("/ownerless", response_model=list[OwnerlessOut], tags=["ownerless"])
def ownerless_queue(
    session: SessionDep,
    _: ViewerUser,
    scope: ScopeDep,
    status: Literal["open", "assigned", "dismissed"] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Any:
    return ownerless.queue(session, status=status, limit=limit, offset=offset, scope=scope)


@router.post("/ownerless/{event_id}/assign", response_model=list[CaseOut], tags=["ownerless"])
def assign_ownerless(
    event_id: str, body: AssignIn, session: SessionDep, settings: SettingsDep, user: ReviewerUser, scope: ScopeDep
) -> Any:
    """Give the event to a shop; with `remember` its zone's later events match that shop by themselves."""
    touched = ownerless.assign(
        session, event_id, body.shop_id, actor=user.username, settings=settings, remember=body.remember,
        scope=scope,
    )
    session.commit()
    return touched


@router.post("/ownerless/{event_id}/dismiss", status_code=204, tags=["ownerless"])
def dismiss_ownerless(event_id: str, body: Reason, session: SessionDep, user: ReviewerUser, scope: ScopeDep) -> None:
    ownerless.dismiss(session, event_id, actor=user.username, reason=body.reason, scope=scope)
    session.commit()


@router.get("/tasks", response_model=list[TaskOut], tags=["tasks"])
def officer_tasks(
    session: SessionDep,
    _: ViewerUser,
    scope: ScopeDep,
    status: Literal["open", "done"] = "open",
    kind: Literal["recheck", "escalation", "penalty"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> Any:
    stmt = scope.filter(select(OfficerTask).where(OfficerTask.status == status), OfficerTask.shop_id)
    if kind:
        stmt = stmt.where(OfficerTask.kind == kind)
    return list(session.scalars(stmt.order_by(OfficerTask.created_at, OfficerTask.id).limit(limit).offset(offset)))


@router.post("/tasks/{task_id}/complete", response_model=TaskOut, tags=["tasks"])
def complete_task(task_id: IntId, body: TaskDone, session: SessionDep, settings: SettingsDep, store: StoreDep,
                  user: OfficerUser, scope: ScopeDep) -> Any:
    """recheck → clear | present; escalation → resolved (both with the officer's photo in `evidence`);
    penalty → done (after the penalty is recorded). Officers too (as on their /officer pages), for the tasks
    of their area."""
    task = rectification.complete_task(
        session, task_id, actor=user.username, outcome=body.outcome, note=body.note,
        evidence=require_photos(store, body.evidence), settings=settings, scope=scope,
    )
    session.commit()
    return task


@router.get("/audit/verify", tags=["audit"])
def verify_audit(session: SessionDep, _: AdminUser) -> dict[str, Any]:
    problems = audit.verify_chain(session)
    return {"intact": not problems, "problems": problems}


# ---- one case


def _detail(session, case: Case) -> dict[str, Any]:
    out = CaseOut.model_validate(case).model_dump()
    out["notices"], out["tasks"], out["penalties"] = case.notices, case.tasks, case.penalties
    out["event_ids"] = list(
        session.scalars(select(CaseEvent.event_id).where(CaseEvent.case_id == case.id).order_by(CaseEvent.attached_at))
    )
    return out


@router.get("/{case_id}", response_model=CaseDetail)
def get_case(case_id: str, session: SessionDep, _: ViewerUser, scope: ScopeDep) -> Any:
    return _detail(session, cases.get_case(session, case_id, scope=scope))


@router.get("/{case_id}/audit", response_model=list[AuditOut])
def case_audit(case_id: str, session: SessionDep, _: ViewerUser, scope: ScopeDep) -> Any:
    cases.get_case(session, case_id, scope=scope)
    return [
        {
            "seq": r.seq,
            "at": r.at,
            "actor": r.actor,
            "action": r.action,
            "case_id": r.case_id,
            "shop_id": r.shop_id,
            "details": json.loads(r.details),
            "evidence": json.loads(r.evidence),
            "hash": r.hash,
        }
        for r in audit.trail(session, case_id)
    ]


@router.post(
    "/{case_id}/confirm",
    response_model=CaseDetail,
    responses={409: {"description": "the case is not waiting for a decision"}},
)
def confirm_case(case_id: str, body: Note, session: SessionDep, settings: SettingsDep, user: ReviewerUser,
                 scope: ScopeDep) -> Any:
    case = cases.confirm(session, case_id, actor=user.username, settings=settings, note=body.note, scope=scope)
    session.commit()
    return _detail(session, case)


@router.post("/{case_id}/dismiss", response_model=CaseDetail)
def dismiss_case(case_id: str, body: Reason, session: SessionDep, user: ReviewerUser, scope: ScopeDep) -> Any:
    case = cases.dismiss(session, case_id, actor=user.username, reason=body.reason, scope=scope)
    session.commit()
    return _detail(session, case)


@router.post("/{case_id}/penalty", response_model=CaseDetail)
def record_penalty(case_id: str, body: PenaltyIn, session: SessionDep, user: ReviewerUser, scope: ScopeDep) -> Any:
    rectification.record_penalty(
        session, case_id, actor=user.username, ticket_no=body.ticket_no, amount=body.amount, note=body.note,
        scope=scope,
    )
    session.commit()
    return _detail(session, cases.get_case(session, case_id))


@router.post(
    "/{case_id}/close",
    response_model=CaseDetail,
    responses={409: {"description": "strike 3 or later without a penalty, or already closed"},
               422: {"description": "no evidence: a photo, or the camera's recheck frame"}},
)
def close_case(case_id: str, body: CloseIn, session: SessionDep, store: StoreDep, user: ReviewerUser,
               scope: ScopeDep) -> Any:
    case = rectification.close_case(session, case_id, actor=user.username, reason=body.reason,
                            evidence=require_photos(store, body.evidence), scope=scope)
    session.commit()
    return _detail(session, case)
