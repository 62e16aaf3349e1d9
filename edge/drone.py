"""Drone feeds: each detection's ground point onto the shop whose footprint holds it, and the sightings of
one shop over a flight grouped into one episode.

A stall seen in 40 frames of a flight is one event on one shop; two stalls in one frame in front of two
shops are two events on two shops. The detections' contact points are projected through the camera pose
(`zones.projection`), matched to shop footprints (WGS84 polygons, a local copy of central's registry) and
grouped per (shop, violation): an episode starts once the shop is seen in `min_frames` frames and ends when
it has not been seen for `gap_s` (the drone flew on) or when the flight ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from edge.analyzer import class_names, has_role
from edge.events import ZoneEvent
from edge.settings import CameraSettings
from models.detections import Detections
from wire.ids import new_id
from wire.schema import GeoPoint
from zones.geo import GeoError, LocalProjection
from zones.projection import (
    CameraPose,
    Intrinsics,
    PoseError,
    contact_pixel,
    ground_points,
    ground_uncertainty_m,
)
from zones.rules import RuleConfig


@dataclass(frozen=True)
class ShopFootprints:
    """Shop footprints in a local metric frame, with an STRtree for matching points to them."""

    shop_ids: tuple[str, ...]
    projection: LocalProjection
    polygons: np.ndarray  # shapely polygons, metres
    tree: shapely.STRtree = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # kept on the object: a cache keyed by id() handed a new layer the tree of a freed one at the same address
        object.__setattr__(self, "tree", shapely.STRtree(self.polygons))

    @classmethod
    def from_latlon(cls, footprints: dict[str, list[tuple[float, float]]]) -> ShopFootprints:
        if not footprints:
            raise GeoError("no shop footprints")
        allpts = np.concatenate([np.asarray(p, np.float64).reshape(-1, 2) for p in footprints.values()])
        proj = LocalProjection.around(allpts)
        polys = []
        for shop_id, ring in footprints.items():
            xy = proj.to_xy(ring)
            poly = shapely.Polygon(xy)
            if len(xy) < 3 or not poly.is_valid or poly.area <= 0:
                raise GeoError(f"shop {shop_id}: footprint is not a valid polygon")
            polys.append(poly)
        return cls(tuple(footprints), proj, np.array(polys, dtype=object))

    @classmethod
    def load(cls, path: Path) -> ShopFootprints:
        """A GeoJSON FeatureCollection of Polygons with `properties.shop_id` (or `id`), lon/lat order."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GeoError(f"footprints {path}: cannot read it: {exc}") from exc
        features = data.get("features") if isinstance(data, dict) else None
        if not isinstance(features, list):
            raise GeoError(f"footprints {path}: not a GeoJSON FeatureCollection")
        rings: dict[str, list[tuple[float, float]]] = {}
        for i, feat in enumerate(features):
            props = (feat or {}).get("properties") or {}
            shop_id = props.get("shop_id", props.get("id"))
            geom = (feat or {}).get("geometry") or {}
            if not shop_id or geom.get("type") != "Polygon" or not geom.get("coordinates"):
                raise GeoError(f"footprints {path}: feature {i} needs properties.shop_id and a Polygon")
            try:
                rings[str(shop_id)] = [(float(lat), float(lon)) for lon, lat, *_ in geom["coordinates"][0]]
            except (TypeError, ValueError) as exc:
                raise GeoError(f"footprints {path}: feature {i} has bad coordinates") from exc
        return cls.from_latlon(rings)

    def match(self, latlon: np.ndarray, tolerance_m: float = 2.0) -> list[str | None]:
        """The shop whose footprint holds (or lies within `tolerance_m` of) each point; None for none or a
        NaN point. Of several within tolerance, the nearest."""
        pts = np.asarray(latlon, np.float64).reshape(-1, 2)
        out: list[str | None] = [None] * len(pts)
        ok = np.isfinite(pts).all(axis=1)
        if not ok.any():
            return out
        tree = self.tree
        geoms = shapely.points(self.projection.to_xy(pts[ok]))
        idx, dist = tree.query_nearest(geoms, max_distance=tolerance_m, return_distance=True, all_matches=False)
        where = np.flatnonzero(ok)
        for (point_i, poly_i), _ in zip(idx.T, dist, strict=True):
            out[int(where[point_i])] = self.shop_ids[int(poly_i)]
        return out


