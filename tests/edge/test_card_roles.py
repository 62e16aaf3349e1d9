"""Class roles from a model card reach the rules: a fine-tuned model's own classes (`rubbish_bag`,
`vendedor_ambulante`), listed in no rule, count as goods because its card says so; without the role they count
for nothing. The detector attaches each detection's role from its card (`data["role"]`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edge.analyzer import SceneAnalyzer
from edge.drone import DroneAnalyzer
from models.detections import Detections
from models.registry import load_detector
from models.training import register
from zones.model import CameraZones, Zone
from zones.projection import CameraPose, Intrinsics, image_points
from zones.rules import RuleConfig

from .test_drone import _street

W, H = 320, 240
ZONE = np.array([[90, 110], [230, 110], [240, 180], [85, 180]], float)


def _bags(role: str | None) -> Detections:
    data = {"class_name": np.array(["rubbish_bag"])}
    if role is not None:
        data["role"] = np.array([role])
    return Detections(np.array([[150, 140, 180, 170]], np.float32), np.array([0.6], np.float32),
                      np.array([0], np.int32), tracker_id=np.array([1]), data=data)  # one still track


def _trading_events(dets: Detections) -> list:
    rules = RuleConfig(min_dwell_s=20, clear_s=5, cooldown_s=5, update_interval_s=30)
    cam = CameraZones("cam-t", "site-t", (W, H), [Zone("z-1", "s-1", ZONE, violations=("cross_door_trading",))],
                      rules)
    analyzer = SceneAnalyzer(cam)
    frame = np.zeros((H, W, 3), np.uint8)
    events = []
    for ts in np.arange(0, 60, 0.5):  # still for trading_still_s (20 s), then min_dwell_s (20 s)
        events += analyzer.update(frame, float(ts), dets)
    return events


def test_a_goods_role_makes_a_fine_tuned_class_count_in_a_zone() -> None:
    assert [e.phase for e in _trading_events(_bags("goods")) if e.phase != "update"] == ["start"]
    assert _trading_events(_bags(None)) == []  # `rubbish_bag` is in no rule's class list
    assert _trading_events(_bags("person")) == []  # a person in the zone is not goods


def _flight(dets_for: Callable[[np.ndarray], Detections]) -> list:
    fp, proj, _ = _street()
    cam = Intrinsics.from_35mm(24.0, 1920, 1080)
    stall = proj.to_latlon(np.array([[12.0, 2.0]]))
    drone = DroneAnalyzer(fp, goods_classes=["umbrella"], min_frames=3, gap_s=5.0, intrinsics=cam)
    events = []
    for k in range(20):
        ll = proj.to_latlon([[-10.0 + 1.5 * k, -25.0]])[0]
        pose = CameraPose(float(ll[0]), float(ll[1]), 40.0, 0.0, -60.0)
        px = image_points(stall, pose, cam)
        if not (np.isfinite(px).all() and 0 <= px[0, 0] < 1920 and px[0, 1] < 1080):
            continue
        box = np.array([[px[0, 0] - 20, px[0, 1] - 40, px[0, 0] + 20, px[0, 1]]], np.float32)
        events += drone.update((1920, 1080), k * 0.5, pose, dets_for(box))
    return events + drone.finish()


def test_a_vendor_model_with_a_goods_role_is_trading_from_the_air() -> None:
    def vendor(role: str | None):
        def dets(box: np.ndarray) -> Detections:
            data = {"class_name": np.array(["vendedor_ambulante"])} | ({"role": np.array([role])} if role else {})
            return Detections(box, np.array([0.8], np.float32), np.array([0], np.int32), data=data)
        return dets

    starts = [e for e in _flight(vendor("goods")) if e.phase == "start"]
    assert [e.sighting.shop_id for e in starts] == ["shop-1"]
    assert _flight(vendor(None)) == []


def test_the_detector_gives_each_detection_its_card_role(models_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    shutil.copy(models_dir / "yolox_nano.onnx", tmp_path / "street.onnx")
    register(tmp_path / "street.onnx", out=tmp_path, roles={"bus": "vehicle", "person": "person"})
    bus = cv2.imread(str(data_dir / "street" / "bus.jpg"))
    dets = load_detector("street.onnx", models_dir=tmp_path).detect([bus])[0]
    names, roles = dets.data["class_name"], dets.data["role"]
    assert {"bus", "person"} <= set(names)
    assert all(r == {"bus": "vehicle", "person": "person"}.get(n, "") for n, r in zip(names, roles, strict=True))
    plain = load_detector("yolox_nano.onnx", models_dir=models_dir).detect([bus])[0]
    assert "role" not in plain.data  # a card without roles: the rules' class lists alone decide
    assert len(Detections.merge([dets, plain])) == len(dets) + len(plain)
