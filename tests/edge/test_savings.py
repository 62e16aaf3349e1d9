"""The pipeline's side of the savings (edge.savings): which frames go to the detector and what the others
are analysed with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.analyzer import SceneAnalyzer
from edge.motion import MotionGate, MotionParams
from edge.savings import boxes_needed, detections_for, motion_gate, static_params, to_detect, with_skipped, zone_boxes
from edge.settings import SavingsSettings
from edge.sources import Frame
from models.detections import Detections
from zones.io import parse_zones
from zones.rules import RuleConfig

ZONES = {"camera_id": "c", "frame_size": [320, 240], "zones": [
    {"zone_id": "trade", "shop_id": "s1", "polygon": [[10, 100], [110, 100], [110, 200], [10, 200]],
     "violations": ["cross_door_trading"]},
    {"zone_id": "pile", "shop_id": "s2", "polygon": [[200, 20], [300, 20], [300, 60], [200, 60]],
     "violations": ["piled_goods"]}]}


@dataclass
class Cam:
    gate: MotionGate | None
    analyzer: SceneAnalyzer
    last_detections: Detections | None = None


def frame(image: np.ndarray, ts: float) -> Frame:
    return Frame("c", 0, ts, image)


def person() -> Detections:
    return Detections(np.array([[20, 110, 40, 190]], np.float32), np.array([0.9], np.float32),
                      np.array([0], np.int32))


def test_a_still_camera_reuses_its_last_detections_until_something_needs_fresh_ones() -> None:
    analyzer = SceneAnalyzer(parse_zones(ZONES), RuleConfig())
    cam = Cam(MotionGate(MotionParams(detect_every_s=60, hangover_s=0)), analyzer)
    rng = np.random.default_rng(0)
    still = rng.integers(0, 255, (240, 320, 3), np.uint8)
    # the first frame is fresh to the gate: detected; the next ones of the same still view are not, even while
    # the first one's detections are still in flight (they are analysed after it, in stream order)
    assert to_detect([(cam, frame(still, 0.0)), (cam, frame(still, 0.2))], [False, False]) == [0]
    found = with_skipped(2, [0], [person()])
    assert detections_for(cam, found[0]) is cam.last_detections
    assert detections_for(cam, found[1]) is cam.last_detections
    assert to_detect([(cam, frame(still, 0.5))], [False]) == []
    assert to_detect([(cam, frame(still, 1.0)), (cam, frame(still, 1.5))], [False, False]) == []
    assert with_skipped(2, [], []) == [None, None]
    assert detections_for(cam, None) is cam.last_detections  # a skipped frame: the last boxes again
    assert to_detect([(cam, frame(still, 2.0))], [True]) == [0]  # a recheck waiting
    moved = still.copy()
    moved[150:170, 50:70] = 255 - moved[150:170, 50:70]  # inside the trading zone
    assert to_detect([(cam, frame(still, 2.5)), (cam, frame(moved, 3.0))], [False, False]) == [1]
    far = moved.copy()
    far[200:230, 175:195] = 0  # below and between the zones, farther than 48 px from both
    assert to_detect([(cam, frame(far, 3.5))], [False]) == []


def test_a_frame_skipped_after_a_failed_first_batch_is_analysed_with_no_boxes() -> None:
    cam = Cam(MotionGate(MotionParams()), SceneAnalyzer(parse_zones(ZONES), RuleConfig()))
    assert len(detections_for(cam, None)) == 0 and cam.last_detections is None


def test_cross_door_trading_being_timed_keeps_the_detector_on() -> None:
    analyzer = SceneAnalyzer(parse_zones(ZONES), RuleConfig())
    assert not boxes_needed(analyzer)
    analyzer.trackers[("pile", "piled_goods")].pending_since = 1.0  # the static-object model needs no boxes
    assert not boxes_needed(analyzer)
    analyzer.trackers[("trade", "cross_door_trading")].pending_since = 1.0
    assert boxes_needed(analyzer)


def test_settings_to_parts() -> None:
    analyzer = SceneAnalyzer(parse_zones(ZONES), RuleConfig())
    assert zone_boxes(analyzer, (640, 480)).tolist() == [[20, 200, 220, 400], [400, 40, 600, 120]]
    assert motion_gate(SavingsSettings(), "drone") is None  # a drone's whole view moves
    assert motion_gate(SavingsSettings(motion_gate=False), "fixed") is None
    gate = motion_gate(SavingsSettings(detect_every_s=9, motion_width=96), "fixed")
    assert gate is not None and gate.params.detect_every_s == 9 and gate.params.width == 96
    p = static_params(SavingsSettings(static_model_fps=0.5, static_model_max_side=48))
    assert (p.max_fps, p.max_side) == (0.5, 48)
