"""Console pages for what comes from outside: notice delivery (dead letters to re-send, notices still
waiting), owners' open appeals (uphold / reject) and citizen reports (confirm / reject). Reviewers and
admins."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select

from central.api.bounds import IntId
from central.api.deps import SessionDep, SettingsDep, check_same_origin
from central.domain import appeals, audit, citizen_reports
from central.domain.clock import now_utc
from central.domain.errors import DomainError, NotFound
from central.domain.scope import Scope
from central.notices import outbox
from central.orm.notices import Appeal, NoticeDelivery
from central.orm.reports import CitizenReport
from central.orm.shops import Shop
from central.web.render import console_user, page, require_console_role

router = APIRouter(prefix="/console/notices", include_in_schema=False)
reports_router = APIRouter(prefix="/console/reports", include_in_schema=False)


def _back(msg: str) -> RedirectResponse:
    return RedirectResponse(f"/console/notices?msg={quote(msg)}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("", response_class=HTMLResponse)
def notices_page(request: Request, session: SessionDep) -> HTMLResponse:
    user = console_user(request, session)
    require_console_role(user, "reviewer")
    scope = Scope.of(user)
    mine = scope.by_shop(NoticeDelivery.shop_id)
    dead = list(session.scalars(select(NoticeDelivery).where(NoticeDelivery.status == "dead", mine)
                                .order_by(NoticeDelivery.id.desc()).limit(200)))
    waiting = list(session.scalars(select(NoticeDelivery).where(NoticeDelivery.status == "pending", mine)
                                   .order_by(NoticeDelivery.next_attempt_at).limit(50)))
    counts = dict(session.execute(select(NoticeDelivery.status, func.count()).where(mine)
                                  .group_by(NoticeDelivery.status)).all())
    waiting_appeals = list(session.scalars(select(Appeal).where(Appeal.status == "open", scope.by_shop(Appeal.shop_id))
                                           .order_by(Appeal.id)))
    return page(request, "notices.html", {"user": user, "active": "notices", "msg": request.query_params.get("msg"),
                                          "dead": dead, "waiting": waiting, "counts": counts,
                                          "appeals": waiting_appeals})


@router.post("/{delivery_id}/resend")
def resend(delivery_id: IntId, request: Request, session: SessionDep) -> RedirectResponse:
    check_same_origin(request)
    user = console_user(request, session)
    require_console_role(user, "reviewer")
    try:
        found = session.get(NoticeDelivery, delivery_id)
        if found is None:
            raise NotFound(f"no notice delivery {delivery_id}")
        Scope.of(user).check_shop_id(session, found.shop_id, f"notice delivery {delivery_id}")
        row = outbox.resend(session, delivery_id)
        audit.record(session, actor=user.username, action="notice.resend", case_id=row.case_id,
                     shop_id=row.shop_id, at=now_utc(), details={"delivery_id": row.id})
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _back(exc.message)
    return _back(f"#{delivery_id} ↻")


@router.post("/appeals/{appeal_id}")
def decide(appeal_id: IntId, request: Request, session: SessionDep, settings: SettingsDep,
           outcome: Annotated[Literal["upheld", "rejected"], Form()],
           note: Annotated[str, Form(max_length=1000)] = "") -> RedirectResponse:
    check_same_origin(request)
    user = console_user(request, session)
    require_console_role(user, "reviewer")
    appeal = session.get(Appeal, appeal_id)
    if appeal is None or not (Scope.of(user).everywhere or Scope.of(user).covers(session.get(Shop, appeal.shop_id))):
        return _back(f"#{appeal_id} —")
    try:  # upheld: the case is annulled, its strike stops counting, the shop is regraded; the owner is told
        appeals.decide(session, appeal_id, outcome=outcome, actor=user.username, settings=settings,
                       note=note.strip())
    except DomainError:
        session.rollback()
        return _back(f"#{appeal_id} —")
    session.commit()
    return _back(f"#{appeal_id} {outcome}")


@reports_router.get("", response_class=HTMLResponse)
def reports_page(request: Request, session: SessionDep) -> HTMLResponse:
    user = console_user(request, session)
    require_console_role(user, "reviewer")
    rows = list(session.scalars(select(CitizenReport).where(CitizenReport.status == "open")
                                .order_by(CitizenReport.id).limit(200)))
    return page(request, "reports.html", {"user": user, "active": "reports", "msg": request.query_params.get("msg"),
                                          "reports": rows, "tally": citizen_reports.tally(session)[:20]})


@reports_router.post("/{report_id}")
def decide_report(report_id: IntId, request: Request, session: SessionDep, settings: SettingsDep,
                  outcome: Annotated[Literal["confirm", "reject"], Form()],
                  shop_id: Annotated[str, Form()] = "") -> RedirectResponse:
    check_same_origin(request)
    user = console_user(request, session)
    require_console_role(user, "reviewer")
    try:
        if outcome == "confirm":
            citizen_reports.confirm(session, report_id, actor=user.username, settings=settings,
                                    shop_id=shop_id.strip() or None)
        else:
            citizen_reports.reject(session, report_id, actor=user.username)
        session.commit()
    except DomainError as exc:
        session.rollback()
        msg = exc.message
    else:
        msg = f"#{report_id} {outcome}"
    return RedirectResponse(f"/console/reports?msg={quote(msg)}", status_code=status.HTTP_303_SEE_OTHER)
