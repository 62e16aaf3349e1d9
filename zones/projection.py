"""Pixels of a flying camera onto the ground: a pinhole camera at a known pose over flat ground.

Frames: the local east/north/up tangent plane around the camera (`zones.geo.LocalProjection`), the camera's
own x right, y down, z forward. The pose is DJI's: `yaw_deg` the heading of the optical axis, clockwise from
north; `pitch_deg` 0 level and -90 straight down (nadir); `roll_deg` a turn about the optical axis,
positive clockwise as seen from behind the camera. `height_m` is the camera's height above the ground
plane the goods stand on.

A ray above the horizon never meets the ground: its point is NaN and `valid` False.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from zones.geo import GeoError, LocalProjection

_DIAGONAL_35MM = math.hypot(36.0, 24.0)  # 43.27 mm: the film diagonal a "35 mm equivalent" focal refers to


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera (no distortion: DJI's video is already undistorted by the camera)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_35mm(cls, focal35_mm: float, width: int, height: int) -> Intrinsics:
        """From a 35 mm-equivalent focal length (what DJI's SRT calls `focal_len`), defined on the diagonal."""
        if focal35_mm <= 0:
            raise GeoError(f"focal length must be positive, got {focal35_mm}")
        f = focal35_mm * math.hypot(width, height) / _DIAGONAL_35MM
        return cls(f, f, width / 2.0, height / 2.0, width, height)

    @classmethod
    def from_sensor(cls, focal_mm: float, sensor_width_mm: float, width: int, height: int) -> Intrinsics:
        """From the real focal length and the sensor width (the image spans the sensor's width)."""
        if focal_mm <= 0 or sensor_width_mm <= 0:
            raise GeoError("focal length and sensor width must be positive")
        f = focal_mm * width / sensor_width_mm
        return cls(f, f, width / 2.0, height / 2.0, width, height)

    @classmethod
    def load(cls, path: Path) -> Intrinsics:
        """A calibration file (YAML or JSON): `width`, `height` and either `fx, fy, cx, cy`, a 3x3
        `camera_matrix` (OpenCV's), `focal_mm` + `sensor_width_mm`, or `focal35_mm`."""
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise GeoError(f"calibration {path}: cannot read it: {exc}") from exc
        if not isinstance(data, dict) or "width" not in data or "height" not in data:
            raise GeoError(f"calibration {path}: needs 'width' and 'height'")
        w, h = int(data["width"]), int(data["height"])
        try:
            if "camera_matrix" in data:
                k = np.asarray(data["camera_matrix"], np.float64).reshape(3, 3)
                return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), w, h)
            if "fx" in data:
                return cls(float(data["fx"]), float(data.get("fy", data["fx"])),
                           float(data.get("cx", w / 2)), float(data.get("cy", h / 2)), w, h)
            if "focal_mm" in data:
                return cls.from_sensor(float(data["focal_mm"]), float(data["sensor_width_mm"]), w, h)
            if "focal35_mm" in data:
                return cls.from_35mm(float(data["focal35_mm"]), w, h)
        except (KeyError, TypeError, ValueError) as exc:
            raise GeoError(f"calibration {path}: {exc}") from exc
        raise GeoError(f"calibration {path}: give fx/fy/cx/cy, camera_matrix, focal_mm + sensor_width_mm "
                       "or focal35_mm")

    def scaled_to(self, width: int, height: int) -> Intrinsics:
        """The same camera at another resolution (a calibration made on stills, a video at 1080p)."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height)


@dataclass(frozen=True)
class CameraPose:
    lat: float
    lon: float
    height_m: float
    yaw_deg: float
    pitch_deg: float
    roll_deg: float = 0.0
    focal35_mm: float | None = None  # from the flight record, when it has one

    def rotation(self) -> np.ndarray:
        """Camera → east/north/up rotation matrix."""
        y, p, r = (math.radians(a) for a in (self.yaw_deg, self.pitch_deg, self.roll_deg))
        # Level, looking north: x right → east, y down → -up, z forward → north.
        base = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])
        roll = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
        pitch = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
        yaw = np.array([[math.cos(-y), -math.sin(-y), 0], [math.sin(-y), math.cos(-y), 0], [0, 0, 1]])
        return yaw @ pitch @ base @ roll


def _pixels(points: np.ndarray | list) -> np.ndarray:
    arr = np.asarray(points, np.float64).reshape(-1, 2)
    if not np.isfinite(arr).all():
        raise GeoError("pixel coordinates must be finite")
    return arr


def ground_xy(pixels: np.ndarray | list, pose: CameraPose, cam: Intrinsics) -> np.ndarray:
    """(n, 2) east/north metres from the point under the camera where each pixel's ray meets the ground;
    NaN rows for rays at or above the horizon."""
    if pose.height_m <= 0:
        raise GeoError(f"the camera must be above the ground, height {pose.height_m} m")
    px = _pixels(pixels)
    rays = np.stack([(px[:, 0] - cam.cx) / cam.fx, (px[:, 1] - cam.cy) / cam.fy, np.ones(len(px))], axis=1)
    world = rays @ pose.rotation().T
    down = world[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(down < -1e-9, pose.height_m / -down, np.nan)
    return world[:, :2] * t[:, None]


def ground_points(pixels: np.ndarray | list, pose: CameraPose, cam: Intrinsics) -> np.ndarray:
    """(n, 2) (lat, lon) where each pixel's ray meets the ground; NaN rows above the horizon."""
    xy = ground_xy(pixels, pose, cam)
    out = np.full_like(xy, np.nan)
    ok = np.isfinite(xy).all(axis=1)
    if ok.any():
        out[ok] = LocalProjection(pose.lat, pose.lon).to_latlon(xy[ok])
    return out


