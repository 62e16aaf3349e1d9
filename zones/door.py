"""The door line: a segment of the zone's edge, with the street on the zone's side of it.

A zone is the strip of pavement in front of one shop; its door line is the part of its edge along the shop's
façade. Because the door line lies on the edge, its street side is explicit: it is the side the zone's
interior touches (`street_normal`), never a guess from the vertex mean, and extra points along the doorway or
a line through the zone's centre change nothing. Goods behind the door line are outside the zone.

Zone files written before this rule could hold a door line across the zone's interior (the old rule counted
only the part on the side of the vertex mean). `cut_at_door` turns such a zone into the new form: the polygon
cut at the door line keeping that part, and the door line the cut (`doorline-zones migrate-door`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

DOOR_TOLERANCE_PX = 4.0  # how far a door line point may lie off the zone's edge
_SAMPLES = 9  # points along the door line that must all lie on the edge


def door_line_offsets(polygon: np.ndarray, door_line: np.ndarray) -> np.ndarray:
    """Distance (px) to the polygon's edge of `_SAMPLES` points evenly along the door line (ends included)."""
    edge = Polygon(polygon).exterior
    t = np.linspace(0.0, 1.0, _SAMPLES)[:, None]
    pts = door_line[0] * (1 - t) + door_line[1] * t
    return shapely.distance(edge, shapely.points(pts))


@dataclass(frozen=True)
class DoorProblem:
    """Why a door line is not a segment of its zone's edge: an English reason, a stable code and its params
    (the console translates them, `central.web.zone_reasons`)."""

    reason: str
    code: str
    params: dict[str, Any]


def door_line_problem(polygon: np.ndarray, door_line: np.ndarray,
                      tolerance_px: float = DOOR_TOLERANCE_PX) -> DoorProblem | None:
    """None when the door line is a segment of the polygon's edge, else why not."""
    d = door_line_offsets(polygon, door_line)
    for k, end in ((0, 0), (1, len(d) - 1)):
        if d[end] > tolerance_px:
            x, y = (float(v) for v in door_line[k])
            return DoorProblem(
                f"door line point {k + 1} ({x:g}, {y:g}) is {d[end]:.1f} px off the zone's edge (the door "
                f"line is a segment of the zone's edge; `doorline-zones migrate-door FILE` cuts an old zone at "
                f"its door line)",
                "door_point_off_edge", {"n": k + 1, "x": x, "y": y, "distance": round(float(d[end]), 1)})
    if d.max() > tolerance_px:
        return DoorProblem(
            f"door line crosses the zone's interior ({d.max():.1f} px off its edge between its points): it must "
            f"run along the zone's edge (`doorline-zones migrate-door FILE` cuts an old zone at it)",
            "door_line_crosses_zone", {"distance": round(float(d.max()), 1)})
    return None


def street_normal(polygon: np.ndarray, door_line: np.ndarray) -> np.ndarray:
    """Unit vector across the door line pointing into the zone: the street side."""
    a, b = np.asarray(door_line, np.float64)
    along = (b - a) / max(float(np.hypot(*(b - a))), 1e-9)
    normal = np.array([-along[1], along[0]])
    mid = (a + b) / 2
    shape = Polygon(polygon)
    step = max(1.0, 1e-3 * float(np.sqrt(shape.area)))
    inside = shapely.contains_xy(shape, *(mid + step * normal))
    return normal if inside else -normal


def on_street_side(door_line: np.ndarray, normal: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bool per point: on the street side of the door line's infinite extension (or on it)."""
    return (np.asarray(points, np.float64) - door_line[0]) @ normal >= 0.0


def door_distance(door_line: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distance (px) of each point to the door segment."""
    a, b = np.asarray(door_line, np.float64)
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return np.hypot(*(points - (a + t[:, None] * ab)).T)


def cut_at_door(polygon: np.ndarray, door_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An old zone whose door line crosses it → (polygon, door_line) in the new form: the part of the polygon
    on the side of its vertex mean (the part the old rule counted goods in), and the door line along the cut.
    Raises ValueError when the line does not cut the polygon into a part on that side."""
    poly = Polygon(polygon)
    a, b = np.asarray(door_line, np.float64)
    along = (b - a) / max(float(np.hypot(*(b - a))), 1e-9)
    normal = np.array([-along[1], along[0]])
    if (np.asarray(polygon).mean(axis=0) - a) @ normal < 0:
        normal = -normal
    big = 4.0 * float(np.ptp(np.asarray(polygon), axis=0).max() + np.hypot(*(b - a)))
    half = Polygon([a - big * along, b + big * along, b + big * along + big * normal,
                    a - big * along + big * normal])
    part = poly.intersection(half)
    if part.geom_type == "MultiPolygon":
        part = max(part.geoms, key=lambda g: g.area)
    if part.is_empty or part.geom_type != "Polygon" or part.area <= 1e-6:
        raise ValueError("the door line does not cut the zone: nothing of it lies on the street side")
    cut = poly.intersection(LineString([a - big * along, b + big * along]))
    coords = np.asarray(shapely.get_coordinates(cut))
    if len(coords) < 2:
        raise ValueError("the door line does not cross the zone")
    # the new door: the stretch of the cut line inside the zone, ends ordered like the old line
    s = (coords - a) @ along
    new_line = np.array([coords[np.argmin(s)], coords[np.argmax(s)]])
    return np.asarray(part.exterior.coords)[:-1], new_line
