"""The motion gate (edge.motion) on real PETS2009 frames: a still view is not sent to the detector, motion
is, and the detector still looks every `detect_every_s`."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.motion import MotionGate, MotionParams
from testkit.footage import bag_photo, set_down


@pytest.fixture(scope="module")
def frames(data_dir: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    out = [cap.read()[1] for _ in range(20)]
    cap.release()
    return out


def jpeg_noise(frame: np.ndarray, quality: int) -> np.ndarray:
    """The same view through another JPEG encoding: what a still camera's stream varies by."""
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def test_a_still_view_skips_the_detector_until_the_periodic_look(frames) -> None:
    gate = MotionGate(MotionParams(detect_every_s=5.0, hangover_s=1.0))
    still = frames[0]
    decisions = [gate.wants(jpeg_noise(still, 60 + 7 * (k % 5)), k * 0.5) for k in range(21)]  # 10 s at 2 fps
    # the first frame (no reference) and then once every 5 s of stream time; nothing in between
    assert [k * 0.5 for k, d in enumerate(decisions) if d] == [0.0, 5.0, 10.0]
    assert gate.skipped == 18 and gate.detected == 3
    assert gate.changed_px < gate.params.min_changed_px


def test_people_walking_are_motion(frames) -> None:
    gate = MotionGate()
    assert gate.wants(frames[0], 0.0)
    # PETS2009 at 10 fps: half a second later the pedestrians have moved
    assert gate.wants(frames[5], 0.5)
    assert gate.changed_px >= gate.params.min_changed_px


def test_a_bag_set_down_in_a_still_view_is_motion_then_the_scene_settles(frames, data_dir: Path) -> None:
    gate = MotionGate(MotionParams(detect_every_s=60.0, hangover_s=1.0))
    still = frames[0].copy()
    assert gate.wants(still, 0.0)
    assert not gate.wants(still.copy(), 0.5)
    with_bag = still.copy()
    set_down(with_bag, bag_photo(data_dir))
    assert gate.wants(with_bag, 1.0), "a bag appearing must reach the detector"
    # then it stands still: detected once more within the hangover, after that skipped
    assert gate.wants(with_bag.copy(), 1.5)
    assert not gate.wants(with_bag.copy(), 2.0)
    assert not gate.wants(with_bag.copy(), 2.5)


def test_small_far_motion_counts(frames) -> None:
    """An object 12 x 12 px in the full frame (a small thing far from the camera) changes the gate's picture."""
    gate = MotionGate()
    still = frames[0].copy()
    assert gate.wants(still, 0.0)
    moved = still.copy()
    moved[500:512, 600:612] = 255 - moved[500:512, 600:612]
    assert gate.wants(moved, 0.5)


def test_only_motion_near_the_zones_counts(frames) -> None:
    """A car crossing the far side of the view, away from every zone, leaves the detector idle; the same
    change within `margin_px` of a zone's box reaches it."""
    gate = MotionGate(MotionParams(detect_every_s=60.0, hangover_s=0.0, margin_px=48))
    gate.watch(np.array([[20, 262, 165, 322]]))  # the bag zone of testkit.footage, left of the view
    still = frames[0].copy()
    assert gate.wants(still, 0.0)
    far = still.copy()
    far[100:200, 500:700] = 255 - far[100:200, 500:700]
    assert not gate.wants(far, 0.5)
    assert gate.changed_px == 0
    near = still.copy()
    near[330:360, 180:200] = 255 - near[330:360, 180:200]  # 15-38 px beside the zone's box
    assert gate.wants(near, 1.0)
    gate.watch(None)  # everywhere again
    assert gate.wants(far, 1.5)


def test_needed_forget_and_time_running_backwards_all_detect(frames) -> None:
    gate = MotionGate(MotionParams(detect_every_s=60.0, hangover_s=0.0))
    still = frames[0]
    assert gate.wants(still, 0.0)
    assert not gate.wants(still, 0.5)
    assert gate.wants(still, 1.0, needed=True)  # e.g. a recheck waiting, cross-door trading being timed
    assert not gate.wants(still, 1.5)
    gate.forget()  # its last detections were lost (a failed detector batch)
    assert gate.wants(still, 2.0)
    assert not gate.wants(still, 2.5)
    assert gate.wants(still, 0.2)  # a file looped: stream time went back


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        MotionParams(width=8)
    with pytest.raises(ValueError):
        MotionParams(pixel_threshold=0)
    with pytest.raises(ValueError):
        MotionParams(detect_every_s=0)
