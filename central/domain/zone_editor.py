"""A camera's zones as central keeps them, edited in the console, and the realigned zones an edge proposes.

Central keeps each camera's whole zones document (the zones/README.md layout: polygons, door lines, rules,
the frame size they were drawn for) in `cameras.extra["zones"]`, and each zone linked to a shop as that
shop's `ShopZone` (so events of the zone land on the shop). Saving checks the document with `zones.io` (and
`zones.check`'s door-line rule), stores it, and queues a `reload_zones` command carrying it through the
outbox. An edge whose camera was bumped sends realigned zones in its status (`StatusMessage.proposal`);
the latest is kept in `cameras.extra["proposal"]` until the zones are saved (accepted or redrawn).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.domain import audit
from central.orm.events import EdgeStatus, Evidence
from central.orm.shops import Camera, Shop, ShopZone
from wire.schema import MAX_ZONES_BYTES, CommandMessage, StatusMessage
from zones.check import door_line_problems
from zones.io import ZoneFileError, parse_zones

# code → params of the problems the editor finds beyond zones.io and zones.check
EDITOR_CODES: dict[str, tuple[str, ...]] = {
    "document_not_object": (),
    "document_too_large": ("limit",),
    "camera_id_mismatch": ("camera",),
    "point_outside_picture": ("n", "x", "y", "width", "height"),
    "unknown_shop": ("shop",),
    "camera_site_unknown": ("camera",),
}
EDITOR_SOURCE = "editor"  # ShopZone.source of zones linked to a shop in the zone editor
PICTURE_KINDS = ("clean", "annotated")


@dataclass(frozen=True)
class ZoneProblem:
    """What is wrong with a saved document: which zone (None: the whole document), which point (None: the
    whole zone) and why: `reason` in English, `code` and `params` for the console to say it in the user's
    language (the codes of zones.io.ERROR_CODES, zones.check.CHECK_CODES and EDITOR_CODES)."""

    zone_id: str | None
    point: int | None
    reason: str
    code: str = "invalid"
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"zone_id": self.zone_id, "point": self.point, "reason": self.reason, "code": self.code}


@dataclass(frozen=True)
class Picture:
    sha256: str
    width: int
    height: int
    kind: str


def cameras(session: Session) -> list[str]:
    """Every camera central knows: from edge statuses, the camera registry and the shops' zones."""
    ids = set(session.scalars(select(EdgeStatus.camera_id)))
    ids |= set(session.scalars(select(Camera.camera_id)))
    ids |= set(session.scalars(select(ShopZone.camera_id)))
    return sorted(ids)


def site_of(session: Session, camera_id: str) -> str | None:
    status = session.scalars(select(EdgeStatus).where(EdgeStatus.camera_id == camera_id)
                             .order_by(EdgeStatus.updated_at.desc())).first()
    if status is not None:
        return status.site_id
    cam = session.get(Camera, camera_id)
    return cam.site_id or None if cam is not None else None


def latest_picture(session: Session, camera_id: str) -> Picture | None:
    """The newest stored full frame of the camera (clean before annotated from the same moment)."""
    row = session.scalars(
        select(Evidence)
        .where(Evidence.camera_id == camera_id, Evidence.stored.is_(True), Evidence.kind.in_(PICTURE_KINDS),
               Evidence.width.is_not(None), Evidence.height.is_not(None))
        .order_by(Evidence.created_at.desc(), (Evidence.kind != "clean"))
    ).first()
    return None if row is None else Picture(row.sha256, int(row.width), int(row.height), row.kind)


def stored_document(session: Session, camera_id: str) -> dict[str, Any] | None:
    """The camera's zones document; without one (zones only in the registry), one made from its shops'
    zones that have polygons."""
    cam = session.get(Camera, camera_id)
    if cam is not None and (cam.extra or {}).get("zones"):
        return cam.extra["zones"]
    rows = session.scalars(select(ShopZone).where(ShopZone.camera_id == camera_id, ShopZone.polygon.is_not(None))
                           .order_by(ShopZone.zone_id)).all()
    if not rows:
        return None
    return {"camera_id": camera_id, "zones": [{"zone_id": z.zone_id, "shop_id": z.shop_id, "polygon": z.polygon}
                                              for z in rows]}


def proposal(session: Session, camera_id: str) -> dict[str, Any] | None:
    cam = session.get(Camera, camera_id)
    return None if cam is None else (cam.extra or {}).get("proposal")


def note_status(session: Session, msg: StatusMessage) -> None:
    """Keep the realigned zones an edge's status proposes; a status without one (the zones were reloaded)
    withdraws it. An offline last will says nothing about zones."""
    if msg.state == "offline":
        return
    cam = session.get(Camera, msg.camera_id)
    if msg.proposal is None:
        if cam is not None and "proposal" in (cam.extra or {}):
            cam.extra = {k: v for k, v in cam.extra.items() if k != "proposal"}
        return
    if cam is None:
        cam = Camera(camera_id=msg.camera_id, site_id=msg.site_id, extra={})
        session.add(cam)
    if (cam.extra or {}).get("settled_at") == msg.proposal.at:
        return  # a status sent before the edge applied the zones saved for this very view change
    cam.extra = {**(cam.extra or {}), "proposal": {**msg.proposal.model_dump(mode="json"), "sent_at": msg.sent_at}}


