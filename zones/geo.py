"""Image ↔ geographic (WGS84) mapping for a fixed camera, and WGS84 polygon helpers.

Geographic points are (lat, lon) degrees everywhere in this module. Metric work is done in a local
east/north tangent plane around a reference point (`LocalProjection`), accurate to centimetres over the
few hundred metres a street camera or a drone footprint covers.

A camera looking at a flat street maps image pixels to ground positions by a homography, fitted from at
least four control points (image px ↔ lat/lon) that are not collinear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import shapely
from shapely.geometry import Polygon

_A = 6_378_137.0  # WGS84 semi-major axis (m)
_E2 = 6.694_379_990_14e-3  # WGS84 first eccentricity squared


class GeoError(ValueError):
    """Control points or polygons that cannot define a mapping."""


def _latlon(points: np.ndarray | list, what: str = "points") -> np.ndarray:
    arr = np.asarray(points, np.float64)
    if arr.ndim == 1 and arr.shape == (2,):
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.isfinite(arr).all():
        raise GeoError(f"{what} must be finite (n, 2) (lat, lon) degrees, got shape {arr.shape}")
    if (np.abs(arr[:, 0]) > 90).any() or (np.abs(arr[:, 1]) > 180).any():
        raise GeoError(f"{what} out of range: lat must be within ±90 and lon within ±180")
    return arr


@dataclass(frozen=True)
class LocalProjection:
    """East/north metres relative to (lat0, lon0), using the ellipsoid's radii of curvature there."""

    lat0: float
    lon0: float

    @property
    def _scale(self) -> tuple[float, float]:
        phi = math.radians(self.lat0)
        s = 1.0 - _E2 * math.sin(phi) ** 2
        m = _A * (1 - _E2) / s**1.5  # meridional radius
        n = _A / math.sqrt(s)  # prime-vertical radius
        return math.radians(1.0) * n * math.cos(phi), math.radians(1.0) * m  # m per degree lon, lat

    @classmethod
    def around(cls, latlon: np.ndarray | list) -> LocalProjection:
        pts = _latlon(latlon)
        return cls(float(pts[:, 0].mean()), float(pts[:, 1].mean()))

    def to_xy(self, latlon: np.ndarray | list) -> np.ndarray:
        """(n, 2) (lat, lon) → (n, 2) (east, north) metres."""
        pts = _latlon(latlon)
        kx, ky = self._scale
        return np.stack([(pts[:, 1] - self.lon0) * kx, (pts[:, 0] - self.lat0) * ky], axis=1)

    def to_latlon(self, xy: np.ndarray | list) -> np.ndarray:
        """(n, 2) (east, north) metres → (n, 2) (lat, lon)."""
        p = np.asarray(xy, np.float64).reshape(-1, 2)
        kx, ky = self._scale
        return np.stack([self.lat0 + p[:, 1] / ky, self.lon0 + p[:, 0] / kx], axis=1)


class ImageGeoMapping:
    """Homography between image pixels and ground positions of one camera view."""

    def __init__(self, image_points: np.ndarray | list, geo_points: np.ndarray | list) -> None:
        img = np.asarray(image_points, np.float64)
        geo = _latlon(geo_points, "geo_points")
        if img.ndim != 2 or img.shape[1] != 2 or len(img) != len(geo):
            raise GeoError(f"need matching (n, 2) image and geo points, got {img.shape} and {geo.shape}")
        if len(img) < 4:
            raise GeoError(f"a homography needs at least 4 control points, got {len(img)}")
        self.projection = LocalProjection.around(geo)
        ground = self.projection.to_xy(geo)
        for name, pts in (("image", img), ("geo", ground)):
            if _max_triangle_area(pts) < 1e-6 * max(np.ptp(pts, axis=0).max(), 1e-9) ** 2:
                raise GeoError(f"{name} control points are (nearly) collinear")
        h, _ = cv2.findHomography(img, ground, 0)
        if h is None or not np.isfinite(h).all() or abs(np.linalg.det(h)) < 1e-12:
            raise GeoError("control points do not define a homography")
        self.H = h
        self.H_inv = np.linalg.inv(h)
        self.image_points, self.geo_points = img, geo

    def _apply(self, h: np.ndarray, pts: np.ndarray) -> np.ndarray:
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        q = np.concatenate([p, np.ones((len(p), 1))], axis=1) @ h.T
        w = q[:, 2:3]
        if (np.abs(w) < 1e-12).any():
            raise GeoError("point maps to infinity (above the horizon)")
        return q[:, :2] / w

    def image_to_geo(self, pixels: np.ndarray | list) -> np.ndarray:
        """(n, 2) image px → (n, 2) (lat, lon)."""
        return self.projection.to_latlon(self._apply(self.H, pixels))

    def geo_to_image(self, latlon: np.ndarray | list) -> np.ndarray:
        """(n, 2) (lat, lon) → (n, 2) image px."""
        return self._apply(self.H_inv, self.projection.to_xy(latlon))

    def reprojection_error_m(self) -> float:
        """Largest ground distance (m) between a control point and where its pixel maps."""
        got = self.projection.to_xy(self.image_to_geo(self.image_points))
        want = self.projection.to_xy(self.geo_points)
        return float(np.linalg.norm(got - want, axis=1).max())


def _max_triangle_area(pts: np.ndarray) -> float:
    c = pts - pts.mean(axis=0)
    # the largest singular value pair bounds how "spread in 2-D" the set is
    s = np.linalg.svd(c, compute_uv=False)
    return float(s[0] * s[1]) if len(s) > 1 else 0.0


class GeoPolygon:
    """A WGS84 polygon (e.g. a drone image footprint or a shop frontage) with metric helpers."""

    def __init__(self, latlon: np.ndarray | list, projection: LocalProjection | None = None) -> None:
        pts = _latlon(latlon, "polygon")
        if len(pts) < 3:
            raise GeoError(f"a polygon needs at least 3 points, got {len(pts)}")
        self.latlon = pts
        self.projection = projection or LocalProjection.around(pts)
        self.shape = Polygon(self.projection.to_xy(pts))
        if not self.shape.is_valid or self.shape.area <= 0:
            raise GeoError("polygon is degenerate or self-intersecting")
        shapely.prepare(self.shape)

    @property
    def area_m2(self) -> float:
        return float(self.shape.area)

    @property
    def centroid(self) -> tuple[float, float]:
        c = self.shape.centroid
        lat, lon = self.projection.to_latlon([[c.x, c.y]])[0]
        return float(lat), float(lon)

    def contains(self, latlon: np.ndarray | list) -> np.ndarray:
        """Bool (n,): which (lat, lon) points lie inside (vectorised through shapely)."""
        xy = self.projection.to_xy(latlon)
        return np.asarray(shapely.contains_xy(self.shape, xy[:, 0], xy[:, 1]), bool)

    def overlap_fraction(self, other: GeoPolygon) -> float:
        """Fraction of `other`'s area inside this polygon (both projected around this one's centre)."""
        o = Polygon(self.projection.to_xy(other.latlon))
        return float(self.shape.intersection(o).area / o.area) if o.area > 0 else 0.0


def zone_to_geo(polygon_px: np.ndarray, mapping: ImageGeoMapping) -> GeoPolygon:
    """An image zone polygon as a WGS84 polygon on the ground."""
    return GeoPolygon(mapping.image_to_geo(polygon_px), mapping.projection)
