"""The operator console (command centre): review queue, case detail, ownerless queue, shops with their grade
faces, inspections due (statistics: `central.web.stats`; the map: `central.web.map_page`; edges:
`central.web.edges_page`). Plain HTML forms; works without JavaScript.

Decisions go through the domain functions (`central.domain.cases.confirm` / `dismiss`, ownerless
assignment), so the console and the REST API write the same way."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from central import i18n
from central.api.bounds import BoundedDay, IntId, PageNo
from central.api.deps import COOKIE_NAME, SessionDep, SettingsDep, StoreDep, check_same_origin
from central.api.security import request_is_https
from central.api.throttle import get_throttle
from central.auth import AuthError, authenticate, create_access_token, revoke_tokens, shop_link_token, user_for_token
from central.domain import cases, rectification
from central.domain import ownerless as ownerless_domain
from central.domain.clock import now_utc
from central.domain.errors import DomainError, InvalidTransition, NotFound
from central.domain.events import EventFilter, query_events
from central.domain.photos import OFFICER_MAX_BYTES, store_photo
from central.domain.scope import Scope
from central.domain.undo import UNDO_WINDOW_S, undo_dismiss
from central.i18n import N_
from central.orm.cases import CLOSED_STATES, OPEN_STATES, Case, CaseEvent
from central.orm.shops import Shop
from central.orm.users import User
from central.settings import CentralSettings
from central.web import pending as pending_decision
from central.web import queries
from central.web.evidence import case_evidence
from central.web.render import (
    NOTICE_LABEL,
    OUTCOME_LABEL,
    ROLE_LABEL,
    STATE_LABEL,
    LoginRequired,
    console_user,
    page,
    request_translator,
    safe_next,
)
from central.web.shop_file import grade_timeline_svg, registry_rows, shop_file

router = APIRouter(prefix="/console", include_in_schema=False)

QUEUE_PAGE = 20
STATES = ("detected", *[s for s in OPEN_STATES if s != "detected"], *CLOSED_STATES)
ANY_STATE = ("", *STATES)


def _back(url: str, msg: str, **extra: str) -> RedirectResponse:
    query = urlencode({"msg": msg, **extra})
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}{query}", status_code=status.HTTP_303_SEE_OTHER)


def _ctx(request: Request, user: User | None, active: str, **extra: Any) -> dict[str, Any]:
    return {"user": user, "active": active, "msg": request.query_params.get("msg"), **extra}


# ---------------------------------------------------------------- login

@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/console") -> HTMLResponse:  # noqa: A002
    return page(request, "login.html", _ctx(request, None, "login", next=safe_next(next), error=None))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: SessionDep, settings: SettingsDep,
          username: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/console",  # noqa: A002
          pending: Annotated[str, Form(max_length=8000)] = "") -> Response:
    check_same_origin(request)
    t = request_translator(request)
    throttle = get_throttle(request)
    key = throttle.key(request, username)

    def again(error: str, code: int) -> HTMLResponse:
        return page(request, "login.html", _ctx(request, None, "login", next=safe_next(next), error=error,
                                                pending=pending, username=username), status_code=code)

    try:
        throttle.check(key)
    except HTTPException as exc:
        return again(t.gettext("Too many failed logins: try again in %(s)s seconds.",
                               s=(exc.headers or {}).get("Retry-After", "60")), exc.status_code)
    user = authenticate(session, username, password)
    if user is None:
        throttle.failed(key)
        return again(t.gettext("Wrong username or password."), 401)
    throttle.succeeded(key)
    user.last_login_at = now_utc()
    session.commit()
    token, _ = create_access_token(settings, user)
    decision = pending_decision.unseal(settings, pending) if pending else None
    if decision is not None:
        path, form = decision
        resp = _apply(request, session, settings, user, path, form)
    else:
        resp = RedirectResponse(safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
        if pending:
            resp = _back(safe_next(next), t.gettext("Your earlier decision was too old to apply; "
                                                    "please decide again."))
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

def _score(value: str) -> float | None:
    if not value.strip():
        return None
    try:
        score = float(value)
    except ValueError:
        score = -1.0
    if not 0 <= score <= 1:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            i18n.gettext("The lowest score must be a number from 0 to 1, not %(v)s.", v=value))
    return score


@router.get("", response_class=HTMLResponse)
def queue(request: Request, session: SessionDep, settings: SettingsDep,
          state: Annotated[Literal[STATES], Query()] = "detected",  # type: ignore[valid-type]
          road: Annotated[str, Query(max_length=200)] = "",
          camera: Annotated[str, Query(max_length=128)] = "",
          violation: Annotated[Literal["", "cross_door_trading", "piled_goods"], Query()] = "",
          min_score: Annotated[str, Query(max_length=20)] = "",
          order: Annotated[Literal["", "newest", "oldest"], Query()] = "",
          page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1,
          undo: Annotated[str, Query(max_length=128)] = "") -> HTMLResponse:
    user = console_user(request, session)
    with i18n.use(request_translator(request)):
        f = queries.QueueFilter(state=state, road=road or None, camera=camera or None,
                                violation=violation or None, min_score=_score(min_score),
                                order=order or settings.console_queue_order)
    scope = Scope.of(user)
    rows, total = queries.review_queue(session, f, limit=QUEUE_PAGE, offset=(page_no - 1) * QUEUE_PAGE, scope=scope)
    shop_ids = {c.shop_id for c in rows}
    shops = queries.shop_names(session, shop_ids)
    roads, cameras = queries.queue_choices(session, scope)
    _, ownerless = queries.ownerless_open(session, limit=0, scope=scope)
    params = urlencode({k: v for k, v in (("state", state if state != "detected" else ""), ("road", road),
                                          ("camera", camera), ("violation", violation),
                                          ("min_score", min_score), ("order", order)) if v})
    return page(request, "queue.html", _ctx(
        request, user, "queue", cases=rows, total=total, shops=shops, f=f, roads=roads, cameras=cameras,
        counts=queries.state_counts(session, scope), ownerless=ownerless, can_decide=_can(user, "reviewer"),
        outlook=queries.strike_outlook(session, shop_ids, settings), evidence=case_evidence(session, rows),
        page_no=page_no, limit=QUEUE_PAGE, params=params, min_score=min_score, undo=undo,
        snapshot=json.dumps(queries.queue_snapshot(session, scope)),
        undo_window_s=int(UNDO_WINDOW_S), strike_window_days=settings.strike_window_days))


STREAM_POLL_S = 2.0
STREAM_LIFE_S = 50.0  # the browser reconnects by itself; a bounded stream never pins a worker or a shutdown


@router.get("/queue/stream")
async def queue_stream(request: Request) -> Response:
    """Server-Sent Events: `queue` with {detected, latest} whenever the waiting cases change."""
    factory = request.app.state.session_factory

    def check_login() -> Scope:
        with factory() as s:
            return Scope.of(console_user(request, s))

    scope = await run_in_threadpool(check_login)

    def snapshot() -> dict[str, Any]:
        with factory() as s:
            return queries.queue_snapshot(s, scope)


    async def events() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        last: dict[str, Any] | None = None
        started = quiet = time.monotonic()
        while time.monotonic() - started < STREAM_LIFE_S and not await request.is_disconnected():
            snap = await run_in_threadpool(snapshot)
            if snap != last:
                last, quiet = snap, time.monotonic()
                yield f"event: queue\ndata: {json.dumps(snap)}\n\n"
            elif time.monotonic() - quiet > 15:
                quiet = time.monotonic()
                yield ": still here\n\n"
            await asyncio.sleep(STREAM_POLL_S)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _can(user: User, role: str) -> bool:
    from central.auth import has_role

    return has_role(user.role, role)


# ---------------------------------------------------------------- decisions
# Every decision is a POST whose form is also what an expired login keeps (central.web.pending): the route
# hands its path and form to _decide, which applies it now or after the password is given again.

Decision = Callable[[Request, Session, CentralSettings, User, str, dict[str, str]], "str | Response"]
_DECISIONS: list[tuple[re.Pattern[str], Decision, str]] = []


def decision(pattern: str, failed: str) -> Callable[[Decision], Decision]:
    def add(fn: Decision) -> Decision:
        _DECISIONS.append((re.compile(pattern), fn, failed))
        return fn
    return add


def _decide(request: Request, session: Session, settings: CentralSettings, form: dict[str, str]) -> Response:
    check_same_origin(request)
    try:
        user = console_user(request, session)
    except LoginRequired:
        sealed = pending_decision.seal(settings, request.url.path, form)
        return page(request, "login.html", _ctx(request, None, "login", next=safe_next(form.get("back")),
                                                error=None, pending=sealed), status_code=401)
    if not _can(user, "reviewer"):
        t = request_translator(request)
        raise HTTPException(status.HTTP_403_FORBIDDEN, t.gettext(
            "This needs the role %(need)s; you are %(role)s.", need=t.gettext(ROLE_LABEL["reviewer"]),
            role=t.gettext(ROLE_LABEL.get(user.role, user.role))))
    return _apply(request, session, settings, user, request.url.path, form)


def _apply(request: Request, session: Session, settings: CentralSettings, user: User, path: str,
           form: dict[str, str]) -> Response:
    """Run one reviewer decision through the domain: commit and report, or roll back and say why."""
    t = request_translator(request)
    back = safe_next(form.get("back"))
    if not _can(user, "reviewer"):
        return _back(back, t.gettext("Your role (%(role)s) cannot decide: that needs a reviewer.",
                                     role=t.gettext(ROLE_LABEL.get(user.role, user.role))))
    for pattern, fn, failed in _DECISIONS:
        m = pattern.fullmatch(path)
        if m is None:
            continue
        try:
            with i18n.use(t):
                done = fn(request, session, settings, user, m.group(1), form)
            if isinstance(done, Response):
                session.rollback()
                return done
            session.commit()
        except DomainError as exc:
            session.rollback()
            return _back(back, t.gettext(failed) + t.gettext(": ") + _why(t, exc))
        if isinstance(done, tuple):
            return _back(back, done[0], **done[1])
        return _back(back, done)
    raise HTTPException(status.HTTP_404_NOT_FOUND, t.gettext("No such decision."))


def _why(t: i18n.Translator, exc: DomainError) -> str:
    """The domain's reason in the operator's language where it is one we know."""
    if isinstance(exc, NotFound):
        return t.gettext("it does not exist (any more).")
    if isinstance(exc, InvalidTransition):
        state = re.search(r" is (\w+);", exc.message)
        if state and "only a" in exc.message:
            return t.gettext("the case is already %(state)s.", state=t.gettext(STATE_LABEL.get(state.group(1),
                                                                                               state.group(1))))
        if "more than" in exc.message:
            return t.gettext("too late to undo.")
        if "is open for the same shop" in exc.message:
            return t.gettext("a newer case for this shop and violation is open.")
    return exc.message


@decision(r"/console/cases/([^/]+)/confirm", N_("Not confirmed"))
def _confirm(request: Request, session: Session, settings: CentralSettings, user: User, case_id: str,
             form: dict[str, str]) -> str | Response:
    t = i18n.current()
    scope = Scope.of(user)
    case = cases.get_case(session, case_id, scope=scope)
    if case.state == "detected" and form.get("penalty_ok") != "1":
        prior, kind = queries.strike_outlook(session, {case.shop_id}, settings)[case.shop_id]
        if kind == "penalty_notice":  # a penalty is never one click away
            return page(request, "confirm_penalty.html", _ctx(
                request, user, "queue", case=case, shop=session.get(Shop, case.shop_id), strike=prior + 1,
                form=form, days=settings.strike_window_days), status_code=200)
    case = cases.confirm(session, case_id, actor=user.username, settings=settings, note=form.get("note", ""),
                         scope=scope)
    kind = case.notices[-1].kind if case.notices else ""
    return t.gettext("Case %(case)s confirmed: strike %(strike)s, %(notice)s sent to the shop.",
                     case=case.id, strike=case.strike,
                     notice=t.gettext(NOTICE_LABEL.get(kind, kind)))


@decision(r"/console/cases/([^/]+)/dismiss", N_("Not dismissed"))
def _dismiss(request: Request, session: Session, settings: CentralSettings, user: User, case_id: str,
             form: dict[str, str]) -> tuple[str, dict[str, str]]:
    t = i18n.current()
    reason = (form.get("reason") or "").strip()[:1000] or t.gettext("false alarm")
    case = cases.dismiss(session, case_id, actor=user.username, reason=reason, scope=Scope.of(user))
    return t.gettext("Case %(case)s dismissed (%(reason)s).", case=case.id, reason=reason), \
        {"undo": case.id}


@decision(r"/console/cases/([^/]+)/undo-dismiss", N_("Not restored"))
def _undo(request: Request, session: Session, settings: CentralSettings, user: User, case_id: str,
          form: dict[str, str]) -> str:
    case = undo_dismiss(session, case_id, actor=user.username, scope=Scope.of(user))
    return i18n.gettext("Case %(case)s is back in the queue.", case=case.id)


@decision(r"/console/cases/([^/]+)/penalty", N_("No penalty recorded"))
def _penalty(request: Request, session: Session, settings: CentralSettings, user: User, case_id: str,
             form: dict[str, str]) -> str:
    ticket_no = (form.get("ticket_no") or "").strip()[:100]
    try:
        amount = float(form.get("amount") or 0)
    except ValueError:
        amount = -1
    if not ticket_no or amount < 0:
        raise DomainError(i18n.gettext("a ticket number and an amount of 0 or more are needed."))
    rectification.record_penalty(session, case_id, actor=user.username, ticket_no=ticket_no, amount=amount,
                         note=(form.get("note") or "")[:1000], scope=Scope.of(user))
    return i18n.gettext("Penalty %(ticket)s recorded.", ticket=ticket_no)


@decision(r"/console/cases/([^/]+)/close", N_("Not closed"))
def _close(request: Request, session: Session, settings: CentralSettings, user: User, case_id: str,
           form: dict[str, str]) -> str:
    reason = (form.get("reason") or "").strip()[:1000]
    if not reason:
        raise DomainError(i18n.gettext("a reason is needed."))
    rectification.close_case(session, case_id, actor=user.username, reason=reason, evidence=_sealed_photos(form),
                     scope=Scope.of(user))
    return i18n.gettext("Case %(case)s closed.", case=case_id)


@decision(r"/console/tasks/(\d+)/complete", N_("Task not completed"))
def _task(request: Request, session: Session, settings: CentralSettings, user: User, task_id: str,
          form: dict[str, str]) -> str:
    outcome = form.get("outcome") or ""
    task = rectification.complete_task(session, int(task_id), actor=user.username, outcome=outcome,
                               note=(form.get("note") or "")[:1000], evidence=_sealed_photos(form),
                               settings=settings, scope=Scope.of(user))
    return i18n.gettext("Officer task %(task)s done: %(outcome)s.", task=task.id,
                        outcome=i18n.gettext(OUTCOME_LABEL.get(outcome, outcome)))


@decision(r"/console/ownerless/([^/]+)/assign", N_("Not assigned"))
def _assign(request: Request, session: Session, settings: CentralSettings, user: User, event_id: str,
            form: dict[str, str]) -> str:
    shop_id = (form.get("shop_id") or "").strip()
    if not Scope.of(user).covers(session.get(Shop, shop_id)):
        raise DomainError(i18n.gettext("no shop with id %(shop)s.", shop=repr(shop_id)))
    ownerless_domain.assign(session, event_id, shop_id, actor=user.username, settings=settings,
                            scope=Scope.of(user))
    return i18n.gettext("Event %(event)s assigned to shop %(shop)s; its zone now belongs to that shop.",
                        event=event_id, shop=shop_id)


@decision(r"/console/ownerless/([^/]+)/dismiss", N_("Not dismissed"))
def _dismiss_ownerless(request: Request, session: Session, settings: CentralSettings, user: User, event_id: str,
                       form: dict[str, str]) -> str:
    reason = (form.get("reason") or "").strip()[:1000] or i18n.gettext("not a violation")
    ownerless_domain.dismiss(session, event_id, actor=user.username, reason=reason, scope=Scope.of(user))
    return i18n.gettext("Event %(event)s dismissed.", event=event_id)


@router.post("/cases/{case_id}/confirm")
def confirm_case(case_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                 back: Annotated[str, Form()] = "/console", note: Annotated[str, Form(max_length=1000)] = "",
                 penalty_ok: Annotated[str, Form()] = "") -> Response:
    return _decide(request, session, settings, {"back": back, "note": note, "penalty_ok": penalty_ok})


@router.post("/cases/{case_id}/dismiss")
def dismiss_case(case_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                 back: Annotated[str, Form()] = "/console",
                 reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    return _decide(request, session, settings, {"back": back, "reason": reason})


@router.post("/cases/{case_id}/undo-dismiss")
def undo_dismiss_case(case_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                      back: Annotated[str, Form()] = "/console") -> Response:
    return _decide(request, session, settings, {"back": back})


@router.post("/cases/{case_id}/penalty")
def record_penalty(case_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                   ticket_no: Annotated[str, Form(min_length=1, max_length=100)],
                   amount: Annotated[float, Form(ge=0)] = 0.0,
                   note: Annotated[str, Form(max_length=1000)] = "") -> Response:
    return _decide(request, session, settings, {"back": f"/console/cases/{case_id}", "ticket_no": ticket_no,
                                                "amount": str(amount), "note": note})


def _sealed_photos(form: dict[str, str]) -> list[str]:
    return [sha for sha in (form.get("evidence") or "").split(",") if sha]


def _with_photo(request: Request, session: Session, settings: CentralSettings, store: Any,
                photo: UploadFile | None, form: dict[str, str], failed: str) -> Response:
    """A decision that carries an officer's photo: the photo is stored first (only for a signed-in user; a
    decision carried across an expired login goes on without it, and the domain asks for it again when it
    needs one) and travels in the form as its sha256."""
    if photo is not None and photo.filename and _signed_in(request, session):
        try:
            form["evidence"] = store_photo(store, photo.file.read(OFFICER_MAX_BYTES + 1))
        except DomainError as exc:
            t = request_translator(request)
            return _back(safe_next(form.get("back")), t.gettext(failed) + t.gettext(": ") + _why(t, exc))
    return _decide(request, session, settings, form)


def _signed_in(request: Request, session: Session) -> bool:
    try:
        console_user(request, session)
    except LoginRequired:
        return False
    return True


@router.post("/cases/{case_id}/close")
def close_case(case_id: str, request: Request, session: SessionDep, settings: SettingsDep, store: StoreDep,
               reason: Annotated[str, Form(min_length=1, max_length=1000)],
               photo: Annotated[UploadFile | None, File()] = None) -> Response:
    back = f"/console/cases/{case_id}"
    form = {"back": back, "reason": reason}
    return _with_photo(request, session, settings, store, photo, form, N_("Not closed"))


@router.post("/tasks/{task_id}/complete")
def complete_task(task_id: IntId, request: Request, session: SessionDep, settings: SettingsDep, store: StoreDep,
                  outcome: Annotated[str, Form()], note: Annotated[str, Form(max_length=1000)] = "",
                  back: Annotated[str, Form()] = "/console/cases",
                  photo: Annotated[UploadFile | None, File()] = None) -> Response:
    form = {"back": back, "outcome": outcome, "note": note}
    return _with_photo(request, session, settings, store, photo, form, N_("Task not completed"))


# ---------------------------------------------------------------- cases

@router.get("/cases", response_class=HTMLResponse)
def case_list(request: Request, session: SessionDep,
              state: Annotated[Literal[ANY_STATE], Query()] = "",  # type: ignore[valid-type]
              shop: Annotated[str | None, Query(max_length=64)] = None,
              page_no: PageNo = 1) -> HTMLResponse:
    user = console_user(request, session)
    limit = 50
    scope = Scope.of(user)
    rows, total = queries.recent_cases(session, state=state or None, shop_id=shop or None, limit=limit,
                                       offset=(page_no - 1) * limit, scope=scope)
    shops = queries.shop_names(session, {c.shop_id for c in rows})
    return page(request, "cases.html", _ctx(request, user, "cases", cases=rows, total=total, shops=shops,
                                            state=state or "", shop=shop or "", page_no=page_no, limit=limit,
                                            counts=queries.state_counts(session, scope)))


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_detail(case_id: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    user = console_user(request, session)
    case = session.get(Case, case_id)
    if case is None or not Scope.of(user).covers(session.get(Shop, case.shop_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            request_translator(request).gettext("There is no case %(case)s.", case=case_id))
    shop = session.get(Shop, case.shop_id)
    return page(request, "case.html", _ctx(
        request, user, "cases", case=case, shop=shop, timeline=queries.case_timeline(session, case.id),
        events=queries.case_events(session, case.id), can_decide=_can(user, "reviewer"),
        evidence=case_evidence(session, [case])[case.id],
        outlook=queries.strike_outlook(session, {case.shop_id}, settings)[case.shop_id],
        undo=request.query_params.get("undo", ""), undo_window_s=int(UNDO_WINDOW_S),
        strike_window_days=settings.strike_window_days, shop_link=f"/shop/{shop_link_token(settings, case.shop_id)}"))


@router.get("/events", response_class=HTMLResponse)
def events(request: Request, session: SessionDep, f: Annotated[EventFilter, Query()],
           page_no: PageNo = 1) -> HTMLResponse:
    user = console_user(request, session)
    limit = 50
    rows, total = query_events(session, f, limit=limit, offset=(page_no - 1) * limit, scope=Scope.of(user))
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
    rows, total = queries.ownerless_open(session, scope=Scope.of(user))
    return page(request, "ownerless.html", _ctx(request, user, "ownerless", rows=rows, total=total,
                                                can_decide=_can(user, "reviewer")))


@router.post("/ownerless/{event_id}/assign")
def assign(event_id: str, request: Request, session: SessionDep, settings: SettingsDep,
           shop_id: Annotated[str, Form(max_length=64)]) -> Response:
    return _decide(request, session, settings, {"back": "/console/ownerless", "shop_id": shop_id})


@router.post("/ownerless/{event_id}/dismiss")
def dismiss_ownerless(event_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                      reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    return _decide(request, session, settings, {"back": "/console/ownerless", "reason": reason})


# ---------------------------------------------------------------- shops, inspections

@router.get("/shops", response_class=HTMLResponse)
def shops(request: Request, session: SessionDep, settings: SettingsDep,
          q: Annotated[str | None, Query(max_length=200)] = None,
          grade: Annotated[Literal["", "red", "yellow", "green"], Query()] = "",
          page_no: PageNo = 1) -> HTMLResponse:
    user = console_user(request, session)
    limit = 50
    rows, total = queries.shops_page(session, q=q or None, grade=grade or None, offset=(page_no - 1) * limit,
                                     limit=limit, scope=Scope.of(user))
    links = {s.id: f"/shop/{shop_link_token(settings, s.id)}" for s in rows}
    return page(request, "shops.html", _ctx(request, user, "shops", rows=rows, total=total, q=q or "",
                                            grade=grade or "", page_no=page_no, limit=limit, links=links))


@router.get("/shops/{shop_id}", response_class=HTMLResponse)
def shop_file_page(shop_id: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    user = console_user(request, session)
    shop = session.get(Shop, shop_id)
    if shop is None or not Scope.of(user).covers(shop):
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            request_translator(request).gettext("There is no shop %(shop)s.", shop=shop_id))
    f = shop_file(session, shop, settings)
    t = request_translator(request)
    with i18n.use(t):
        timeline = grade_timeline_svg(f.changes)
    return page(request, "shop_file.html", _ctx(
        request, user, "shops", f=f, shop=shop, timeline=timeline, rows=registry_rows(shop),
        evidence=case_evidence(session, f.cases), outlook=queries.strike_outlook(session, {shop.id}, settings)[shop.id],
        strike_window_days=settings.strike_window_days, board=f"/shop/{shop_link_token(settings, shop.id)}"))


@router.get("/inspections", response_class=HTMLResponse)
def inspections(request: Request, session: SessionDep, settings: SettingsDep, day: BoundedDay | None = None,
                road: Annotated[str | None, Query(max_length=200)] = None,
                order: Annotated[Literal["route", "priority"], Query()] = "route") -> HTMLResponse:
    user = console_user(request, session)
    from central.domain.clock import local_day
    from central.domain.inspections import due_list

    day = day or local_day(now_utc(), settings.timezone)  # a local day
    items = due_list(session, day, settings=settings, road=road or None,
                     order="priority" if order == "priority" else "route", limit=500, scope=Scope.of(user))
    return page(request, "inspections.html", _ctx(request, user, "inspections", items=items, day=day,
                                                  road=road or "", order=order))
