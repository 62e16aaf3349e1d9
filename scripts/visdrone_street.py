"""The street of a VisDrone frame as a drone flight would see it: a camera pose fitted from the street, and our
drawn shop plots (`scripts/data/visdrone_street_plan.yaml`), in the product's own projection and shop matching.

The frame has no flight record, so the pose (focal length, gimbal yaw/pitch/roll, height and position) is fitted
by least squares to the plan's ground control: the ends of the yellow centre dashes (at known distances along the
street) and points on a lane line (at a known distance across it), projected with `zones.projection`'s pinhole
model (principal point at the centre, square pixels, no distortion). The shops are plots from the kerb back into
the buildings, `width_m` wide; a point is on a shop when `edge.drone.ShopFootprints` matches it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import least_squares

from edge.drone import ShopFootprints
from zones.geo import LocalProjection
from zones.projection import CameraPose, Intrinsics, contact_pixel, ground_points, image_points

REPO = Path(__file__).resolve().parents[1]
PLAN = REPO / "scripts" / "data" / "visdrone_street_plan.yaml"
DATA = REPO.parent / "shared" / "data" / "visdrone-street"
TRICYCLES = (7, 8)  # VisDrone categories: tricycle, awning-tricycle
_DIAGONAL_35MM = float(np.hypot(36.0, 24.0))


@dataclass(frozen=True)
class Plan:
    frame: str
    size: tuple[int, int]
    origin: tuple[float, float]
    points: np.ndarray  # (n, 4): image x, y, plan x, y
    lines: list[tuple[float, np.ndarray]]  # plan x of the line, (m, 2) image points on it
    kerb_px: np.ndarray
    shops: dict

    @classmethod
    def load(cls, path: Path = PLAN) -> Plan:
        d = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(str(d["frame"]), tuple(d["image_size"]), tuple(d["origin_latlon"]),
                   np.asarray(d["points"], np.float64),
                   [(float(ln["x_m"]), np.asarray(ln["px"], np.float64)) for ln in d["lines"]],
                   np.asarray(d["kerb_px"], np.float64), dict(d["shops"]))

    @property
    def projection(self) -> LocalProjection:
        return LocalProjection(*self.origin)


@dataclass(frozen=True)
class Fit:
    pose: CameraPose
    cam: Intrinsics
    points_rms_px: float
    points_max_px: float
    lines_rms_px: float

    @property
    def focal35_mm(self) -> float:
        return self.cam.fx * _DIAGONAL_35MM / float(np.hypot(self.cam.width, self.cam.height))

    def plan_xy(self, pixels: np.ndarray, proj: LocalProjection) -> np.ndarray:
        """Plan metres of image pixels (NaN above the horizon)."""
        ll = ground_points(pixels, self.pose, self.cam)
        out = np.full_like(ll, np.nan)
        ok = np.isfinite(ll).all(axis=1)
        if ok.any():
            out[ok] = proj.to_xy(ll[ok])
        return out


def _camera(params: np.ndarray, plan: Plan) -> tuple[CameraPose, Intrinsics]:
    f, yaw, pitch, roll, height, x0, y0 = params
    lat, lon = plan.projection.to_latlon([[x0, y0]])[0]
    w, h = plan.size
    return CameraPose(float(lat), float(lon), float(height), float(yaw), float(pitch), float(roll)), \
        Intrinsics(float(f), float(f), w / 2.0, h / 2.0, w, h)


def _residuals(params: np.ndarray, plan: Plan, points: np.ndarray, lines: list) -> np.ndarray:
    pose, cam = _camera(params, plan)
    proj = plan.projection
    seen = image_points(proj.to_latlon(points[:, 2:]), pose, cam)
    out = [np.nan_to_num((seen - points[:, :2]).ravel(), nan=1e4)]
    for x_m, px in lines:
        a, b = image_points(proj.to_latlon([[x_m, -50.0], [x_m, 150.0]]), pose, cam)
        d = b - a
        normal = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9)
        out.append(np.nan_to_num((px - a) @ normal, nan=1e4))
    return np.concatenate(out)


def fit_pose(plan: Plan, *, pixel_noise: float = 0.0, rng: np.random.Generator | None = None) -> Fit:
    """The pinhole pose that best explains the plan's ground control (pixels jittered by `pixel_noise` px
    to see how well the street pins the pose down)."""
    points, lines = plan.points.copy(), [(x, px.copy()) for x, px in plan.lines]
    if pixel_noise > 0:
        rng = rng or np.random.default_rng(0)
        points[:, :2] += rng.normal(0, pixel_noise, (len(points), 2))
        lines = [(x, px + rng.normal(0, pixel_noise, px.shape)) for x, px in lines]
    start = np.array([1500.0, 0.0, -45.0, 0.0, 30.0, 0.0, -30.0])
    lower = [300.0, -60.0, -89.0, -30.0, 3.0, -100.0, -300.0]
    upper = [6000.0, 60.0, -5.0, 30.0, 300.0, 100.0, 100.0]
    result = least_squares(_residuals, start, args=(plan, points, lines), bounds=(lower, upper), x_scale="jac")
    pose, cam = _camera(result.x, plan)
    res = _residuals(result.x, plan, plan.points, plan.lines)  # judged on the points as picked
    n = 2 * len(plan.points)
    per_point = np.hypot(res[:n:2], res[1:n:2])
    return Fit(pose, cam, float(np.sqrt(np.mean(per_point ** 2))), float(per_point.max()),
               float(np.sqrt(np.mean(res[n:] ** 2))) if len(res) > n else 0.0)


def kerb_x(plan: Plan, fit: Fit) -> float:
    """Where the pavement ends, across the street (plan x, m): the mean of the picked kerb points."""
    return float(np.nanmean(fit.plan_xy(plan.kerb_px, plan.projection)[:, 0]))


def shop_plots(plan: Plan, kerb: float, width_m: float | None = None) -> dict[str, np.ndarray]:
    """The drawn shops: plots from the kerb `depth_m` back, `width_m` wide along the street (plan metres)."""
    s = plan.shops
    width = float(width_m or s["width_m"])
    plots: dict[str, np.ndarray] = {}
    for i, y in enumerate(np.arange(float(s["from_y_m"]), float(s["to_y_m"]), width)):
        x0 = kerb - float(s["depth_m"])
        plots[f"shop-{i:02d}"] = np.array([[x0, y], [kerb, y], [kerb, y + width], [x0, y + width], [x0, y]])
    return plots


def footprints_geojson(plots: dict[str, np.ndarray], proj: LocalProjection) -> dict:
    features = []
    for shop_id, ring in plots.items():
        ll = proj.to_latlon(ring)
        features.append({"type": "Feature", "properties": {"shop_id": shop_id, "drawn": "visdrone_street_plan"},
                         "geometry": {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in ll]]}})
    return {"type": "FeatureCollection", "features": features}


def footprints(plots: dict[str, np.ndarray], proj: LocalProjection) -> ShopFootprints:
    return ShopFootprints.from_latlon({k: [tuple(p) for p in proj.to_latlon(v)] for k, v in plots.items()})


def labelled_tricycles(frame: str, data: Path = DATA) -> np.ndarray:
    """(n, 4) xyxy boxes of the frame's labelled tricycles and awning tricycles (VisDrone annotation lines:
    left, top, width, height, score, category, truncation, occlusion)."""
    rows = np.loadtxt(data / "annotations_visdrone" / f"{frame}.txt", delimiter=",", ndmin=2)
    rows = rows[np.isin(rows[:, 5].astype(int), TRICYCLES)]
    return np.column_stack([rows[:, 0], rows[:, 1], rows[:, 0] + rows[:, 2], rows[:, 1] + rows[:, 3]])


def shops_of(boxes: np.ndarray, fit: Fit, shops: ShopFootprints, tolerance_m: float) -> list[str | None]:
    """The shop each box's ground contact point lands on, through the product's projection and matching."""
    if not len(boxes):
        return []
    return shops.match(ground_points(contact_pixel(boxes, fit.pose), fit.pose, fit.cam), tolerance_m)


def save_geojson(path: Path, plots: dict[str, np.ndarray], proj: LocalProjection) -> Path:
    path.write_text(json.dumps(footprints_geojson(plots, proj)), encoding="utf-8")
    return path