@dataclass
class Sighting:
    """The sightings of one (shop, violation) in one episode."""

    event_id: str
    shop_id: str
    violation: str
    first_ts: float
    last_ts: float
    frames: int = 0
    points: list[tuple[float, float]] = field(default_factory=list)
    uncertainty_m: list[float] = field(default_factory=list)
    best_score: float = 0.0
    best_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    started: bool = False
    seq: int = 0

    @property
    def latlon(self) -> tuple[float, float]:
        """The median of the sightings: one outlier frame (a GPS jump) does not move the shop's point."""
        arr = np.asarray(self.points)
        return float(np.median(arr[:, 0])), float(np.median(arr[:, 1]))

    @property
    def accuracy_m(self) -> float:
        return float(np.median(self.uncertainty_m)) if self.uncertainty_m else float("nan")


@dataclass(frozen=True)
class DroneEvent:
    phase: str  # start | end
    ts: float
    sighting: Sighting
    seq: int


def sighting_event(event: DroneEvent, reason: str | None = None) -> tuple[ZoneEvent, GeoPoint]:
    """A sighting's phase as the pipeline emits it: an event on its shop (no zone), at its median ground point."""
    s = event.sighting
    lat, lon = s.latlon
    geo = GeoPoint(lat=lat, lon=lon, accuracy_m=None if s.accuracy_m != s.accuracy_m else round(s.accuracy_m, 2))
    return ZoneEvent(s.event_id, event.seq, None, s.shop_id, s.violation, event.phase, event.ts, s.best_score,
                     s.best_boxes, reason if event.phase == "end" else None), geo


class FlightGrouper:
    """Groups projected detections per (shop, violation) over a flight."""

    def __init__(self, footprints: ShopFootprints, *, min_frames: int = 3, gap_s: float = 10.0,
                 tolerance_m: float = 2.0) -> None:
        self.footprints = footprints
        self.min_frames = min_frames
        self.gap_s = gap_s
        self.tolerance_m = tolerance_m
        self.open: dict[tuple[str, str], Sighting] = {}
        self.unmatched = 0

    def add(self, ts: float, latlon: np.ndarray, violation: str, *, scores: Iterable[float] | None = None,
            boxes: np.ndarray | None = None, uncertainty_m: Iterable[float] | None = None) -> list[DroneEvent]:
        """One frame's projected detections of one violation; returns the episodes started or ended."""
        pts = np.asarray(latlon, np.float64).reshape(-1, 2)
        n = len(pts)
        score = np.ones(n) if scores is None else np.asarray(list(scores), np.float64)
        sigma = np.full(n, np.nan) if uncertainty_m is None else np.asarray(list(uncertainty_m), np.float64)
        box = np.zeros((n, 4), np.float32) if boxes is None else np.asarray(boxes, np.float32).reshape(-1, 4)
        events: list[DroneEvent] = self._expire(ts)  # before counting: a shop seen after the gap is new
        shops = self.footprints.match(pts, self.tolerance_m)
        seen: dict[str, list[int]] = {}
        for i, shop in enumerate(shops):
            if shop is None:
                self.unmatched += 1
            else:
                seen.setdefault(shop, []).append(i)
        for shop, rows in seen.items():
            key = (shop, violation)
            s = self.open.get(key)
            if s is None:
                s = self.open[key] = Sighting(new_id(), shop, violation, ts, ts)
            s.frames += 1
            s.last_ts = ts
            for i in rows:
                s.points.append((float(pts[i, 0]), float(pts[i, 1])))
                if np.isfinite(sigma[i]):
                    s.uncertainty_m.append(float(sigma[i]))
            top = max(rows, key=lambda i: score[i])
            if score[top] >= s.best_score:
                s.best_score = float(score[top])
                s.best_boxes = box[rows]
            if not s.started and s.frames >= self.min_frames:
                s.started = True
                events.append(DroneEvent("start", ts, s, s.seq))
                s.seq += 1
        return events

    def _expire(self, ts: float) -> list[DroneEvent]:
        ended = [k for k, s in self.open.items() if ts - s.last_ts > self.gap_s]
        return [e for k in ended for e in self._close(k, ts)]

    def _close(self, key: tuple[str, str], ts: float) -> list[DroneEvent]:
        s = self.open.pop(key)
        return [DroneEvent("end", max(ts, s.last_ts), s, s.seq)] if s.started else []

    def finish(self, ts: float) -> list[DroneEvent]:
        """The flight ended: close every open episode."""
        return [e for k in list(self.open) for e in self._close(k, ts)]


