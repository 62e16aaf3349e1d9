"""Console page for notice delivery: dead letters (re-send), notices still waiting, and owners' open
appeals (uphold / reject). Reviewers and admins."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select

from central.api.deps import SessionDep, check_same_origin
from central.domain import audit
from central.domain.clock import now_utc
from central.domain.errors import DomainError
from central.notices import outbox
from central.orm.notices import Appeal, NoticeDelivery
from central.web.render import console_user, page, require_console_role

router = APIRouter(prefix="/console/notices", include_in_schema=False)


def _back(msg: str) -> RedirectResponse:
    return RedirectResponse(f"/console/notices?msg={quote(msg)}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("", response_class=HTMLResponse)
def notices_page(request: Request, session: SessionDep) -> HTMLResponse:
    user = console_user(request, session)
    require_console_role(user, "reviewer")
    dead = list(session.scalars(select(NoticeDelivery).where(NoticeDelivery.status == "dead")
                                .order_by(NoticeDelivery.id.desc()).limit(200)))
    waiting = list(session.scalars(select(NoticeDelivery).where(NoticeDelivery.status == "pending")
                                   .order_by(NoticeDelivery.next_attempt_at).limit(50)))
    counts = dict(session.execute(select(NoticeDelivery.status, func.count()).group_by(NoticeDelivery.status)).all())
    appeals = list(session.scalars(select(Appeal).where(Appeal.status == "open").order_by(Appeal.id)))
    return page(request, "notices.html", {"user": user, "active": "notices", "msg": request.query_params.get("msg"),
                                          "dead": dead, "waiting": waiting, "counts": counts, "appeals": appeals})


@router.post("/{delivery_id}/resend")
def resend(delivery_id: int, request: Request, session: SessionDep) -> RedirectResponse:
    check_same_origin(request)
    user = console_user(request, session)
    require_console_role(user, "reviewer")
    try:
        row = outbox.resend(session, delivery_id)
        audit.record(session, actor=user.username, action="notice.resend", case_id=row.case_id,
                     shop_id=row.shop_id, at=now_utc(), details={"delivery_id": row.id})
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _back(exc.message)
    return _back(f"#{delivery_id} ↻")


@router.post("/appeals/{appeal_id}")
def decide(appeal_id: int, request: Request, session: SessionDep,
           outcome: Annotated[Literal["upheld", "rejected"], Form()]) -> RedirectResponse:
    check_same_origin(request)
    user = console_user(request, session)
    require_console_role(user, "reviewer")
    appeal = session.get(Appeal, appeal_id)
    if appeal is None or appeal.status != "open":
        return _back(f"#{appeal_id} —")
    appeal.status, appeal.decided_by, appeal.decided_at = outcome, user.username, now_utc()
    audit.record(session, actor=user.username, action=f"appeal.{outcome}", case_id=appeal.case_id,
                 shop_id=appeal.shop_id, at=appeal.decided_at, details={"appeal_id": appeal.id})
    session.commit()
    return _back(f"#{appeal_id} {outcome}")
