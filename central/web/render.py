"""Jinja2 set-up shared by the console and the shop page, and the console's login guard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from central import i18n
from central.api.deps import COOKIE_NAME
from central.auth import AuthError, has_role, user_for_token
from central.i18n import N_
from central.orm.users import User

TEMPLATES = Path(__file__).with_name("templates")
templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                                   extensions=["jinja2.ext.i18n"]))
LANG_COOKIE = "doorline_lang"

# Labels of stored codes: marked for extraction here, translated when shown.
GRADE_LABEL = {"red": N_("Red — high risk"), "yellow": N_("Yellow — medium risk"),
               "green": N_("Green — low risk")}
GRADE_NAME = {"red": N_("red"), "yellow": N_("yellow"), "green": N_("green")}
NOTICE_LABEL = {"advice": N_("Advice"), "rectification": N_("Written rectification notice"),
                "penalty": N_("Penalty notice"), "rectification_notice": N_("Written rectification notice"),
                "penalty_notice": N_("Penalty notice"), "appeal_upheld": N_("Appeal upheld"),
                "appeal_rejected": N_("Appeal rejected")}
VIOLATION_LABEL = {"cross_door_trading": N_("Cross-door trading"), "piled_goods": N_("Piled goods")}
STATE_LABEL = {"detected": N_("detected"), "notified": N_("notified"), "rechecking": N_("rechecking"),
               "officer_recheck": N_("officer recheck"), "escalated": N_("escalated"),
               "penalty_due": N_("penalty due"), "rectified": N_("rectified"), "resolved": N_("resolved"),
               "dismissed": N_("dismissed"), "annulled": N_("annulled (appeal upheld)")}
OUTCOME_LABEL = {"clear": N_("clear"), "present": N_("still there"), "resolved": N_("resolved"), "done": N_("done")}
TASK_LABEL = {"recheck": N_("recheck on site"), "escalation": N_("escalation"), "penalty": N_("penalty")}
PHASE_NAME = {"start": N_("start"), "update": N_("update"), "end": N_("end")}
AUDIT_LABEL = {
    "case.open": N_("alert opened"), "case.attach": N_("detection attached"), "case.evidence": N_("new evidence"),
    "case.seen": N_("seen again"), "case.episode_end": N_("episode ended"), "case.confirm": N_("confirmed"),
    "case.dismiss": N_("dismissed"), "case.undo_dismiss": N_("dismissal undone"),
    "case.recheck": N_("recheck"), "case.recheck_sent": N_("recheck sent to the camera"),
    "case.recheck_ignored": N_("recheck answer ignored"), "case.recheck_timeout": N_("recheck timed out"),
    "case.officer_recheck": N_("officer recheck requested"), "case.officer_recheck_done": N_("officer rechecked"),
    "case.penalty": N_("penalty recorded"), "case.close": N_("closed"), "task.done": N_("officer task done"),
    "case.annul": N_("annulled: appeal upheld"), "case.restrike": N_("strike recounted"),
    "ownerless.assign": N_("assigned to a shop"), "ownerless.dismiss": N_("dismissed"),
}
EDGE_STATE = {"online": N_("online"), "degraded": N_("degraded"), "offline": N_("offline")}
ROLE_LABEL = {"viewer": N_("viewer"), "reviewer": N_("reviewer"), "officer": N_("officer"), "admin": N_("admin")}


def _label(table: dict[str, str], value: str | None) -> str:
    if not value:
        return "—"
    label = table.get(value)
    return i18n.gettext(label) if label else value.replace("_", " ")


def fmt_dt(value: datetime | None) -> str:
    """A stored time as local time (settings.timezone), formatted for the request's language."""
    return i18n.current().datetime(value)


def fmt_ts(value: float | None) -> str:
    """Unix seconds (edge clocks) as local time."""
    return i18n.current().timestamp(value)


templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    lambda message: i18n.current().translations.gettext(message),
    lambda singular, plural, n: i18n.current().translations.ngettext(singular, plural, n),
    newstyle=True,
)
def _per_request(fn: Callable[..., str]) -> Callable[..., str]:
    """A filter whose output depends on the request's language: marked as needing the context, so that
    Jinja2 never folds it into a constant when it compiles a template (`{{ "green" | grade_name }}` would
    otherwise keep the language of the first request that compiled the page)."""

    @jinja2.pass_context
    def run(_ctx: Any, *args: Any, **kwargs: Any) -> str:
        return fn(*args, **kwargs)

    return run


