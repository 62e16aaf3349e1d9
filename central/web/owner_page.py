"""The shop owner's page (private, `/owner/<link token>`) and the public grade board (`/board/<shop id>`).

The owner's page is opened by the link in every notice (`central.notices.links`: its own secret, one
version per shop, revocable). It shows the open case with its first evidence photo, a live countdown to the
deadline, the strike and what it means, the grade and how to improve it, the notice history; the owner can
say 'fixed' with a photo (the camera rechecks at once) or appeal. It is installable (a web app manifest and a
service worker) so Web Push reaches it.

The public board shows the grade face, the shop's name and address and the date of the grade: nothing else
(no evidence, no notices, no phone). `/board/<id>.png` and `.pdf` are the printable A5 board with its QR."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import SessionDep, SettingsDep, StoreDep
from central.api.evidence_response import SHA256_RE, evidence_response
from central.api.throttle import client_of
from central.domain.clock import as_utc, to_local
from central.domain.errors import DomainError
from central.domain.photos import MAX_BYTES, PhotoRejected, clean_photo
from central.notices import links, otp, owner
from central.notices.text import CATALOG, t
from central.orm.cases import APPEAL_NOTICE_KINDS, Case, Notice
from central.orm.notices import NoticeDelivery, ShopChannel
from central.orm.shops import Shop
from central.settings import CentralSettings
from central.web.board import board_pdf, board_png, render_board
from central.web.render import page, request_language

owner_router = APIRouter(prefix="/owner", include_in_schema=False)
board_router = APIRouter(prefix="/board", include_in_schema=False)

FLASH = {"fixed": "page.fixed_sent", "appealed": "page.appealed", "bad_photo": "page.bad_photo",
         "need_reason": "page.need_reason"}


def _shop_for(session: Session, settings: CentralSettings, token: str) -> Shop:
    shop_id = links.shop_for_token(session, settings, token)
    shop = session.get(Shop, shop_id) if shop_id else None
    if shop is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this link does not open a shop page (old or revoked?)")
    return shop


def _local(dt, settings: CentralSettings) -> str:
    return "—" if dt is None else to_local(dt, settings.timezone).strftime("%Y-%m-%d %H:%M")


def _grade_key(grade: str | None) -> str:
    return f"grade.{grade}" if grade in ("red", "yellow", "green") else "grade.none"


def _violation(v: str, lang: str) -> str:
    return t(f"violation.{v}", lang) if f"violation.{v}" in CATALOG else v.replace("_", " ")


def _recheck_key(case: Case) -> str | None:
    if case.state == "rechecking":
        return "page.recheck.waiting"
    if case.recheck_result in ("clear", "present", "unknown"):
        return f"page.recheck.{case.recheck_result}"
    return None


def vapid_public_key(settings: CentralSettings) -> str | None:
    """The application server key the page subscribes with (base64url), from the configured private key."""
    if not settings.notices.vapid_private_key:
        return None
    import base64
    import os

    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid

    key = settings.notices.vapid_private_key
    v = Vapid.from_file(key) if os.path.isfile(key) else Vapid.from_string(key)
    raw = v.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _case_view(session: Session, case: Case, settings: CentralSettings, lang: str) -> dict[str, Any]:
    # the strike's own notice, not an appeal decision that came after it
    kind = next((n.kind for n in reversed(case.notices) if n.kind not in APPEAL_NOTICE_KINDS.values()), None)
    return {
        "case": case, "violation": _violation(case.violation, lang),
        "photo": case.evidence[0] if case.evidence else None,
        "seen": _local(case.first_seen_at or case.opened_at, settings),
        "deadline": _local(case.window_ends_at, settings),
        "deadline_iso": as_utc(case.window_ends_at).isoformat() if case.window_ends_at else "",
        "strike": t("page.strike", lang, strike=case.strike, window_days=settings.strike_window_days,
                    kind=t(f"kind.{kind}", lang)) if case.strike and kind else "",
        "recheck": _recheck_key(case), "can_fix": case.state == "notified",
        "appeal": owner.open_appeal(session, case.id),
    }


def _login_page(request: Request, session: Session, settings: CentralSettings, *, phone: str = "",
                note: str | None = None, error: str | None = None, shops: list[Shop] | None = None,
                status_code: int = 200) -> HTMLResponse:
    lang = request_language(request)
    choices = [(s, links.owner_token(session, settings, s.id)) for s in shops or []]
    session.commit()  # owner_token may have made the shop's first link row
    return page(request, "owner_login.html", {"T": lambda key, **v: t(key, lang, **v), "phone": phone,
                                              "note": note, "error": error, "choices": choices},
                status_code=status_code)


def _login_throttle(request: Request):
    from central.api.throttle import LoginThrottle

    state = request.app.state
    if getattr(state, "owner_code_throttle", None) is None:
        state.owner_code_throttle = LoginThrottle(max_failures=10, window_s=900)
    return state.owner_code_throttle


@owner_router.get("/login", response_class=HTMLResponse)
def owner_login_form(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return _login_page(request, session, settings)


@owner_router.post("/login", response_class=HTMLResponse)
def owner_login_request(request: Request, session: SessionDep, settings: SettingsDep,
                        phone: Annotated[str, Form(max_length=50)]) -> HTMLResponse:
    try:
        otp.request_code(session, settings, phone, language=request_language(request))
    except otp.TooManyCodes:
        session.rollback()
        return _login_page(request, session, settings, phone=phone, error="login.too_many", status_code=429)
    session.commit()
    return _login_page(request, session, settings, phone=phone, note="login.sent")


@owner_router.post("/login/verify", response_class=HTMLResponse)
def owner_login_verify(request: Request, session: SessionDep, settings: SettingsDep,
                       phone: Annotated[str, Form(max_length=50)],
                       code: Annotated[str, Form(max_length=12)]) -> Response:
    throttle = _login_throttle(request)
    key = f"owner-code|{client_of(request)}"
    throttle.check(key)
    shops = otp.verify(session, settings, phone, code)
    session.commit()
    if not shops:
        throttle.failed(key)
        return _login_page(request, session, settings, phone=phone, note="login.sent", error="login.wrong",
                           status_code=400)
    if len(shops) == 1:
        token = links.owner_token(session, settings, shops[0].id)
        session.commit()
        if token is not None:
            return RedirectResponse(f"/owner/{token}", status_code=status.HTTP_303_SEE_OTHER)
    return _login_page(request, session, settings, phone=phone, shops=shops)


@owner_router.get("/sw.js")
def owner_service_worker() -> Response:
    """Served under /owner/ so its scope covers the owner's pages; shows pushed notices."""
    js = """self.addEventListener('push', e => {
  const d = e.data ? e.data.json() : {};
  e.waitUntil(self.registration.showNotification(d.title || 'Doorline', {body: d.body || '', data: d.url,
                                                                        tag: d.key}));
});
self.addEventListener('notificationclick', e => { e.notification.close();
  if (e.notification.data) e.waitUntil(clients.openWindow(e.notification.data)); });
"""
    return Response(js, media_type="text/javascript", headers={"Service-Worker-Allowed": "/owner/"})