def image_points(latlon: np.ndarray | list, pose: CameraPose, cam: Intrinsics) -> np.ndarray:
    """(n, 2) pixels where ground points (lat, lon) appear; NaN rows behind the camera."""
    xy = LocalProjection(pose.lat, pose.lon).to_xy(latlon)
    world = np.column_stack([xy, np.full(len(xy), -pose.height_m)])
    camera = world @ pose.rotation()  # R is orthonormal: world → camera is R.T, applied on the right
    out = np.full((len(xy), 2), np.nan)
    ahead = camera[:, 2] > 1e-9
    out[ahead, 0] = cam.fx * camera[ahead, 0] / camera[ahead, 2] + cam.cx
    out[ahead, 1] = cam.fy * camera[ahead, 1] / camera[ahead, 2] + cam.cy
    return out


@dataclass(frozen=True)
class PoseError:
    """1-sigma errors of the flight record: GPS position (m), height (m), gimbal angles (degrees)."""

    position_m: float = 1.5
    height_m: float = 1.0
    angle_deg: float = 1.0


def ground_uncertainty_m(pixels: np.ndarray | list, pose: CameraPose, cam: Intrinsics,
                         error: PoseError = PoseError()) -> np.ndarray:
    """(n,) 1-sigma radius (m) of each ground point, from the pose's errors propagated through the
    projection (finite differences); it grows with height and as the view flattens towards the horizon."""
    base = ground_xy(pixels, pose, cam)
    var = np.full(len(base), error.position_m ** 2)
    steps = (("height_m", error.height_m), ("yaw_deg", error.angle_deg), ("pitch_deg", error.angle_deg),
             ("roll_deg", error.angle_deg))
    for name, sigma in steps:
        if sigma <= 0:
            continue
        moved = ground_xy(pixels, replace(pose, **{name: getattr(pose, name) + sigma}), cam)
        var = var + ((moved - base) ** 2).sum(axis=1)
    return np.sqrt(var)


def contact_pixel(box_xyxy: np.ndarray, pose: CameraPose, nadir_within_deg: float = 20.0) -> np.ndarray:
    """Where a detected object touches the ground: the bottom centre of its box, or its centre when the
    camera looks (nearly) straight down and 'bottom' has no meaning."""
    boxes = np.asarray(box_xyxy, np.float64).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    if pose.pitch_deg <= -90 + nadir_within_deg:
        cy = (boxes[:, 1] + boxes[:, 3]) / 2
    else:
        cy = boxes[:, 3]
    return np.stack([cx, cy], axis=1)
