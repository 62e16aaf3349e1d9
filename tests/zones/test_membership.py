"""Zone membership by anchor point or box overlap, vectorised over detections and zones."""

from __future__ import annotations

import numpy as np
import pytest

from models.detections import Detections
from zones.membership import ZoneMembership, polygon_mask
from zones.model import Zone

ZONES = [
    Zone("left", None, np.array([[0, 0], [100, 0], [100, 100], [0, 100]])),
    Zone("right", None, np.array([[100, 0], [200, 0], [200, 100], [100, 100]])),
    Zone("tri", None, np.array([[0, 100], [200, 100], [100, 200]])),
]


def dets(boxes: list[list[float]]) -> Detections:
    xyxy = np.array(boxes, np.float32).reshape(-1, 4)
    return Detections(xyxy, np.ones(len(xyxy), np.float32), np.zeros(len(xyxy), np.int32))


@pytest.fixture(scope="module")
def member() -> ZoneMembership:
    return ZoneMembership(ZONES, (320, 240))


@pytest.mark.parametrize(
    ("box", "anchor", "expected"),
    [
        ([40, 20, 60, 80], "bottom_center", [True, False, False]),  # feet in "left"
        ([40, 60, 60, 130], "bottom_center", [False, False, True]),  # feet in triangle, head in left
        ([40, 60, 60, 130], "center", [True, False, False]),  # centre (50, 95) still in left
        ([140, 20, 160, 99], "bottom_center", [False, True, False]),
        ([250, 20, 300, 80], "bottom_center", [False, False, False]),  # outside every zone
        ([10, 170, 30, 190], "bottom_center", [False, False, False]),  # beside the triangle's tip
        ([-50, -50, -10, -10], "center", [False, False, False]),  # off frame
    ],
)
def test_anchor_membership(member: ZoneMembership, box: list[float], anchor: str,
                           expected: list[bool]) -> None:
    assert member.trigger(dets([box]), anchor).tolist() == [expected]


def test_overlap_fraction(member: ZoneMembership) -> None:
    d = dets([[50, 0, 150, 50], [0, 0, 100, 100], [300, 200, 310, 210]])
    ov = member.overlap(d)
    np.testing.assert_allclose(ov[0, :2], [0.5, 0.5], atol=0.02)
    np.testing.assert_allclose(ov[1], [1.0, 0.0, 0.0], atol=0.02)
    assert ov[2].sum() == 0
    assert member.trigger(d, "overlap", min_overlap=0.6).tolist() == [
        [False, False, False], [True, False, False], [False, False, False]]


def test_input_not_mutated_and_empty(member: ZoneMembership) -> None:
    d = dets([[40, 20, 60, 80]])
    before = d.xyxy.copy()
    member.trigger(d)
    np.testing.assert_array_equal(d.xyxy, before)
    assert member.trigger(Detections.empty()).shape == (0, 3)


def test_unknown_anchor_raises(member: ZoneMembership) -> None:
    with pytest.raises(ValueError, match="unknown anchor"):
        member.trigger(dets([[0, 0, 1, 1]]), "top_left")


def test_fifty_zones_many_detections() -> None:
    zones = [Zone(f"z{i}", None, np.array([[x, y], [x + 60, y], [x + 60, y + 40], [x, y + 40]]))
             for i, (x, y) in enumerate((x, y) for y in range(0, 400, 40) for x in range(0, 300, 60))]
    assert len(zones) == 50
    m = ZoneMembership(zones, (320, 400))
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 290, size=(500, 2))
    boxes = np.concatenate([xy, xy + 8], axis=1)
    hit = m.trigger(dets(boxes.tolist()), "center")
    assert hit.shape == (500, 50)
    assert (hit.sum(axis=1) <= 1).all() and hit.any(axis=1).mean() > 0.9  # tiles do not overlap


def test_polygon_mask_area() -> None:
    mask = polygon_mask(np.array([[10, 10], [50, 10], [50, 30], [10, 30]]), (64, 48))
    assert mask.shape == (48, 64)
    assert abs(int(mask.sum()) - 41 * 21) <= 41 + 21
