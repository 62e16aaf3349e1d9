"""Which detections are in which zone, vectorised over detections and zones.

Anchor points are tested against prepared shapely polygons (exact, one vectorised call per zone); box
overlap fractions use per-zone raster masks turned into integral images, so each is four lookups.
Like supervision's `PolygonZone.trigger`, nothing here mutates its input.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import shapely
from shapely.geometry import Polygon

from models.detections import Detections
from zones.model import Zone


def polygon_mask(polygon: np.ndarray, size: tuple[int, int], offset: tuple[float, float] = (0.0, 0.0),
                 scale: float = 1.0) -> np.ndarray:
    """Bool (h, w) raster of `polygon` for an image of `size` (w, h), shifted by -offset, then scaled."""
    w, h = size
    pts = (np.asarray(polygon, np.float64) - np.asarray(offset, np.float64)) * scale
    mask = np.zeros((h, w), np.uint8)
    # fillPoly with 4 fractional bits keeps sub-pixel vertices
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


class ZoneMembership:
    """Precomputed masks of `zones` for frames of `frame_size` (w, h)."""

    def __init__(self, zones: Sequence[Zone], frame_size: tuple[int, int]) -> None:
        self.zone_ids = [z.zone_id for z in zones]
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        w, h = self.frame_size
        self.masks = np.stack([polygon_mask(z.polygon, (w, h)) for z in zones]) if zones else np.zeros(
            (0, h, w), bool
        )
        self._shapes = [Polygon(z.polygon) for z in zones]
        for shape in self._shapes:
            shapely.prepare(shape)
        # integral images (n, h+1, w+1) for box-overlap fractions
        self._integral = np.stack([cv2.integral(m.astype(np.uint8)) for m in self.masks]) if zones else None

    def anchors_in(self, detections: Detections, anchor: str = "bottom_center") -> np.ndarray:
        """Bool (n_detections, n_zones): the detection's anchor point lies inside (or on) the zone."""
        n = len(detections)
        out = np.zeros((n, len(self.zone_ids)), bool)
        if n == 0:
            return out
        pts = detections.anchors(anchor)
        for j, shape in enumerate(self._shapes):  # one vectorised call per zone
            out[:, j] = shapely.intersects_xy(shape, pts[:, 0], pts[:, 1])
        return out

    def overlap(self, detections: Detections) -> np.ndarray:
        """Float (n_detections, n_zones): fraction of each box's area inside each zone."""
        n = len(detections)
        if n == 0 or self._integral is None:
            return np.zeros((n, len(self.zone_ids)), np.float64)
        w, h = self.frame_size
        b = np.round(detections.xyxy).astype(np.int64)
        x1, x2 = np.clip(b[:, 0], 0, w), np.clip(b[:, 2], 0, w)
        y1, y2 = np.clip(b[:, 1], 0, h), np.clip(b[:, 3], 0, h)
        ii = self._integral
        inside = ii[:, y2, x2] - ii[:, y1, x2] - ii[:, y2, x1] + ii[:, y1, x1]  # (zones, n)
        area = np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1)
        return (inside / area).T

    def trigger(self, detections: Detections, anchor: str = "bottom_center",
                min_overlap: float = 0.3) -> np.ndarray:
        """Bool (n_detections, n_zones) membership by `anchor`, or by box overlap when anchor="overlap"."""
        if anchor == "overlap":
            return self.overlap(detections) >= min_overlap
        return self.anchors_in(detections, anchor)
