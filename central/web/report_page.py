"""The public report page: `/report` (general: the place typed or the phone's location) and
`/report?shop=<id>` (from a shop's public board). Photos are checked by decoding and cleaned
(`central.domain.photos`), so is one short video (`central.domain.videos`: re-encoded, key frames kept as
JPEGs); each client may send `report_limits.PER_WINDOW` reports an hour, counted in the database so that
every central instance shares the count (`central.domain.report_limits`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from central.api.deps import SessionDep, SettingsDep, StoreDep
from central.api.throttle import client_of
from central.domain import citizen_reports, report_limits, videos
from central.domain.photos import MAX_BYTES, PhotoRejected, clean_photo
from central.evidence_store import EvidenceStore
from central.notices.text import t
from central.orm.shops import Shop
from central.web.render import page, request_language

router = APIRouter(prefix="/report", include_in_schema=False)

MAX_PHOTOS = 3
VIDEO_HINT = {"seconds": round(videos.MAX_SECONDS), "mb": videos.MAX_BYTES // (1024 * 1024)}


def _form(request: Request, session: SessionDep, shop_id: str | None, error: str | None = None,
          done: int | None = None, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    lang = request_language(request)
    shop = session.get(Shop, shop_id) if shop_id else None
    response = page(request, "report.html", {"T": lambda key, **v: t(key, lang, **(VIDEO_HINT | v)), "shop": shop,
                                             "error": error, "done": done, "max_photos": MAX_PHOTOS},
                    status_code=status_code)
    response.headers.update(headers or {})
    return response


@router.get("", response_class=HTMLResponse)
def report_form(request: Request, session: SessionDep, shop: str | None = None) -> HTMLResponse:
    return _form(request, session, shop)


async def _uploads(request: Request, name: str) -> list[UploadFile]:
    form = await request.form()
    return [f for f in form.getlist(name) if isinstance(f, UploadFile) and f.filename]


@router.post("", response_class=HTMLResponse)
async def report_submit(request: Request, session: SessionDep, store: StoreDep, settings: SettingsDep,
                        text: Annotated[str, Form(max_length=2000)] = "",
                        shop_id: Annotated[str, Form(max_length=64)] = "",
                        place: Annotated[str, Form(max_length=300)] = "",
                        contact: Annotated[str, Form(max_length=200)] = "",
                        lat: Annotated[float | None, Form()] = None,
                        lon: Annotated[float | None, Form()] = None) -> Response:
    key = report_limits.client_key(settings.secret_key, client_of(request))
    try:  # one place in this client's hourly allowance, shared with every instance; given back if refused
        window = report_limits.take(session, key)
    except report_limits.TooManyReports as exc:
        return _form(request, session, shop_id, error="report.limit", status_code=429,
                     headers={"Retry-After": str(exc.retry_after)})
    response = await _accept(request, session, store, text=text, shop_id=shop_id, place=place,
                             contact=contact, lat=lat, lon=lon)
    if response.status_code != 200:
        session.rollback()
        report_limits.give_back(session, key, window)
    return response


async def _accept(request: Request, session: SessionDep, store: EvidenceStore, *, text: str,
                  shop_id: str, place: str, contact: str, lat: float | None, lon: float | None) -> Response:
    uploads, clips = await _uploads(request, "photos"), await _uploads(request, "video")
    if len(uploads) > MAX_PHOTOS or len(clips) > 1:
        return _form(request, session, shop_id, error="report.too_many", status_code=400)
    photos: list[bytes] = []
    for up in uploads:
        try:
            photos.append(clean_photo(await up.read(MAX_BYTES + 1)))
        except PhotoRejected:
            return _form(request, session, shop_id, error="page.bad_photo", status_code=400)
    video: videos.CleanVideo | None = None
    if clips:
        try:  # decoding and re-encoding take a second or two: off the event loop
            video = await run_in_threadpool(videos.clean_video, await clips[0].read(videos.MAX_BYTES + 1))
        except videos.VideoRejected:
            return _form(request, session, shop_id, error="report.bad_video", status_code=400)
    try:
        citizen_reports.check(session, shop_id=shop_id or None, text=text, place=place, lat=lat, lon=lon,
                              has_media=bool(photos or video))
    except citizen_reports.BadReport:
        return _form(request, session, shop_id, error="report.incomplete", status_code=400)
    shas = [store.put(p) for p in photos]  # only what passed every check reaches the store
    clip, frames = (store.put(video.clip), [store.put(f) for f in video.frames]) if video else (None, [])
    row = citizen_reports.submit(session, shop_id=shop_id or None, text=text, photos=shas, contact=contact,
                                 place=place, lat=lat, lon=lon, video=clip, video_frames=frames)
    session.commit()
    return _form(request, session, shop_id, done=row.id)
