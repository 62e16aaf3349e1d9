"""Per-camera model rollout: central's reload command names a model, the edge runs it for that camera from the
next batch on and keeps the old one loaded, so a reload naming the old one rolls back at once. Two real ONNX
models from ../shared/models on the bag clip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge.pipeline import Pipeline
from edge.settings import CameraSettings, EdgeSettings
from models.base import Detector
from models.detections import Detections
from models.registry import load_detector
from testkit.footage import bag_zones, make_bag_clip
from wire.schema import CommandMessage, EventMessage

OLD, NEW = "yolox_nano.onnx", "yolov8n_int8.onnx"


class Counting(Detector):
    type_key = "counting"

    def __init__(self, inner: Detector) -> None:
        self.inner, self.class_names, self.frames = inner, inner.class_names, 0

    def detect(self, frames) -> list[Detections]:
        self.frames += len(frames)
        return self.inner.detect(frames)


class RolloutPipeline(Pipeline):
    def _load_detector(self, key: str) -> Detector:
        self.loaded.append(key)
        return Counting(super()._load_detector(key))


class RollingBackCentral:
    """Publishes nothing anywhere; after the first start (seen with the new model) it rolls the camera back."""

    depth = 0

    def __init__(self) -> None:
        self.messages: list = []
        self.pipeline: Pipeline | None = None

    def publish(self, msg) -> None:
        self.messages.append(msg)
        if isinstance(msg, EventMessage) and msg.phase == "start" and self.pipeline is not None:
            self.pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="reload_zones",
                                                        model=OLD))

    def publish_many(self, msgs) -> None:
        for m in msgs:
            self.publish(m)

    def on_command(self, callback) -> None:
        pass

    def set_status(self, state: str, **kw) -> None:
        pass


@pytest.fixture(scope="module")
def clip(data_dir: Path, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("clip")
    zones = folder / "zones.yaml"
    zones.write_text(yaml.safe_dump(bag_zones("z-bag", camera_id="synth")))
    return make_bag_clip(data_dir, folder / "bag.avi"), zones


@pytest.mark.slow  # ~20 s under load: the bag clip through two real detectors
def test_reload_names_a_model_and_the_old_one_stays_for_rollback(clip, models_dir: Path, tmp_path: Path) -> None:
    video, zones = clip
    camera = CameraSettings(id="cam-1", source=str(video), zones=zones)
    settings = EdgeSettings.load(model=OLD, models_dir=models_dir, site_id="site-t", analysis_fps=5.0,
                                 mqtt_enabled=False, cameras=[camera], evidence_dir=tmp_path / "evidence")
    old = Counting(load_detector(models_dir / OLD, threads=1))
    central = RollingBackCentral()
    pipeline = RolloutPipeline(settings, detectors={OLD: old}, publisher=central)
    pipeline.loaded = []
    central.pipeline = pipeline
    pipeline.start()
    # a model that does not exist changes nothing; then the new model is rolled out to cam-1
    pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="reload_zones", model="nope.onnx"))
    pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="reload_zones", model=NEW))
    pipeline.run()

    assert pipeline.loaded == ["nope.onnx", NEW]  # the old model was never loaded again
    new = pipeline.detectors[NEW]
    assert pipeline.detectors[OLD] is old and new.inner.class_names == old.class_names
    assert new.frames > 0 and old.frames > 0  # both ran: the new one first, the old one after the rollback
    events = [m for m in central.messages if isinstance(m, EventMessage)]
    assert events[0].phase == "start" and events[0].model == NEW  # the start was seen with the new model
    assert events[-1].phase == "end" and events[-1].model == OLD  # rolled back while the episode went on
    assert events[0].event_id == events[-1].event_id  # a model switch does not cut the episode
    camera = pipeline.cameras["cam-1"]
    assert (camera.detector_key, camera.previous_detector_key) == (OLD, NEW)


def test_only_reload_names_a_model() -> None:
    with pytest.raises(ValueError, match="only reload_zones names a model"):
        CommandMessage(site_id="s", camera_id="c", cmd="set_fps", fps=2.0, model=NEW)
    with pytest.raises(ValueError):
        CommandMessage(site_id="s", camera_id="c", cmd="reload_zones", model="../etc/passwd")