@owner_router.get("/{token}", response_class=HTMLResponse)
def owner_page(token: str, request: Request, session: SessionDep, settings: SettingsDep,
               msg: str | None = None) -> HTMLResponse:
    shop = _shop_for(session, settings, token)
    lang = request_language(request)
    open_cases = list(session.scalars(select(Case).where(Case.shop_id == shop.id, Case.is_open.is_(True),
                                                         Case.confirmed_at.is_not(None))
                                      .order_by(Case.confirmed_at.desc())))
    notices = list(session.scalars(select(Notice).where(Notice.shop_id == shop.id)
                                   .order_by(Notice.id.desc()).limit(50)))
    sent = {n for (n,) in session.execute(select(NoticeDelivery.notice_id).where(
        NoticeDelivery.shop_id == shop.id, NoticeDelivery.audience == "owner", NoticeDelivery.status == "sent"))}
    # an appeal decision shows its message (the reviewer's note, what follows) as written, in the deployment's
    # language; a strike notice shows its kind and number
    appeal_kinds = APPEAL_NOTICE_KINDS.values()
    history = [{"at": _local(n.created_at, settings), "kind": t(f"kind.{n.kind}", lang),
                "strike": None if n.kind in appeal_kinds else n.strike,
                "text": n.text if n.kind in appeal_kinds else None,
                "delivered": n.id in sent, "kind_code": n.kind} for n in notices]
    ctx = {
        "T": lambda key, **v: t(key, lang, **v), "token": token, "shop": shop,
        "grade_key": _grade_key(shop.grade), "grade_since": _local(shop.grade_since, settings),
        "cases": [_case_view(session, c, settings, lang) for c in open_cases], "history": history,
        "flash": FLASH.get(msg or ""), "vapid_key": vapid_public_key(settings),
        "board_url": f"/board/{shop.id}",
    }
    return page(request, "owner.html", ctx)


