"""The view a camera's zones were drawn for survives edge restarts and is kept per PTZ preset: a camera bumped
while the edge was down is noticed on its first frame and its zones realigned; a PTZ camera back at preset A
is compared with A's view, not with the preset it was at in between. Real restarts of the pipeline on a live
(HTTP MJPEG) camera of PETS2009 frames, the real detector."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from edge.pipeline import Pipeline
from edge.settings import CameraSettings, EdgeSettings
from edge.view_reference import ViewReferences, view_key
from models.registry import load_detector
from testkit.footage import BAG_POLYGON, bag_zones
from testkit.sink import SinkStandIn
from tests.edge.test_sources import MjpegServer
from wire.schema import ZoneProposal
from zones.io import parse_zones

BUMP = (40, 25)  # the camera turned while the edge was down: its view moved this far right and down (px)
PAN = (150, 0)  # preset B looks further along the street


@pytest.fixture(scope="module")
def detector(models_dir: Path):
    return load_detector(models_dir / "yolox_nano.onnx", threads=1)


@pytest.fixture(scope="module")
def street(data_dir: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    frames = [cap.read()[1] for _ in range(8)]
    cap.release()
    return frames


def _shifted(frames: list[np.ndarray], shift: tuple[int, int]) -> list[np.ndarray]:
    return [np.ascontiguousarray(np.roll(f, shift[::-1], axis=(0, 1))) for f in frames]


def _zones(path: Path, shift: tuple[int, int] = (0, 0)) -> Path:
    doc = bag_zones(camera_id="live-cam", road=False)
    doc["zones"][0]["polygon"] = [[x + shift[0], y + shift[1]] for x, y in BAG_POLYGON]
    path.write_text(yaml.safe_dump(doc))
    return path


def _run(frames, camera: CameraSettings, refs: Path | None, detector, tmp_path: Path) -> tuple[Pipeline, SinkStandIn]:
    """One life of the edge: start, analyse a few frames of the live camera, stop."""
    server = MjpegServer(fps=10, frames=[cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
                                         for f in frames])
    try:
        live = camera.model_copy(update={"source": server.url})
        settings = EdgeSettings.load(model="yolox_nano.onnx", site_id="site-t", analysis_fps=5.0, mqtt_enabled=False,
                                     cameras=[live], evidence_dir=tmp_path / "evidence", reference_dir=refs,
                                     reference_max_age_s=0)  # the learned empty zones are not kept: views only
        sink = SinkStandIn()
        pipeline = Pipeline(settings, detectors={settings.model: detector}, publisher=sink)
        stats = pipeline.run(max_frames=3, max_seconds=20)
        pipeline.close()
    finally:
        server.close()
    assert stats.frames_analysed >= 3, stats
    return pipeline, sink


def _proposal(pipeline: Pipeline) -> ZoneProposal | None:
    camera = pipeline.cameras["live-cam"]
    assert bool(camera.held) == (camera.proposal is not None)
    return camera.proposal


def test_a_camera_bumped_while_the_edge_was_down_is_noticed_at_restart(street, detector, tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    camera = CameraSettings(id="live-cam", source="http://x", zones=_zones(tmp_path / "zones.yaml"))
    first, _ = _run(street, camera, refs, detector, tmp_path)
    assert _proposal(first) is None and (refs / "live-cam.view.npz").is_file()

    # restarted after the camera was turned: the first frame is compared with the saved view
    bumped, sink = _run(_shifted(street, BUMP), camera, refs, detector, tmp_path)
    proposal = _proposal(bumped)
    assert proposal is not None, bumped.cameras["live-cam"].held
    (zone,) = parse_zones(proposal.zones).zones
    assert np.abs(zone.polygon - (np.array(BAG_POLYGON) + BUMP)).max() < 2.0
    assert any(s["state"] == "degraded" and s.get("proposals") for s in sink.statuses)
    # again (the operator has not answered yet): still noticed, the bumped view did not become the reference
    again, _ = _run(_shifted(street, BUMP), camera, refs, detector, tmp_path)
    assert _proposal(again) is not None

    # without the saved view (the old edge), the bumped view silently became the reference
    forgot, _ = _run(_shifted(street, BUMP), camera, tmp_path / "no-refs", detector, tmp_path)
    assert _proposal(forgot) is None
    # the same view in other light at restart is no move
    darker = [cv2.convertScaleAbs(f, alpha=0.6, beta=-10) for f in street]
    dusk, _ = _run(darker, camera, refs, detector, tmp_path)
    assert _proposal(dusk) is None


def test_a_ptz_camera_keeps_a_view_and_zones_per_preset(street, detector, tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    presets = {"shop-row": _zones(tmp_path / "shop-row.yaml"), "corner": _zones(tmp_path / "corner.yaml", PAN)}
    at = {name: CameraSettings(id="live-cam", source="http://x", preset=name, presets=presets) for name in presets}
    assert at["corner"].zones == presets["corner"]
    panned = _shifted(street, PAN)

    a, _ = _run(street, at["shop-row"], refs, detector, tmp_path)
    b, _ = _run(panned, at["corner"], refs, detector, tmp_path)  # turned to the other preset: not a move
    assert _proposal(a) is None and _proposal(b) is None
    assert {p.name for p in refs.iterdir()} == {"live-cam@shop-row.view.npz", "live-cam@corner.view.npz"}
    again, _ = _run(panned, at["corner"], refs, detector, tmp_path)  # restarted at the corner: its own view
    assert _proposal(again) is None

    # back at the first preset, but bumped on the way: compared with that preset's view, not the corner's (one
    # reference per camera would have been the corner's, for other zones, and the bump would go unnoticed)
    bumped, _ = _run(_shifted(street, BUMP), at["shop-row"], refs, detector, tmp_path)
    proposal = _proposal(bumped)
    assert proposal is not None
    (zone,) = parse_zones(proposal.zones).zones
    assert np.abs(zone.polygon - (np.array(BAG_POLYGON) + BUMP)).max() < 2.0


def test_preset_settings_are_checked(tmp_path: Path) -> None:
    presets = {"a": tmp_path / "a.yaml", "b": tmp_path / "b.yaml"}
    with pytest.raises(ValidationError, match="preset 'c' is not one of its presets"):
        CameraSettings(id="c1", source="rtsp://x", preset="c", presets=presets)
    with pytest.raises(ValidationError, match="not both"):
        CameraSettings(id="c1", source="rtsp://x", zones=tmp_path / "z.yaml", preset="a", presets=presets)
    with pytest.raises(ValidationError, match="preset None"):
        CameraSettings(id="c1", source="rtsp://x", presets=presets)
    assert view_key("c1", None) == "c1" and view_key("c1", "a") == "c1@a"


def test_a_stale_damaged_or_unwritable_view_reference_is_dropped_not_fatal(street, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="doorline.edge.view_reference")
    zones = parse_zones(bag_zones(camera_id="live-cam", road=False))
    store = ViewReferences(tmp_path / "refs")
    assert store.save("live-cam", zones, street[0])
    got = store.load("live-cam", zones)
    assert got is not None and np.array_equal(got, street[0])  # PNG: lossless
    redrawn = parse_zones({**bag_zones(camera_id="live-cam", road=False), "rules": {"min_dwell_s": 9}})
    assert store.load("live-cam", redrawn) is None and "zones changed" in caplog.text
    store.path("live-cam").rename(store.path("other"))
    assert store.load("other", zones) is None and "unreadable" in caplog.text  # another camera's file
    store.path("live-cam").write_bytes(b"PK\x03\x04 not a zip")
    assert store.load("live-cam", zones) is None
    (tmp_path / "file").write_text("x")
    blocked = ViewReferences(tmp_path / "file")
    assert not blocked.save("live-cam", zones, street[0]) and blocked.save_errors == 1