templates.env.filters["dt"] = _per_request(fmt_dt)
templates.env.filters["ts"] = _per_request(fmt_ts)
templates.env.filters["day"] = _per_request(lambda v: i18n.current().date(v))
templates.env.filters["ago"] = _per_request(lambda v: i18n.current().ago(v))
templates.env.filters["num"] = _per_request(lambda v: i18n.current().number(v))
templates.env.filters["dec"] = _per_request(lambda v, fmt="0.00": i18n.current().decimal(v, fmt))
templates.env.filters["pct"] = _per_request(lambda v: i18n.current().percent(v))
templates.env.filters["violation"] = _per_request(lambda v: _label(VIOLATION_LABEL, v))
templates.env.filters["notice_kind"] = _per_request(lambda v: _label(NOTICE_LABEL, v))
templates.env.filters["state_label"] = _per_request(lambda v: _label(STATE_LABEL, v))
templates.env.filters["grade_name"] = _per_request(
    lambda v: _label(GRADE_NAME, v) if v else i18n.gettext("not graded"))
templates.env.filters["grade_label"] = _per_request(
    lambda v: _label(GRADE_LABEL, v) if v else i18n.gettext("Not graded yet"))
templates.env.filters["role"] = _per_request(lambda v: _label(ROLE_LABEL, v))
templates.env.filters["edge_state"] = _per_request(lambda v: _label(EDGE_STATE, v))
templates.env.filters["phase"] = _per_request(lambda v: _label(PHASE_NAME, v))
templates.env.filters["audit_action"] = _per_request(lambda v: _label(AUDIT_LABEL, v))
templates.env.filters["outcome"] = _per_request(lambda v: _label(OUTCOME_LABEL, v))
templates.env.filters["task_kind"] = _per_request(lambda v: _label(TASK_LABEL, v))


def pic_label(picture: Any) -> str:
    """'Start · annotated', 'End · clean', 'Update · crop': what a picture of a case shows."""
    from central.web.evidence import KIND_LABEL, PHASE_LABEL

    t = i18n.current()
    phase = t.gettext(PHASE_LABEL.get(picture.phase, picture.phase))
    kind = t.gettext(KIND_LABEL[picture.kind]) if picture.kind in KIND_LABEL else picture.kind.replace("_", " ")
    return t.gettext("%(phase)s · %(kind)s", phase=phase, kind=kind)


templates.env.filters["pic_label"] = _per_request(pic_label)
templates.env.globals["GRADE_LABEL"] = GRADE_LABEL
templates.env.globals["LANGUAGES"] = i18n.LANGUAGES
templates.env.globals["LANGUAGE_NAMES"] = i18n.LANGUAGE_NAMES


def request_language(request: Request) -> str:
    """The language the user chose (cookie, set by the switch), else Accept-Language, else the deployment's."""
    chosen = i18n.normalize(request.cookies.get(LANG_COOKIE))
    if chosen:
        return chosen
    return i18n.negotiate(request.headers.get("accept-language")) or \
        i18n.normalize(getattr(request.app.state.settings, "language", None)) or i18n.DEFAULT_LANGUAGE


def request_translator(request: Request) -> i18n.Translator:
    settings = request.app.state.settings
    return i18n.translator(request_language(request), getattr(settings, "timezone", i18n.DEFAULT_TZ))


class LoginRequired(Exception):
    """Raised by console pages without a valid login; the app turns it into a redirect to the login page."""

    def __init__(self, next_url: str):
        self.next_url = next_url


def console_user(request: Request, session: Session) -> User:
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        raise LoginRequired(request.url.path)
    try:
        return user_for_token(session, request.app.state.settings, token)
    except AuthError:
        raise LoginRequired(request.url.path) from None


def require_console_role(user: User, role: str) -> None:
    if not has_role(user.role, role):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs role {role} (you are {user.role})")


def safe_path(url: str | None, default: str = "/console") -> str:
    """A path on this site (with its query), never another host."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


def safe_next(url: str | None) -> str:
    return safe_path(url)


def login_redirect_url(next_url: str) -> str:
    return f"/console/login?next={quote(next_url)}"


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render in the request's language and time zone (`<html lang>` from `lang`)."""
    t = request_translator(request)
    with i18n.use(t):
        return templates.TemplateResponse(request, name, {"lang": t.language, **context},
                                          status_code=status_code)
