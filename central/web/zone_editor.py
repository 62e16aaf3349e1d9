"""The zone editor: a camera's latest picture with its zones drawn over it, edited in the browser (reviewers and
admins; viewers see it read-only), saved through `central.domain.zone_editor` (checked, stored, sent to the
edge as a reload_zones command carrying the document). A realignment the edge proposes is drawn beside the
current zones, to be accepted the same way."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select

from central import i18n
from central.api.deps import SessionDep, check_same_origin
from central.auth import has_role
from central.domain import zone_editor
from central.orm.shops import Shop
from central.web.render import console_user, page, request_translator
from central.web.zone_reasons import translated

router = APIRouter(prefix="/console/zones", include_in_schema=False)

EDITOR_ROLE = "reviewer"


def _labels(t: i18n.Translator) -> dict[str, str]:
    return {
        "zone": t.gettext("Zone"),
        "shop": t.gettext("Shop"),
        "no_shop": t.gettext("(no shop)"),
        "new_zone": t.gettext("New zone"),
        "delete_zone": t.gettext("Delete zone"),
        "draw_door": t.gettext("Draw the door line"),
        "save": t.gettext("Save and send to the camera"),
        "saving": t.gettext("Saving…"),
        "saved": t.gettext("Saved: the camera reloads its zones (command %(id)s)."),
        "failed": t.gettext("Not saved: fix the marked zones."),
        "error": t.gettext("Not saved:"),
        "drawing": t.gettext("Click the picture to add points; click the first point to close the zone."),
        "door_drawing": t.gettext("Click two points on the zone's edge for the door line."),
        "accept": t.gettext("Accept the realigned zones"),
        "current": t.gettext("Current zones"),
        "point": t.gettext("point %(n)s"),
        "zone_id": t.gettext("Zone id"),
        "read_only": t.gettext("Read only: reviewers and admins edit zones."),
    }


@router.get("", response_class=HTMLResponse)
def editor(request: Request, session: SessionDep, camera: str | None = Query(None, max_length=128)) -> HTMLResponse:
    user = console_user(request, session)
    t = request_translator(request)
    cams = zone_editor.cameras(session)
    data: dict[str, Any] | None = None
    if camera:
        picture = zone_editor.latest_picture(session, camera)
        data = {
            "camera_id": camera,
            "site_id": zone_editor.site_of(session, camera),
            "picture": None if picture is None else {"url": f"/api/evidence/{picture.sha256}",
                                                     "width": picture.width, "height": picture.height,
                                                     "kind": picture.kind},
            "document": zone_editor.stored_document(session, camera),
            "proposal": zone_editor.proposal(session, camera),
            "shops": [{"id": s.id, "name": s.name} for s in session.scalars(select(Shop).order_by(Shop.id))],
            "can_edit": has_role(user.role, EDITOR_ROLE),
            "save_url": f"/console/zones/{camera}",
        }
    with i18n.use(t):
        labels = _labels(t)
    return page(request, "zones.html", {
        "user": user, "active": "zones", "msg": request.query_params.get("msg"), "cameras": cams,
        "camera": camera or "", "data": data, "labels": json.dumps(labels, ensure_ascii=False)})


@router.post("/{camera_id}")
def save(request: Request, camera_id: str, session: SessionDep,
         payload: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Body: {"document": <zones document>}. 200 {"command_id"} when saved, else 200 {"errors": [{zone_id, point,
    code, reason}]} with each reason in the user's language; 403 for a viewer."""
    check_same_origin(request)
    user = console_user(request, session)
    t = request_translator(request)
    if not has_role(user.role, EDITOR_ROLE):
        return JSONResponse({"errors": [{"zone_id": None, "point": None,
                                         "reason": t.gettext("Only reviewers and admins edit zones.")}]}, 403)
    document = payload.get("document")
    found = zone_editor.problems(session, camera_id, document)
    if not found:
        try:
            cmd = zone_editor.save(session, camera_id, document, actor=user.username)
        except ValueError as exc:
            found = [zone_editor.ZoneProblem(None, None, str(exc), "camera_site_unknown", {"camera": camera_id})]
        else:
            session.commit()
            return JSONResponse({"command_id": cmd.command_id})
    session.rollback()
    # 200: refusing a drawing is the editor's ordinary answer (the page marks the zones), not a failed request
    return JSONResponse({"errors": [translated(t, p) for p in found]})
