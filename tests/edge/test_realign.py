"""Realigning a bumped camera's zones: a known shift and turn of a real frame is recovered within 2 px,
and a change of light alone is no move."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.realign import estimate, realign_zones, zone_points
from zones.io import load_zones


@pytest.fixture(scope="module")
def street(data_dir: Path) -> tuple[np.ndarray, Path]:
    clip = data_dir / "dev-events" / "clip_00.mp4"
    cap = cv2.VideoCapture(str(clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 20)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame, clip.with_suffix(".json")


def _turn(frame: np.ndarray, angle: float, dx: float, dy: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = frame.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_REFLECT), np.vstack([m, [0, 0, 1]])


@pytest.mark.parametrize(("angle", "dx", "dy"), [(3.0, 25.0, -15.0), (-1.5, -40.0, 10.0)])
def test_a_shifted_and_turned_view_is_recovered_within_2_px(street, angle: float, dx: float, dy: float) -> None:
    frame, zones_file = street
    zones = load_zones(zones_file)
    moved, truth = _turn(frame, angle, dx, dy)
    size = (frame.shape[1], frame.shape[0])
    probe = zone_points(zones, size)
    result = estimate(frame, moved, probe=probe)
    assert result.usable and result.moved, result.reason
    new = realign_zones(zones, result.homography, size)
    expected = cv2.perspectiveTransform(probe.reshape(-1, 1, 2), truth).reshape(-1, 2)
    got = np.concatenate([z.polygon for z in new.zones])
    assert np.abs(got - expected).max() < 2.0
    assert new.frame_size == size


def test_a_change_of_light_alone_is_no_move(street) -> None:
    frame, zones_file = street
    zones = load_zones(zones_file)
    darker = cv2.convertScaleAbs(frame, alpha=0.55, beta=-10)
    lut = (255 * (np.arange(256) / 255) ** 0.7).astype(np.uint8)  # and a gamma change
    result = estimate(frame, cv2.LUT(darker, lut), probe=zone_points(zones, (frame.shape[1], frame.shape[0])))
    assert result.usable and not result.moved, result.reason
    assert result.shift_px < 1.0


def test_another_view_gives_no_proposal(street, data_dir: Path) -> None:
    frame, _ = street
    upside_down = estimate(frame, cv2.flip(frame, -1))  # the same street turned 180 deg: not a bump
    assert not upside_down.usable and "too far" in upside_down.reason
    bus = cv2.resize(cv2.imread(str(data_dir / "street" / "bus.jpg")), (frame.shape[1], frame.shape[0]))
    elsewhere = estimate(frame, bus)
    assert not elsewhere.usable and elsewhere.moved