class DroneAnalyzer:
    """One drone camera: goods-like detections (`goods_classes`, at `min_confidence`) projected through the
    frame's pose onto the ground and grouped per shop. Frames without a pose (no gimbal record yet, or a
    ray-less view) are skipped and counted."""

    def __init__(self, footprints: ShopFootprints, *, goods_classes: Iterable[str],
                 violation: str = "cross_door_trading", intrinsics: Intrinsics | None = None,
                 pose_error: PoseError = PoseError(), min_confidence: float = 0.3, min_frames: int = 3,
                 gap_s: float = 10.0, tolerance_m: float = 2.0) -> None:
        self.grouper = FlightGrouper(footprints, min_frames=min_frames, gap_s=gap_s, tolerance_m=tolerance_m)
        self.goods_classes = tuple(goods_classes)
        self.violation = violation
        self.intrinsics = intrinsics
        self.pose_error = pose_error
        self.min_confidence = min_confidence
        self.frames_without_pose = 0
        self.last_ts = 0.0

    def _camera(self, pose: CameraPose, size: tuple[int, int]) -> Intrinsics | None:
        if self.intrinsics is not None:
            cam = self.intrinsics
            return cam if (cam.width, cam.height) == size else cam.scaled_to(*size)
        if pose.focal35_mm:
            return Intrinsics.from_35mm(pose.focal35_mm, *size)
        return None

    def update(self, frame_size: tuple[int, int], ts: float, pose: CameraPose | None,
               detections: Detections) -> list[DroneEvent]:
        self.last_ts = ts
        cam = None if pose is None else self._camera(pose, frame_size)
        if pose is None or cam is None:
            self.frames_without_pose += 1
            return self.grouper.add(ts, np.zeros((0, 2)), self.violation)
        names = class_names(detections)
        goods = np.isin(names, self.goods_classes) | has_role(detections, "goods")  # e.g. a vendor model's class
        keep = goods & (detections.confidence >= self.min_confidence)
        boxes = detections.xyxy[keep]
        contact = contact_pixel(boxes, pose)
        return self.grouper.add(ts, ground_points(contact, pose, cam), self.violation,
                                scores=detections.confidence[keep], boxes=boxes,
                                uncertainty_m=ground_uncertainty_m(contact, pose, cam, self.pose_error))

    def finish(self) -> list[DroneEvent]:
        return self.grouper.finish(self.last_ts)


def drone_for(cam: CameraSettings, rules: RuleConfig) -> DroneAnalyzer | None:
    """The analyser of a drone camera with shop footprints (None for any other camera)."""
    if cam.kind != "drone" or cam.footprints is None:
        return None
    return DroneAnalyzer(ShopFootprints.load(cam.footprints), goods_classes=rules.goods_classes,
                         intrinsics=None if cam.calibration is None else Intrinsics.load(cam.calibration),
                         min_confidence=rules.min_confidence)
