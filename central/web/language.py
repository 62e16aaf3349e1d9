"""The language switch in the page header: remembers the choice in a cookie for a year, then goes back."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse

from central import i18n
from central.web.render import LANG_COOKIE, safe_path

router = APIRouter(include_in_schema=False)


@router.get("/lang/{language}")
def choose_language(language: str, request: Request, next: str = "/console") -> RedirectResponse:  # noqa: A002
    lang = i18n.normalize(language)
    if lang is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no language {language!r}")
    resp = RedirectResponse(safe_path(next), status_code=status.HTTP_303_SEE_OTHER)
    resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="lax",
                    secure=request.url.scheme == "https", path="/")
    return resp
