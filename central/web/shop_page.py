"""The operators' view of a shop's page: grade face, notices with their evidence photo and
self-rectification deadline, at `/shop/{shop id}` for logged-in operators.

The old public link `/shop/{token}` (`central.auth.shop_link_token`, once printed as the board's QR text)
now leads to the public board `/board/{shop id}`, which shows nothing private; owners have their own
revocable link (`/owner/...`, see `central.web.owner_page`). Photos are served only to operators and only
if they belong to one of this shop's cases."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from central.api.deps import SessionDep, SettingsDep, StoreDep
from central.api.evidence_response import SHA256_RE, evidence_response
from central.auth import AuthError, shop_id_from_link, user_for_token
from central.orm.shops import Shop
from central.web import queries
from central.web.render import page

router = APIRouter(prefix="/shop", include_in_schema=False)


class OldPublicLink(Exception):
    def __init__(self, shop_id: str):
        self.shop_id = shop_id


def _resolve(request: Request, session: SessionDep, settings: SettingsDep, key: str) -> tuple[Shop, str]:
    """(shop, the public token) for a plain shop id if an operator is logged in; an old public link token
    raises OldPublicLink."""
    shop_id = shop_id_from_link(settings, key)
    if shop_id is not None:
        raise OldPublicLink(shop_id)
    else:
        from central.api.deps import COOKIE_NAME

        token = request.cookies.get(COOKIE_NAME)
        try:
            if not token:
                raise AuthError("no login")
            user_for_token(session, settings, token)
        except AuthError:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such shop page") from None
        shop_id = key
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such shop page")
    return shop, shop.id


@router.get("/{key}", response_class=HTMLResponse)
def shop_page(key: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        shop, token = _resolve(request, session, settings, key)
    except OldPublicLink as old:
        return RedirectResponse(f"/board/{quote(old.shop_id, safe='')}", status_code=status.HTTP_303_SEE_OTHER)
    notices = queries.shop_notices(session, shop.id)
    public_url = str(request.base_url).rstrip("/") + f"/board/{quote(shop.id, safe='')}"
    return page(request, "shop.html", {"shop": shop, "notices": notices, "token": token,
                                       "public_url": public_url, "user": None, "active": "shop"})


@router.get("/{key}/evidence/{sha256}")
def shop_evidence(key: str, sha256: str, request: Request, session: SessionDep, settings: SettingsDep,
                  store: StoreDep) -> Response:
    try:
        shop, _ = _resolve(request, session, settings, key)
    except OldPublicLink:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such photo for this shop") from None
    if not SHA256_RE.fullmatch(sha256) or sha256.lower() not in queries.shop_evidence(session, shop.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such photo for this shop")
    return evidence_response(store, sha256)