def problems(session: Session, camera_id: str, document: Any) -> list[ZoneProblem]:
    """Everything wrong with `document` as the zones of `camera_id`; [] when it can be saved."""
    if not isinstance(document, dict):
        return [ZoneProblem(None, None, "the zones document must be a JSON object", "document_not_object")]
    import json

    if len(json.dumps(document, separators=(",", ":"))) > MAX_ZONES_BYTES:
        return [ZoneProblem(None, None, f"the zones document is over {MAX_ZONES_BYTES} bytes", "document_too_large",
                            {"limit": MAX_ZONES_BYTES})]
    if document.get("camera_id") != camera_id:
        return [ZoneProblem(None, None, f"camera_id must be {camera_id!r}", "camera_id_mismatch",
                            {"camera": camera_id})]
    out = _point_problems(document)
    if out:
        return out
    try:
        zones = parse_zones(document, camera_id)
    except ZoneFileError as exc:
        return [ZoneProblem(exc.zone_id, None, exc.reason, exc.code, exc.params)]
    out = [ZoneProblem(p.zone_id, None, p.reason, p.code, p.params) for p in door_line_problems(zones, camera_id)]
    shops = {z.shop_id for z in zones.zones if z.shop_id is not None}
    known = set(session.scalars(select(Shop.id).where(Shop.id.in_(shops)))) if shops else set()
    out += [ZoneProblem(z.zone_id, None, f"unknown shop {z.shop_id!r}", "unknown_shop", {"shop": z.shop_id})
            for z in zones.zones if z.shop_id is not None and z.shop_id not in known]
    return out


def _point_problems(document: dict[str, Any]) -> list[ZoneProblem]:
    """Points outside the frame the zones are drawn for, by zone and point index (zones.io names only the
    first, without its index)."""
    size = document.get("frame_size")
    raw = document.get("zones")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int | float) for v in size)
            and isinstance(raw, list)):
        return []
    w, h = size
    out = []
    for zone in raw:
        if not isinstance(zone, dict):
            continue
        zid = str(zone.get("zone_id", ""))
        try:
            pts = np.asarray(zone.get("polygon"), np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            continue
        for i, (x, y) in enumerate(pts):
            if not (0 <= x <= w and 0 <= y <= h):
                out.append(ZoneProblem(zid, i, f"point {i + 1} ({x:g}, {y:g}) lies outside the {w}x{h} picture",
                                       "point_outside_picture",
                                       {"n": i + 1, "x": float(x), "y": float(y), "width": w, "height": h}))
    return out


def save(session: Session, camera_id: str, document: dict[str, Any], *, actor: str) -> CommandMessage:
    """Store the camera's zones (the document, and its zones' shops) and queue the reload command carrying it.
    The caller checked `problems` first; raises ValueError when the camera's site is unknown."""
    from central.outbox import enqueue_command

    site_id = site_of(session, camera_id)
    if site_id is None:
        raise ValueError(f"camera {camera_id!r} has never reported: its site is unknown")
    zones = parse_zones(document, camera_id)
    cam = session.get(Camera, camera_id)
    if cam is None:
        cam = Camera(camera_id=camera_id, site_id=site_id, extra={})
        session.add(cam)
    extra = dict(cam.extra or {})
    settled = extra.pop("proposal", None)
    if settled is not None:  # the view change it answered is settled: later statuses still carrying it are old
        extra["settled_at"] = settled.get("at")
    cam.extra = {**extra, "zones": document}
    wanted = {z.zone_id: z for z in zones.zones}
    for row in session.scalars(select(ShopZone).where(ShopZone.camera_id == camera_id)).all():
        zone = wanted.get(row.zone_id)
        if zone is None and row.source == "assigned":
            continue  # an operator's assignment of an ownerless event: not a drawn zone
        if zone is None or zone.shop_id != row.shop_id:
            session.delete(row)
    session.flush()
    have = {z for (z,) in session.execute(select(ShopZone.zone_id).where(ShopZone.camera_id == camera_id))}
    for zone in zones.zones:
        polygon = [[float(x), float(y)] for x, y in zone.polygon]
        if zone.shop_id is None:
            continue
        if zone.zone_id in have:
            row = session.scalars(select(ShopZone).where(ShopZone.camera_id == camera_id,
                                                         ShopZone.zone_id == zone.zone_id)).one()
            row.polygon = polygon
        else:
            session.add(ShopZone(shop_id=zone.shop_id, camera_id=camera_id, zone_id=zone.zone_id, polygon=polygon,
                                 source=EDITOR_SOURCE, assigned_by=actor))
    cmd = CommandMessage(site_id=site_id, camera_id=camera_id, cmd="reload_zones", zones=document)
    enqueue_command(session, cmd)
    audit.record(session, actor=actor, action="zones_saved",
                 details={"camera_id": camera_id, "zones": sorted(wanted), "command_id": cmd.command_id})
    return cmd
