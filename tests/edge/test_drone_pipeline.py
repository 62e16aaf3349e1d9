"""A drone flight through the edge pipeline: a real aerial tile of street vendors (drone-vendors, CC BY 4.0)
flown over as a video with a DJI SRT flight record, the stalls placed on the shops whose footprints hold
them. The detector's part is played by the tile's own labels (no model here knows vendors from the air yet;
the models issue trains one), so this checks the flight's way from boxes to one event per shop."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from edge.pipeline import Pipeline
from edge.settings import CameraSettings, EdgeSettings
from models.detections import Detections
from testkit.sink import SinkStandIn
from wire.schema import EventMessage, EvidenceMessage
from zones.geo import LocalProjection
from zones.projection import CameraPose, Intrinsics, ground_points

TILE = "girardot_reample_chip_21_41_png.rf.6c26f50018e785a27818ec6033a2168a"
HEIGHT, FX, STEP_PX, FRAMES, FPS = 40.0, 800.0, 3, 16, 4.0  # 5 cm a pixel; the drone flies 0.6 m/s east
START = (4.438, -74.805)  # Girardot, Colombia


def _srt(path: Path, positions: np.ndarray) -> None:
    cues = []
    for k, (lat, lon) in enumerate(positions):
        t0, t1 = k / FPS, (k + 1) / FPS
        stamp = lambda t: f"00:00:{int(t):02d},{round((t % 1) * 1000):03d}"  # noqa: E731
        cues.append(f"{k + 1}\n{stamp(t0)} --> {stamp(t1)}\n<font size=\"28\">FrameCnt: {k + 1}, DiffTime: 250ms\n"
                    f"[iso: 100] [focal_len: 24.00] [latitude: {lat:.7f}] [longitude: {lon:.7f}] "
                    f"[rel_alt: {HEIGHT:.3f} abs_alt: {HEIGHT + 300:.3f}] [gb_yaw: 0.0 gb_pitch: -90.0 gb_roll: 0.0] "
                    "</font>\n")
    path.write_text("\n".join(cues), encoding="utf-8")


@pytest.fixture(scope="module")
def flight(data_dir: Path, tmp_path_factory):
    root = data_dir / "drone-vendors" / "train"
    tile = cv2.imread(str(root / "images" / f"{TILE}.jpg"))
    labels = np.loadtxt(root / "labels" / f"{TILE}.txt", ndmin=2)
    h, w = tile.shape[:2]
    boxes0 = np.column_stack([(labels[:, 1] - labels[:, 3] / 2) * w, (labels[:, 2] - labels[:, 4] / 2) * h,
                              (labels[:, 1] + labels[:, 3] / 2) * w, (labels[:, 2] + labels[:, 4] / 2) * h])
    folder = tmp_path_factory.mktemp("flight")
    video = folder / "DJI_0001.MP4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (w, h))
    proj = LocalProjection(*START)
    positions, boxes = [], []
    for k in range(FRAMES):  # flying east: the ground slides left in the picture
        shift = k * STEP_PX
        writer.write(np.roll(tile, -shift, axis=1))
        positions.append(proj.to_latlon([[shift * HEIGHT / FX, 0.0]])[0])
        boxes.append(boxes0 - [shift, 0, shift, 0])
    writer.release()
    _srt(folder / "DJI_0001.SRT", np.array(positions))
    cam = Intrinsics(FX, FX, w / 2, h / 2, w, h)
    (folder / "camera.yaml").write_text(yaml.safe_dump({"width": w, "height": h, "fx": FX, "fy": FX}))
    # each stall's own shop: a 2 m square footprint around where it stands (the first frame's pose)
    pose0 = CameraPose(*START, HEIGHT, 0.0, -90.0)
    centres = np.column_stack([(boxes0[:, 0] + boxes0[:, 2]) / 2, (boxes0[:, 1] + boxes0[:, 3]) / 2])
    ground = proj.to_xy(ground_points(centres, pose0, cam))
    features = []
    for i, (x, y) in enumerate(ground):
        ring = proj.to_latlon([[x - 1, y - 1], [x + 1, y - 1], [x + 1, y + 1], [x - 1, y + 1], [x - 1, y - 1]])
        features.append({"type": "Feature", "properties": {"shop_id": f"shop-{i}"},
                         "geometry": {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in ring]]}})
    (folder / "footprints.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return folder, boxes


def test_each_stall_of_a_flight_is_one_event_on_its_own_shop(flight, models_dir: Path, tmp_path: Path) -> None:
    folder, boxes = flight
    settings = EdgeSettings.load(
        model=str(models_dir / "yolox_nano.onnx"), site_id="air", analysis_fps=FPS, mqtt_enabled=False,
        evidence_dir=tmp_path / "evidence",
        cameras=[CameraSettings(id="drone-1", kind="drone", source=str(folder / "DJI_0001.MP4"),
                                footprints=folder / "footprints.geojson", calibration=folder / "camera.yaml")])
    sink = SinkStandIn()
    pipeline = Pipeline(settings, publisher=sink).start()
    camera = pipeline.cameras["drone-1"]
    for k in range(FRAMES):
        frame = camera.source.read(timeout=10)
        assert frame is not None and frame.telemetry["pose"] is not None
        keep = (boxes[k][:, 0] >= 0)  # stalls that slid out of the picture are not seen
        dets = Detections(boxes[k][keep].astype(np.float32), np.full(keep.sum(), 0.9, np.float32),
                          np.zeros(keep.sum(), np.int32), data={"class_name": np.array(["umbrella"] * keep.sum())})
        pipeline.analyse(camera, frame, dets)
    pipeline.run()  # the file has ended: the flight's open sightings end
    events = [m for m in sink.messages if isinstance(m, EventMessage)]
    starts = [e for e in events if e.phase == "start"]
    assert sorted(e.shop_id for e in starts) == [f"shop-{i}" for i in range(len(boxes[0]))]
    assert len({e.event_id for e in starts}) == len(starts)
    for e in starts:
        assert e.zone_id is None and e.source_kind == "drone"
        assert e.geo is not None and 1.0 < e.geo.accuracy_m < 5.0
        assert e.evidence, "a sighting carries its picture"
    ends = [e for e in events if e.phase == "end"]
    assert sorted(e.shop_id for e in ends) == sorted(e.shop_id for e in starts)
    assert {e.end_reason for e in ends} == {"end_of_stream"}
    pictures = [m for m in sink.messages if isinstance(m, EvidenceMessage)]
    assert pictures and all(p.event_id in {e.event_id for e in events} for p in pictures)
