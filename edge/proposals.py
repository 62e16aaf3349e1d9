"""A realignment proposal: where a bumped camera's zones now lie, for an operator to accept in the console.

`propose` runs `edge.realign.estimate` from the camera's reference frame to its current view; a usable,
moved result becomes a `wire.schema.ZoneProposal` (the realigned zones document, the shift and the inliers).
Points carried past the frame's edge are clipped to it (a polygon to its part inside the frame), so that the
proposal is a document the edge would load."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from shapely.geometry import Polygon, box

from edge.realign import Realignment, estimate, realign_zones, zone_points
from wire.schema import ZoneProposal
from zones.io import zones_document
from zones.model import CameraZones, Zone


def _inside(zone: Zone, w: int, h: int) -> Zone | None:
    """The zone cut to the frame; None when nothing of it is left inside."""
    poly, line = zone.polygon, zone.door_line
    if (poly[:, 0] < 0).any() or (poly[:, 0] > w).any() or (poly[:, 1] < 0).any() or (poly[:, 1] > h).any():
        part = Polygon(poly).intersection(box(0, 0, w, h))
        if part.geom_type != "Polygon" or part.area <= 1.0:
            part = max(getattr(part, "geoms", []), key=lambda g: getattr(g, "area", 0.0), default=None)
            if part is None or part.geom_type != "Polygon" or part.area <= 1.0:
                return None
        poly = np.asarray(part.exterior.coords)[:-1]
    if line is not None:
        line = np.clip(line, (0, 0), (w, h))
        if np.allclose(line[0], line[1]):
            line = None
    return replace(zone, polygon=poly, door_line=line)


def propose(zones: CameraZones, reference: np.ndarray, current: np.ndarray, at: float
            ) -> tuple[Realignment, ZoneProposal | None]:
    """How the view moved from `reference` to `current`, and the proposal when it moved and can be realigned."""
    h, w = current.shape[:2]
    result = estimate(reference, current, probe=zone_points(zones, (w, h)))
    if not (result.usable and result.moved):
        return result, None
    moved = realign_zones(zones, result.homography, (w, h))
    kept = [z for z in (_inside(z, w, h) for z in moved.zones) if z is not None]
    if not kept:
        return replace(result, reason=f"{result.reason}, and every zone left the picture: redraw the zones"), None
    document = zones_document(replace(moved, zones=kept))
    return result, ZoneProposal(zones=document, shift_px=round(result.shift_px, 1), inliers=result.inliers, at=at)
