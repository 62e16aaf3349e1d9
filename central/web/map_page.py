"""The console map (Leaflet from this server's static files, no CDN): shops coloured by grade, hot spots,
cameras and drones with their state, open cases (`central.web.map_data`). `?hotspot=<address>` opens the map
on that hot spot."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from central import i18n
from central.api.deps import SessionDep, SettingsDep
from central.domain.scope import Scope
from central.web.map_data import map_features
from central.web.render import (
    EDGE_STATE,
    GRADE_LABEL,
    STATE_LABEL,
    VIOLATION_LABEL,
    console_user,
    page,
    request_translator,
)

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    user = console_user(request, session)
    t = request_translator(request)
    with i18n.use(t):
        labels = {
            "grade": {g: t.gettext(GRADE_LABEL[g]) for g in GRADE_LABEL} | {"none": t.gettext("not graded yet")},
            "state": {k: t.gettext(v) for k, v in STATE_LABEL.items()},
            "violation": {k: t.gettext(v) for k, v in VIOLATION_LABEL.items()},
            "edge": {k: t.gettext(v) for k, v in EDGE_STATE.items()} | {"unknown": t.gettext("no status yet")},
            "shop": t.gettext("Shop"), "camera": t.gettext("Camera"), "drone": t.gettext("Drone"),
            "hotspot": t.gettext("Hot spot"), "case": t.gettext("Case"), "tickets": t.gettext("tickets"),
            "open": t.gettext("Open the case"), "hotspots": t.gettext("All hot spots"),
            "file": t.gettext("Shop file"),
        }
    return page(request, "map.html", {
        "user": user, "active": "map", "msg": request.query_params.get("msg"),
        "labels": json.dumps(labels, ensure_ascii=False), "tile_url": settings.map_tile_url or "",
        "tile_crs": settings.map_tile_crs, "tile_attribution": settings.map_tile_attribution,
        "features": map_features(session, settings.map_tile_crs, scope=Scope.of(user))})


@router.get("/map/data.json")
def map_data(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    user = console_user(request, session)
    return JSONResponse(map_features(session, settings.map_tile_crs, scope=Scope.of(user)))
