"""The shop owner's page (and public display board): grade face, notices with their evidence photo and
self-rectification deadline.

`/shop/{token}` with the signed link token (see `central.auth.shop_link_token`) needs no login: that is the
link pushed to the owner and printed as the board's QR text. `/shop/{shop id}` works for logged-in
operators. Photos are served only if they belong to one of this shop's cases."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from central.api.deps import SessionDep, SettingsDep, StoreDep
from central.api.evidence_response import SHA256_RE, evidence_response
from central.auth import AuthError, shop_id_from_link, shop_link_token, user_for_token
from central.orm.shops import Shop
from central.web import queries
from central.web.render import page

router = APIRouter(prefix="/shop", include_in_schema=False)


def _resolve(request: Request, session: SessionDep, settings: SettingsDep, key: str) -> tuple[Shop, str]:
    """(shop, the public token) for a link token, or for a plain shop id if an operator is logged in."""
    shop_id = shop_id_from_link(settings, key)
    if shop_id is None:
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
    return shop, shop_link_token(settings, shop.id)


@router.get("/{key}", response_class=HTMLResponse)
def shop_page(key: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    shop, token = _resolve(request, session, settings, key)
    notices = queries.shop_notices(session, shop.id)
    public_url = str(request.base_url).rstrip("/") + f"/shop/{token}"
    return page(request, "shop.html", {"shop": shop, "notices": notices, "token": token,
                                       "public_url": public_url, "user": None, "active": "shop"})


@router.get("/{key}/evidence/{sha256}")
def shop_evidence(key: str, sha256: str, request: Request, session: SessionDep, settings: SettingsDep,
                  store: StoreDep) -> Response:
    shop, _ = _resolve(request, session, settings, key)
    if not SHA256_RE.fullmatch(sha256) or sha256.lower() not in queries.shop_evidence(session, shop.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such photo for this shop")
    return evidence_response(store, sha256)
