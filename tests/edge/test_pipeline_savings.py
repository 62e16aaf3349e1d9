"""The pipeline with every saving on (edge.settings.SavingsSettings: the motion gate, the static-object model
at 1 fps on a 64 px canvas), on real footage through the real detector: the bag clip still raises its
episode at the same times, and on a still view the detector is skipped while the episode is found."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import yaml

from edge.pipeline import Pipeline
from edge.settings import CameraSettings, EdgeSettings, SavingsSettings
from models.registry import load_detector
from testkit.footage import BAG_OFF, BAG_ON, FPS, FRAME_SIZE, bag_photo, bag_zones, make_bag_clip, set_down
from testkit.sink import SinkStandIn
from wire.schema import EventMessage

ALL_ON = SavingsSettings(motion_gate=True, static_model_fps=1.0, static_model_max_side=64)


class CountingDetector:
    """The real detector, counting the frames it is given."""

    def __init__(self, detector) -> None:
        self.detector, self.frames = detector, 0

    def __getattr__(self, name: str):
        return getattr(self.detector, name)

    def detect(self, frames):
        self.frames += len(frames)
        return self.detector.detect(frames)


@pytest.fixture(scope="module")
def detector(models_dir: Path):
    return load_detector(models_dir / "yolox_nano.onnx", threads=1)


@pytest.fixture(scope="module")
def zones(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("zones") / "zones.yaml"
    path.write_text(yaml.safe_dump(bag_zones("z-bag", camera_id="synth")))
    return path


def still_bag_clip(data_dir: Path, out: Path, seconds: float = 20.0) -> Path:
    """One PETS2009 frame held still (people standing), the bag lying in the bag zone from BAG_ON to BAG_OFF."""
    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    still = cap.read()[1]
    cap.release()
    bag = bag_photo(data_dir)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), FPS, FRAME_SIZE)
    for i in range(int(seconds * FPS)):
        frame = still.copy()
        if BAG_ON <= i / FPS < BAG_OFF:
            set_down(frame, bag)
        writer.write(frame)
    writer.release()
    return out


def run(video: Path, zones: Path, detector, tmp_path: Path, savings: SavingsSettings):
    settings = EdgeSettings.load(model="yolox_nano.onnx", site_id="site-t", analysis_fps=5.0, mqtt_enabled=False,
                                 cameras=[CameraSettings(id="cam-1", source=str(video), zones=zones)],
                                 savings=savings)
    counting = CountingDetector(detector)
    sink = SinkStandIn()
    stats = Pipeline(settings, detectors={settings.model: counting}, publisher=sink).run()
    events = [m for m in sink.messages if isinstance(m, EventMessage)]
    return stats, counting.frames, events


def test_the_bag_clip_raises_its_episode_with_every_saving_on(data_dir: Path, zones: Path, detector,
                                                              tmp_path: Path) -> None:
    video = make_bag_clip(data_dir, tmp_path / "bag.avi")
    stats, detected, events = run(video, zones, detector, tmp_path, ALL_ON)
    assert stats.frames_analysed == 100
    assert detected + stats.detections_skipped == stats.frames_analysed
    phases = [(e.zone_id, e.phase) for e in events if e.phase != "update"]
    assert phases == [("z-bag", "start"), ("z-bag", "end")], "the same episode as without savings, nothing else"
    start, end = events[0], events[-1]
    assert BAG_ON + 1 <= start.video_ts <= BAG_ON + 6  # the windows of test_pipeline's savings-off run
    assert BAG_OFF <= end.video_ts <= BAG_OFF + 6
    x1, y1, x2, y2 = start.boxes[0]
    assert x1 < 135 and x2 > 45 and y1 < 315 and y2 > 270  # the box is on the bag


def test_a_still_view_skips_the_detector_and_still_finds_the_bag(data_dir: Path, zones: Path, detector,
                                                                 tmp_path: Path) -> None:
    video = still_bag_clip(data_dir, tmp_path / "still.avi")
    stats, detected, events = run(video, zones, detector, tmp_path, ALL_ON)
    assert stats.frames_analysed == 100
    assert detected + stats.detections_skipped == 100
    # detected: the first frame, the bag set down and taken away (and the frames just after each), every 5 s
    assert detected <= 14, f"the detector saw {detected} of 100 frames of a still view"
    phases = [(e.zone_id, e.phase) for e in events if e.phase != "update"]
    assert phases == [("z-bag", "start"), ("z-bag", "end")]
    assert BAG_ON + 1 <= events[0].video_ts <= BAG_ON + 6
    assert BAG_OFF <= events[-1].video_ts <= BAG_OFF + 6

    stats_off, detected_off, events_off = run(video, zones, detector, tmp_path, SavingsSettings(motion_gate=False))
    assert detected_off == 100 and stats_off.detections_skipped == 0
    assert [(e.zone_id, e.phase) for e in events_off if e.phase != "update"] == phases
