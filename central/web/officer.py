"""The officer's phone pages (`/officer`): today's tasks in route order, reporting a recheck or escalation
result with a photo, recording an inspection with the checklist and photos, and a shop's file. An
account with `scope_area` / `scope_road` sees only the shops of its district / street.

Login is the console's (`/console/login?next=/officer`); the role needed is `officer` (reviewers and
admins may use the pages too)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from central.api.bounds import IntId
from central.api.deps import SessionDep, SettingsDep, StoreDep, check_same_origin
from central.domain import checklist, inspections, officer, rectification
from central.domain.clock import local_day, now_utc, to_local
from central.domain.errors import DomainError
from central.domain.photos import OFFICER_MAX_BYTES, store_photo
from central.orm.cases import Case
from central.orm.users import User
from central.web.render import console_user, page, require_console_role

router = APIRouter(prefix="/officer", include_in_schema=False)

OUTCOMES = {"recheck": ("clear", "present"), "escalation": ("resolved",), "penalty": ("done",)}
OUTCOME_LABEL = {"clear": "已整改 Cleared", "present": "仍存在 Still there", "resolved": "已处理 Resolved",
                 "done": "已开罚单 Ticket issued"}
KIND_LABEL = {"recheck": "复查 Recheck", "escalation": "现场处置 Escalation", "penalty": "处罚 Penalty"}


def _officer(request: Request, session: SessionDep) -> User:
    user = console_user(request, session)
    require_console_role(user, "officer")
    return user


def _back(url: str, msg: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?msg={quote(msg)}", status_code=status.HTTP_303_SEE_OTHER)


def _photos(store: Any, files: list[UploadFile] | None) -> list[str]:
    out = []
    for f in files or []:
        if f.filename:
            try:
                out.append(store_photo(store, f.file.read(OFFICER_MAX_BYTES + 1)))
            except DomainError as exc:
                raise DomainError(f"{f.filename}: {exc.message}") from None
    return out


def _ctx(request: Request, user: User, settings: SettingsDep, **extra: Any) -> dict[str, Any]:
    tz = settings.timezone
    return {"user": user, "msg": request.query_params.get("msg"), "local": lambda dt: to_local(dt, tz),
            "KIND_LABEL": KIND_LABEL, "OUTCOME_LABEL": OUTCOME_LABEL, **extra}


@router.get("", response_class=HTMLResponse)
def today(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    user = _officer(request, session)
    plan = officer.day_plan(session, user, local_day(now_utc(), settings.timezone), settings=settings)
    return page(request, "officer_today.html", _ctx(request, user, settings, plan=plan))


@router.get("/shops/{shop_id}", response_class=HTMLResponse)
def shop_file(shop_id: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    user = _officer(request, session)
    try:
        shop = officer.shop_for(session, user, shop_id)
    except DomainError as exc:
        raise HTTPException(exc.status, exc.message) from None
    recent = list(session.scalars(select(Case).where(Case.shop_id == shop.id).order_by(Case.opened_at.desc())
                                  .limit(10)))
    visits = inspections.inspections_of(session, shop.id, limit=10)
    return page(request, "officer_shop.html", _ctx(request, user, settings, shop=shop, cases=recent,
                                                   visits=visits))


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_form(task_id: IntId, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    user = _officer(request, session)
    try:
        task = officer.task_for(session, user, task_id)
    except DomainError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return page(request, "officer_task.html", _ctx(request, user, settings, task=task, case=task.case,
                                                   outcomes=OUTCOMES[task.kind]))


@router.post("/tasks/{task_id}")
def task_report(task_id: IntId, request: Request, session: SessionDep, settings: SettingsDep, store: StoreDep,
                outcome: Annotated[str, Form()], note: Annotated[str, Form(max_length=1000)] = "",
                photos: Annotated[list[UploadFile] | None, File()] = None) -> RedirectResponse:
    check_same_origin(request)
    user = _officer(request, session)
    try:
        officer.task_for(session, user, task_id)
        rectification.complete_task(session, task_id, actor=user.username, outcome=outcome, note=note,
                            evidence=_photos(store, photos), settings=settings)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _back(f"/officer/tasks/{task_id}", f"未提交 Not saved: {exc.message}")
    return _back("/officer", f"任务 {task_id} 已完成 Task done: {OUTCOME_LABEL.get(outcome, outcome)}")


@router.get("/shops/{shop_id}/inspect", response_class=HTMLResponse)
def inspect_form(shop_id: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    user = _officer(request, session)
    try:
        shop = officer.shop_for(session, user, shop_id)
    except DomainError as exc:
        raise HTTPException(exc.status, exc.message) from None
    menu = checklist.load(settings.inspection_checklist_file)
    return page(request, "officer_inspect.html", _ctx(request, user, settings, shop=shop, menu=menu))


@router.post("/shops/{shop_id}/inspect")
async def inspect_record(shop_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                         store: StoreDep) -> RedirectResponse:
    check_same_origin(request)
    user = _officer(request, session)
    form = await request.form()
    menu = checklist.load(settings.inspection_checklist_file)
    # a checkbox per item: ticked = passed (full points), left empty = failed
    items: dict[str, bool | float] = {key: form.get(f"item:{key}") == "pass" for key in menu.items()}
    uploads = [f for f in form.getlist("photos") if isinstance(f, UploadFile) or hasattr(f, "filename")]
    try:
        officer.shop_for(session, user, shop_id)
        ins = inspections.record_inspection(session, shop_id, inspector=user.username, items=items,
                                            photos=_photos(store, uploads), notes=str(form.get("notes") or ""),
                                            settings=settings)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _back(f"/officer/shops/{shop_id}/inspect", f"未保存 Not saved: {exc.message}")
    return _back("/officer", f"检查已记录 Inspection recorded: {shop_id} → {ins.result}")