@owner_router.get("/{token}/status")
def owner_status(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """The open and recently closed cases' states, for the page to show a recheck's result without reload."""
    shop = _shop_for(session, settings, token)
    lang = request_language(request)
    rows = session.scalars(select(Case).where(Case.shop_id == shop.id, Case.confirmed_at.is_not(None))
                           .order_by(Case.confirmed_at.desc()).limit(10))
    out = []
    for c in rows:
        key = _recheck_key(c)
        out.append({"id": c.id, "state": c.state, "open": c.is_open, "recheck_result": c.recheck_result,
                    "self_rectified": c.self_rectified, "text": t(key, lang) if key else None})
    return JSONResponse({"cases": out}, headers={"Cache-Control": "no-store"})


@owner_router.get("/{token}/evidence/{sha256}")
def owner_evidence(token: str, sha256: str, session: SessionDep, settings: SettingsDep,
                   store: StoreDep) -> Response:
    shop = _shop_for(session, settings, token)
    if not SHA256_RE.fullmatch(sha256):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such photo for this shop")
    owned = session.scalars(select(Case.evidence).where(Case.shop_id == shop.id, Case.confirmed_at.is_not(None)))
    if not any(sha256.lower() in (ev or []) for ev in owned):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such photo for this shop")
    return evidence_response(store, sha256.lower())


def _back(token: str, msg: str) -> RedirectResponse:
    return RedirectResponse(f"/owner/{token}?msg={msg}", status_code=status.HTTP_303_SEE_OTHER)


@owner_router.post("/{token}/cases/{case_id}/fixed")
async def owner_fixed(token: str, case_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                      store: StoreDep, photo: Annotated[UploadFile, File()]) -> Response:
    shop = _shop_for(session, settings, token)
    data = await photo.read(MAX_BYTES + 1)
    try:
        clean = clean_photo(data)
    except PhotoRejected:
        return _back(token, "bad_photo")
    sha = store.put(clean)
    try:
        owner.report_fixed(session, shop.id, case_id, photo_sha256=sha, settings=settings)
    except DomainError as exc:
        raise HTTPException(exc.status, exc.message) from None
    session.commit()
    return _back(token, "fixed")


@owner_router.post("/{token}/cases/{case_id}/appeal")
def owner_appeal(token: str, case_id: str, session: SessionDep, settings: SettingsDep,
                 reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    shop = _shop_for(session, settings, token)
    if not reason.strip():
        return _back(token, "need_reason")
    try:
        owner.appeal(session, shop.id, case_id, reason=reason)
    except DomainError as exc:
        raise HTTPException(exc.status, exc.message) from None
    session.commit()
    return _back(token, "appealed")


@owner_router.post("/{token}/push-subscription", status_code=201)
async def owner_push_subscription(token: str, request: Request, session: SessionDep,
                                  settings: SettingsDep) -> JSONResponse:
    """The page's service worker subscribed: notices now also go to this phone by Web Push."""
    shop = _shop_for(session, settings, token)
    try:
        sub = json.loads(await request.body())
        endpoint, keys = str(sub["endpoint"]), sub["keys"]
        clean = {"endpoint": endpoint, "keys": {"p256dh": str(keys["p256dh"]), "auth": str(keys["auth"])}}
    except (ValueError, KeyError, TypeError):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not a push subscription") from None
    if not endpoint.startswith("https://"):  # never let a page make central call a plain-http (internal) host
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "push endpoints must be https")
    existing = session.scalars(select(ShopChannel).where(ShopChannel.shop_id == shop.id,
                                                         ShopChannel.kind == "webpush"))
    if not any((ch.config or {}).get("endpoint") == endpoint for ch in existing):
        session.add(ShopChannel(shop_id=shop.id, kind="webpush", target=endpoint[:1000], config=clean,
                                language=request_language(request)))
        session.commit()
    return JSONResponse({"ok": True}, status_code=201)


@owner_router.get("/{token}/manifest.webmanifest")
def owner_manifest(token: str, session: SessionDep, settings: SettingsDep) -> JSONResponse:
    shop = _shop_for(session, settings, token)
    body = {"name": f"{shop.name} · Doorline", "short_name": shop.name[:12], "start_url": f"/owner/{token}",
            "scope": "/owner/", "display": "standalone", "background_color": "#ffffff", "theme_color": "#1f6feb",
            "lang": settings.language, "icons": [{"src": "/static/favicon.svg", "sizes": "any",
                                                  "type": "image/svg+xml"}]}
    return JSONResponse(body, media_type="application/manifest+json")


# ---- the public board -------------------------------------------------------------------------------------

def _public_shop(session: Session, shop_id: str) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such shop")
    return shop


def board_url(settings: CentralSettings, shop_id: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/board/{shop_id}"


def _board_image(shop: Shop, settings: CentralSettings, lang: str):
    since = to_local(shop.grade_since, settings.timezone).date().isoformat() if shop.grade_since else "—"
    return render_board(name=shop.name, address=shop.address, grade=shop.grade,
                        grade_label=t(_grade_key(shop.grade), lang), graded_on=f"{t('board.since', lang)}: {since}",
                        title=t("board.title", lang), scan_text=t("board.scan", lang),
                        url=board_url(settings, shop.id))


@board_router.get("/{shop_id}.png")
def board_image(shop_id: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    shop = _public_shop(session, shop_id)
    return Response(board_png(_board_image(shop, settings, request_language(request))), media_type="image/png")


@board_router.get("/{shop_id}.pdf")
def board_document(shop_id: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    shop = _public_shop(session, shop_id)
    img = _board_image(shop, settings, request_language(request))
    return Response(board_pdf(img, title=f"{shop.name} · Doorline"), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="board-{shop.id}.pdf"'})


@board_router.get("/{shop_id}", response_class=HTMLResponse)
def board_page(shop_id: str, request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    shop = _public_shop(session, shop_id)
    lang = request_language(request)
    since = to_local(shop.grade_since, settings.timezone).date().isoformat() if shop.grade_since else "—"
    # only what is public: the page is built from these four values, never from the shop row
    public = {"name": shop.name, "address": shop.address, "grade": shop.grade, "since": since, "id": shop.id}
    return page(request, "board.html", {"T": lambda key, **v: t(key, lang, **v), "board": public,
                                        "grade_key": _grade_key(shop.grade)})
