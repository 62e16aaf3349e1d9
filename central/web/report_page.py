"""The public report page: `/report` (general: the place typed or the phone's location) and
`/report?shop=<id>` (from a shop's public board). Photos are checked by decoding and cleaned
(`central.domain.photos`); each client may send `REPORTS_PER_HOUR` reports an hour."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from central.api.deps import SessionDep, StoreDep
from central.api.throttle import LoginThrottle, client_of
from central.domain import citizen_reports
from central.domain.photos import MAX_BYTES, PhotoRejected, clean_photo
from central.notices.text import t
from central.orm.shops import Shop
from central.web.render import page, request_language

router = APIRouter(prefix="/report", include_in_schema=False)

REPORTS_PER_HOUR = 5
MAX_PHOTOS = 3


def _throttle(request: Request) -> LoginThrottle:
    state = request.app.state
    if getattr(state, "report_throttle", None) is None:
        state.report_throttle = LoginThrottle(max_failures=REPORTS_PER_HOUR, window_s=3600)
    return state.report_throttle


def _client(request: Request) -> str:
    return f"report|{client_of(request)}"


def _form(request: Request, session: SessionDep, shop_id: str | None, error: str | None = None,
          done: int | None = None, status_code: int = 200) -> HTMLResponse:
    lang = request_language(request)
    shop = session.get(Shop, shop_id) if shop_id else None
    return page(request, "report.html", {"T": lambda key, **v: t(key, lang, **v), "shop": shop, "error": error,
                                         "done": done, "max_photos": MAX_PHOTOS}, status_code=status_code)


@router.get("", response_class=HTMLResponse)
def report_form(request: Request, session: SessionDep, shop: str | None = None) -> HTMLResponse:
    return _form(request, session, shop)


@router.post("", response_class=HTMLResponse)
async def report_submit(request: Request, session: SessionDep, store: StoreDep,
                        text: Annotated[str, Form(max_length=2000)] = "",
                        shop_id: Annotated[str, Form(max_length=64)] = "",
                        place: Annotated[str, Form(max_length=300)] = "",
                        contact: Annotated[str, Form(max_length=200)] = "",
                        lat: Annotated[float | None, Form()] = None,
                        lon: Annotated[float | None, Form()] = None) -> Response:
    throttle, key = _throttle(request), _client(request)
    throttle.check(key)  # 429 once this client has sent its reports for the hour
    form = await request.form()
    uploads = [f for f in form.getlist("photos") if isinstance(f, UploadFile) and f.filename]
    if len(uploads) > MAX_PHOTOS:
        return _form(request, session, shop_id, error="report.too_many", status_code=400)
    photos: list[bytes] = []
    for up in uploads:
        try:
            photos.append(clean_photo(await up.read(MAX_BYTES + 1)))
        except PhotoRejected:
            return _form(request, session, shop_id, error="page.bad_photo", status_code=400)
    try:
        shas = [store.put(p) for p in photos]
        row = citizen_reports.submit(session, shop_id=shop_id or None, text=text, photos=shas, contact=contact,
                                     place=place, lat=lat, lon=lon)
    except citizen_reports.BadReport:
        return _form(request, session, shop_id, error="report.incomplete", status_code=400)
    session.commit()
    throttle.failed(key)  # counts one report against the hour's allowance
    return _form(request, session, shop_id, done=row.id)

