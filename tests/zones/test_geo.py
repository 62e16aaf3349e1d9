"""Image ↔ WGS84 homography and WGS84 polygon helpers."""

from __future__ import annotations

import numpy as np
import pytest

from zones.geo import GeoError, GeoPolygon, ImageGeoMapping, LocalProjection, zone_to_geo

PROJ = LocalProjection(51.5007, -0.1246)
GROUND_M = np.array([[0, 0], [20, 0], [20, -10], [0, -10], [8, -3]], float)
# a camera looking down at a slant: perspective squeezes the far side of the ground rectangle
H_TRUE = np.array([[0.1, 0.02, -3.0], [0.0, -0.05, 8.0], [0.0, 0.0012, 1.0]])


def image_of(ground: np.ndarray) -> np.ndarray:
    h_inv = np.linalg.inv(H_TRUE)
    q = np.c_[ground, np.ones(len(ground))] @ h_inv.T
    return q[:, :2] / q[:, 2:]


def test_local_projection_round_trip_and_scale() -> None:
    ll = PROJ.to_latlon([[100.0, 0.0], [0.0, 100.0]])
    np.testing.assert_allclose(PROJ.to_xy(ll), [[100, 0], [0, 100]], atol=1e-6)
    # 1 degree of latitude is ~111.2 km at 51.5 N
    assert PROJ.to_xy([[52.5007, -0.1246]])[0, 1] == pytest.approx(111_260, rel=2e-3)


def test_homography_maps_both_ways() -> None:
    img = image_of(GROUND_M)
    m = ImageGeoMapping(img, PROJ.to_latlon(GROUND_M))
    assert m.reprojection_error_m() < 0.01
    probe_ground = np.array([[5.0, -5.0], [15.0, -2.0]])
    got = m.image_to_geo(image_of(probe_ground))
    np.testing.assert_allclose(PROJ.to_xy(got), probe_ground, atol=0.02)
    np.testing.assert_allclose(m.geo_to_image(got), image_of(probe_ground), atol=0.05)


@pytest.mark.parametrize(
    ("img", "geo", "match"),
    [
        ([[0, 0], [1, 0], [0, 1]], [[51.5, -0.1], [51.5, -0.09], [51.51, -0.1]], "at least 4"),
        ([[0, 0], [1, 1], [2, 2], [3, 3]], [[51.5, -0.1], [51.5, -0.09], [51.51, -0.1], [51.51, -0.09]],
         "collinear"),
        ([[0, 0], [1, 0], [1, 1], [0, 1]], [[91, 0], [51.5, -0.09], [51.51, -0.1], [51.51, -0.09]], "range"),
        ([[0, 0], [1, 0], [1, 1]], [[51.5, -0.1], [51.5, -0.09], [51.51, -0.1], [51.51, -0.09]], "matching"),
    ],
)
def test_bad_control_points(img: list, geo: list, match: str) -> None:
    with pytest.raises(GeoError, match=match):
        ImageGeoMapping(img, geo)


def test_geo_polygon_area_contains_overlap() -> None:
    square = GeoPolygon(PROJ.to_latlon([[0, 0], [10, 0], [10, 10], [0, 10]]))
    assert square.area_m2 == pytest.approx(100, rel=1e-3)
    np.testing.assert_allclose(PROJ.to_xy([square.centroid]), [[5, 5]], atol=1e-3)
    inside = square.contains(PROJ.to_latlon([[5, 5], [11, 5], [9.9, 0.1]]))
    assert inside.tolist() == [True, False, True]
    half = GeoPolygon(PROJ.to_latlon([[5, 0], [15, 0], [15, 10], [5, 10]]))
    assert square.overlap_fraction(half) == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(GeoError, match="self-intersecting"):
        GeoPolygon(PROJ.to_latlon([[0, 0], [10, 10], [10, 0], [0, 10]]))


def test_zone_to_geo() -> None:
    m = ImageGeoMapping(image_of(GROUND_M), PROJ.to_latlon(GROUND_M))
    zone_ground = np.array([[2, -2], [12, -2], [12, -8], [2, -8]], float)
    g = zone_to_geo(image_of(zone_ground), m)
    assert g.area_m2 == pytest.approx(60, rel=1e-2)
