"""Jinja2 set-up shared by the console and the shop page, and the console's login guard."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from central.api.deps import COOKIE_NAME
from central.auth import AuthError, has_role, user_for_token
from central.domain.clock import as_utc
from central.domain.strikes import NOTICE_LABELS
from central.orm.users import User

TEMPLATES = Path(__file__).with_name("templates")
templates = Jinja2Templates(directory=str(TEMPLATES))

GRADE_LABEL = {"red": "Red — high risk", "yellow": "Yellow — medium risk", "green": "Green — low risk"}
NOTICE_LABEL = NOTICE_LABELS  # keyed by strikes.notice_kind()
VIOLATION_LABEL = {"cross_door_trading": "Cross-door trading", "piled_goods": "Piled goods"}


def fmt_dt(value: datetime | None) -> str:
    if value is None:
        return "—"
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")  # type: ignore[union-attr]


def fmt_ts(value: float | None) -> str:
    if value is None:
        return "—"
    return fmt_dt(datetime.fromtimestamp(value).astimezone())


templates.env.filters["dt"] = fmt_dt
templates.env.filters["ts"] = fmt_ts
templates.env.filters["violation"] = lambda v: VIOLATION_LABEL.get(v or "", v or "—")
templates.env.filters["notice_kind"] = lambda v: NOTICE_LABEL.get(v, v)
templates.env.globals["GRADE_LABEL"] = GRADE_LABEL


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


def safe_next(url: str | None) -> str:
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/console"


def login_redirect_url(next_url: str) -> str:
    return f"/console/login?next={quote(next_url)}"


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)
