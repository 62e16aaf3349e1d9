"""The operator console (command centre): review queue, case detail, ownerless queue, shops with their grade
faces, grade shares over time, inspections due, edges. Plain HTML forms; works without JavaScript.

Decisions go through D1's domain functions (`central.domain.cases.confirm` / `dismiss`, ownerless
assignment), so the console and the REST API write the same way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.bounds import BoundedDay, IntId, PageNo
from central.api.deps import COOKIE_NAME, SessionDep, SettingsDep, check_same_origin
from central.api.routes.events import EventFilter, query_events
from central.api.security import request_is_https
from central.api.throttle import get_throttle
from central.auth import AuthError, authenticate, create_access_token, revoke_tokens, shop_link_token, user_for_token
from central.domain import cases
from central.domain import ownerless as ownerless_domain
from central.domain.errors import DomainError
from central.orm.cases import Case, CaseEvent
from central.orm.shops import Shop
from central.orm.users import User
from central.web import queries
from central.web.charts import grade_share_svg
from central.web.render import (
    console_user,
    page,
    require_console_role,
    safe_next,
)

router = APIRouter(prefix="/console", include_in_schema=False)


def _back(url: str, msg: str) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}msg={quote(msg)}", status_code=status.HTTP_303_SEE_OTHER)


def _ctx(request: Request, user: User | None, active: str, **extra: Any) -> dict[str, Any]:
    return {"user": user, "active": active, "msg": request.query_params.get("msg"), **extra}


# ---------------------------------------------------------------- login

@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/console") -> HTMLResponse:  # noqa: A002
    return page(request, "login.html", _ctx(request, None, "login", next=safe_next(next), error=None))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: SessionDep, settings: SettingsDep,
          username: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/console") -> Response:  # noqa: A002
    check_same_origin(request)
    throttle = get_throttle(request)
    key = throttle.key(request, username)
    try:
        throttle.check(key)
    except HTTPException as exc:
        return page(request, "login.html", _ctx(request, None, "login", next=safe_next(next),
                                                error=f"{exc.detail[0].upper()}{exc.detail[1:]}."),
                    status_code=exc.status_code)
    user = authenticate(session, username, password)
    if user is None:
        throttle.failed(key)
        return page(request, "login.html", _ctx(request, None, "login", next=safe_next(next),
                                                error="Wrong username or password."), status_code=401)
    throttle.succeeded(key)
    user.last_login_at = datetime.now(UTC)
    session.commit()
    token, _ = create_access_token(settings, user)
    resp = RedirectResponse(safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    resp.set_cookie(COOKIE_NAME, token, max_age=settings.token_ttl_s, httponly=True, samesite="lax",
                    secure=request_is_https(request, settings.trusted_proxies), path="/")
    return resp


@router.post("/logout")
def logout(request: Request, session: SessionDep, settings: SettingsDep) -> RedirectResponse:
    """Ends the session for good: the token is revoked server-side (with every other token of the account),
    so a copy of the cookie no longer works either."""
    check_same_origin(request)
    token = request.cookies.get(COOKIE_NAME)
    if token:
        try:
            revoke_tokens(user_for_token(session, settings, token))
            session.commit()
        except AuthError:
            pass  # already invalid: nothing to revoke
    resp = RedirectResponse("/console/login", status_code=status.HTTP_303_SEE_OTHER)
    resp.delete_cookie(COOKIE_NAME, path="/",
                       secure=request_is_https(request, settings.trusted_proxies), httponly=True, samesite="lax")
    return resp


# ---------------------------------------------------------------- review queue

@router.get("", response_class=HTMLResponse)
def queue(request: Request, session: SessionDep) -> HTMLResponse:
    user = console_user(request, session)
    rows, total = queries.review_queue(session)
    shops = queries.shop_names(session, {c.shop_id for c in rows})
    counts = queries.state_counts(session)
    _, ownerless = queries.ownerless_open(session, limit=0)
    return page(request, "queue.html", _ctx(request, user, "queue", cases=rows, total=total, shops=shops,
                                            counts=counts, ownerless=ownerless,
                                            can_decide=_can(user, "reviewer")))


def _can(user: User, role: str) -> bool:
    from central.auth import has_role

    return has_role(user.role, role)


def _decide(request: Request, session: Session, back: str, action: Callable[[User], str], failed: str
            ) -> RedirectResponse:
    """Run one reviewer decision through the domain: commit and report, or roll back and say why."""
    check_same_origin(request)
    user = console_user(request, session)
    require_console_role(user, "reviewer")
    try:
        done = action(user)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _back(safe_next(back), f"{failed}: {exc.message}")
    return _back(safe_next(back), done)


@router.post("/cases/{case_id}/confirm")
def confirm_case(case_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                 back: Annotated[str, Form()] = "/console",
                 note: Annotated[str, Form()] = "") -> RedirectResponse:
    def act(user: User) -> str:
        case = cases.confirm(session, case_id, actor=user.username, settings=settings, note=note)
        return f"Case {case.id} confirmed: strike {case.strike}, shop notified."

    return _decide(request, session, back, act, "Not confirmed")


@router.post("/cases/{case_id}/dismiss")
def dismiss_case(case_id: str, request: Request, session: SessionDep,
                 back: Annotated[str, Form()] = "/console",
                 reason: Annotated[str, Form()] = "false alarm") -> RedirectResponse:
    def act(user: User) -> str:
        case = cases.dismiss(session, case_id, actor=user.username, reason=reason or "false alarm")
        return f"Case {case.id} dismissed."

    return _decide(request, session, back, act, "Not dismissed")


@router.post("/cases/{case_id}/penalty")
def record_penalty(case_id: str, request: Request, session: SessionDep,
                   ticket_no: Annotated[str, Form(min_length=1, max_length=100)],
                   amount: Annotated[float, Form(ge=0)] = 0.0,
                   note: Annotated[str, Form(max_length=1000)] = "") -> RedirectResponse:
    def act(user: User) -> str:
        cases.record_penalty(session, case_id, actor=user.username, ticket_no=ticket_no.strip(),
                             amount=amount, note=note)
        return f"Penalty {ticket_no} recorded."

    return _decide(request, session, f"/console/cases/{case_id}", act, "No penalty recorded")


@router.post("/cases/{case_id}/close")
def close_case(case_id: str, request: Request, session: SessionDep,
               reason: Annotated[str, Form(min_length=1, max_length=1000)]) -> RedirectResponse:
    def act(user: User) -> str:
        cases.close_case(session, case_id, actor=user.username, reason=reason)
        return f"Case {case_id} closed."

    return _decide(request, session, f"/console/cases/{case_id}", act, "Not closed")


@router.post("/tasks/{task_id}/complete")
def complete_task(task_id: IntId, request: Request, session: SessionDep, settings: SettingsDep,
                  outcome: Annotated[str, Form()], note: Annotated[str, Form(max_length=1000)] = "",
                  back: Annotated[str, Form()] = "/console/cases") -> RedirectResponse:
    def act(user: User) -> str:
        task = cases.complete_task(session, task_id, actor=user.username, outcome=outcome, note=note,
                                   settings=settings)
        return f"Officer task {task.id} done: {outcome}."

    return _decide(request, session, back, act, "Task not completed")


# ---------------------------------------------------------------- cases

@router.get("/cases", response_class=HTMLResponse)
def case_list(request: Request, session: SessionDep, state: str | None = None, shop: str | None = None,
              page_no: PageNo = 1) -> HTMLResponse:
    user = console_user(request, session)
    limit = 50
    rows, total = queries.recent_cases(session, state=state or None, shop_id=shop or None, limit=limit,
                                       offset=(page_no - 1) * limit)
    shops = queries.shop_names(session, {c.shop_id for c in rows})
    return page(request, "cases.html", _ctx(request, user, "cases", cases=rows, total=total, shops=shops,
                                            state=state or "", shop=shop or "", page_no=page_no, limit=limit,
                                            counts=queries.state_counts(session)))


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_detail(case_id: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    user = console_user(request, session)
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"case {case_id} not found")
    shop = session.get(Shop, case.shop_id)
    return page(request, "case.html", _ctx(
        request, user, "cases", case=case, shop=shop, timeline=queries.case_timeline(session, case.id),
        events=queries.case_events(session, case.id), can_decide=_can(user, "reviewer"),
        shop_link=f"/shop/{shop_link_token(settings, case.shop_id)}"))


@router.get("/events", response_class=HTMLResponse)
def events(request: Request, session: SessionDep, f: Annotated[EventFilter, Query()],
           page_no: PageNo = 1) -> HTMLResponse:
    user = console_user(request, session)
    limit = 50
    rows, total = query_events(session, f, limit=limit, offset=(page_no - 1) * limit)
    ids = [e.event_id for e in rows]
    case_of = dict(session.execute(select(CaseEvent.event_id, CaseEvent.case_id)
                                   .where(CaseEvent.event_id.in_(ids))).all()) if ids else {}
    params = "&".join(f"{k}={quote(str(v))}" for k, v in f.model_dump(exclude_none=True).items())
    return page(request, "events.html", _ctx(request, user, "events", rows=rows, total=total, f=f,
                                             case_of=case_of, page_no=page_no, limit=limit, params=params))


# ---------------------------------------------------------------- ownerless

@router.get("/ownerless", response_class=HTMLResponse)
def ownerless(request: Request, session: SessionDep) -> HTMLResponse:
    user = console_user(request, session)
    rows, total = queries.ownerless_open(session)
    return page(request, "ownerless.html", _ctx(request, user, "ownerless", rows=rows, total=total,
                                                can_decide=_can(user, "reviewer")))


@router.post("/ownerless/{event_id}/assign")
def assign(event_id: str, request: Request, session: SessionDep, settings: SettingsDep,
           shop_id: Annotated[str, Form()]) -> RedirectResponse:
    shop_id = shop_id.strip()

    def act(user: User) -> str:
        if session.get(Shop, shop_id) is None:
            raise DomainError(f"no shop with id {shop_id!r}")
        ownerless_domain.assign(session, event_id, shop_id, actor=user.username, settings=settings)
        return f"Event {event_id} assigned to shop {shop_id}; its zone now belongs to that shop."

    return _decide(request, session, "/console/ownerless", act, "Not assigned")


@router.post("/ownerless/{event_id}/dismiss")
def dismiss_ownerless(event_id: str, request: Request, session: SessionDep,
                      reason: Annotated[str, Form(max_length=1000)] = "not a violation") -> RedirectResponse:
    def act(user: User) -> str:
        ownerless_domain.dismiss(session, event_id, actor=user.username, reason=reason or "not a violation")
        return f"Event {event_id} dismissed."

    return _decide(request, session, "/console/ownerless", act, "Not dismissed")


# ---------------------------------------------------------------- shops, grades, inspections, edges

@router.get("/shops", response_class=HTMLResponse)
def shops(request: Request, session: SessionDep, settings: SettingsDep, q: str | None = None,
          grade: str | None = None, page_no: PageNo = 1) -> HTMLResponse:
    user = console_user(request, session)
    limit = 50
    rows, total = queries.shops_page(session, q=q or None, grade=grade or None, offset=(page_no - 1) * limit,
                                     limit=limit)
    links = {s.id: f"/shop/{shop_link_token(settings, s.id)}" for s in rows}
    return page(request, "shops.html", _ctx(request, user, "shops", rows=rows, total=total, q=q or "",
                                            grade=grade or "", page_no=page_no, limit=limit, links=links))


@router.get("/grades", response_class=HTMLResponse)
def grades(request: Request, session: SessionDep, days: Annotated[int, Query(ge=2, le=366)] = 30
           ) -> HTMLResponse:
    user = console_user(request, session)
    from central.domain.grades import distribution

    series = queries.grade_share_series(session, days=days)
    current = distribution(session)
    graded = sum(current.get(g, 0) for g in queries.GRADES)
    return page(request, "grades.html", _ctx(request, user, "grades", chart=grade_share_svg(series),
                                             series=series, current=current, graded=graded, days=days))


@router.get("/inspections", response_class=HTMLResponse)
def inspections(request: Request, session: SessionDep, settings: SettingsDep, day: BoundedDay | None = None,
                road: str | None = None, order: str = "route") -> HTMLResponse:
    user = console_user(request, session)
    from central.domain.inspections import due_list

    day = day or datetime.now(UTC).date()
    items = due_list(session, day, settings=settings, road=road or None,
                     order="priority" if order == "priority" else "route", limit=500)
    return page(request, "inspections.html", _ctx(request, user, "inspections", items=items, day=day,
                                                  road=road or "", order=order))


@router.get("/edges", response_class=HTMLResponse)
def edges(request: Request, session: SessionDep) -> HTMLResponse:
    user = console_user(request, session)
    from central.api.routes.edges import edge_statuses
    from central.orm.users import EdgeCredential

    # credentials are for admins, as in the API (GET /api/edges/credentials)
    creds = list(session.scalars(select(EdgeCredential).order_by(EdgeCredential.edge_id))) \
        if _can(user, "admin") else None
    return page(request, "edges.html", _ctx(request, user, "edges", statuses=edge_statuses(session),
                                            creds=creds))
