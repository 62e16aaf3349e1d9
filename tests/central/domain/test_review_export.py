"""Operator verdicts feed back: a tiny case built through the real ingest and case domain (two shops, events
with the edge's own evidence pictures, one case confirmed and one dismissed) → precision per camera and per
model, and `doorline-models export-reviews` → a valid YOLO dataset that `doorline-models eval` reads."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from central import workflow
from central.db import make_engine, make_session_factory
from central.domain.cases import case_for_episode, confirm, dismiss
from central.domain.verdicts import precision_by_camera_and_model
from central.evidence_store import LocalEvidenceStore
from central.ingest import Inbound, IngestService
from central.models_cli import main as doorline_models
from central.orm.base import Base
from central.settings import CentralSettings
from edge.evidence import EvidenceWriter
from models.datasets import check_yolo_dataset
from models.evaluate import read_labels
from wire import topics
from wire.ids import new_id
from wire.mqtt import MqttSettings
from wire.schema import EventMessage, encode_bundle

from .conftest import T0, World

PHOTO = "IMG_4432_jpeg.rf.d1d319f9f9f753d9e039aeec1ae8818f"  # 7 bags


def _deliver(svc: IngestService, frame: np.ndarray, boxes: np.ndarray, *, camera: str, zone: str, model: str,
             mid: int) -> str:
    event_id = new_id()
    bundle = EvidenceWriter(site_id="site-1").make(
        frame, camera_id=camera, event_id=event_id, unix_ts=T0.timestamp(), polygon=None, boxes=boxes,
        title=f"zone {zone} piled_goods start", name="0-start",
    )
    msg = EventMessage(
        site_id="site-1", camera_id=camera, event_id=event_id, seq=0, zone_id=zone, violation="piled_goods",
        phase="start", ts=T0.timestamp(), score=0.8, boxes=boxes.tolist(), evidence=[m.ref() for m in bundle.messages],
        model=model,
    )
    t = topics.topic("site-1", camera, "event", "p")
    svc._commit_batch([Inbound(t, encode_bundle(msg, bundle.messages), mid, 1, 0, 0.0)])  # noqa: SLF001
    return event_id


@pytest.fixture
def reviewed(db_url: str, tmp_path: Path, data_dir: Path):
    """(database url, evidence folder, the confirmed photo's labelled boxes as YOLO rows)."""
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    settings = CentralSettings(database_url=db_url, mqtt=MqttSettings(prefix="p"), grade_rules="counts")
    evidence_dir = tmp_path / "ev"
    svc = IngestService(settings, factory, LocalEvidenceStore(evidence_dir, fsync=False))
    svc._workflow = workflow  # noqa: SLF001
    with factory() as s:
        World(s).shop("A", camera="cam-1", zone="za")
        World(s).shop("B", camera="cam-2", zone="zb")
        s.commit()
    valid = data_dir / "sidewalk-bags" / "valid"
    photo = cv2.imread(str(valid / "images" / f"{PHOTO}.jpg"))
    _, xyxy = read_labels(valid / "labels" / f"{PHOTO}.txt", 640, 640, 4)
    frame = cv2.resize(photo, (1920, 1920))  # larger than the edge's max_side: the evidence is shrunk to 1280
    bags = _deliver(svc, frame, xyxy * 3, camera="cam-1", zone="za", model="yolox_nano.onnx", mid=1)
    street = cv2.imread(str(data_dir / "street" / "bus.jpg"))
    shadow = _deliver(svc, street, np.array([[50, 600, 200, 800]], np.float32), camera="cam-2", zone="zb",
                      model="yolov8n_int8.onnx", mid=2)
    with factory() as s:
        confirm(s, case_for_episode(s, bags).id, actor="op1", settings=settings, now=T0 + timedelta(minutes=2))
        dismiss(s, case_for_episode(s, shadow).id, actor="op2", reason="a shadow, not goods",
                now=T0 + timedelta(minutes=3))
        s.commit()
        rows = [r.to_dict() for r in precision_by_camera_and_model(s)]
        early = precision_by_camera_and_model(s, since=T0 + timedelta(minutes=2, seconds=30))
    engine.dispose()
    yield db_url, evidence_dir, xyxy / 640, rows, early


def test_verdicts_give_precision_and_a_dataset_eval_reads(reviewed, tmp_path: Path, models_dir: Path, capsys) -> None:
    url, evidence_dir, boxes01, rows, early = reviewed
    # precision per camera and per model from the two verdicts
    assert rows == [
        {"site_id": "site-1", "camera_id": "cam-1", "model": "yolox_nano.onnx", "confirmed": 1, "dismissed": 0,
         "reviewed": 1, "precision": 1.0},
        {"site_id": "site-1", "camera_id": "cam-2", "model": "yolov8n_int8.onnx", "confirmed": 0, "dismissed": 1,
         "reviewed": 1, "precision": 0.0},
    ]
    assert [(r.camera_id, r.dismissed) for r in early] == [("cam-2", 1)]  # only verdicts since then

    out = tmp_path / "reviews"
    assert doorline_models(["export-reviews", "--since", "2026-03-01", "--out", str(out), "--database-url", url,
                            "--evidence-dir", str(evidence_dir)]) == 0
    assert check_yolo_dataset(out) == {"images": 2, "boxes": len(boxes01), "negatives": 1, "classes": 2}
    card = json.loads((out / "card.json").read_text())
    by_verdict = {i["verdict"]: i for i in card["images"]}
    pos, neg = by_verdict["confirmed"], by_verdict["dismissed"]
    assert (pos["camera_id"], pos["model"], pos["verdict_by"]) == ("cam-1", "yolox_nano.onnx", "op1")
    assert (pos["shop_id"], pos["case_id"]) == ("A", pos["case_id"]) and pos["evidence_sha256"]
    assert (neg["camera_id"], neg["reason"], neg["model"]) == ("cam-2", "a shadow, not goods", "yolov8n_int8.onnx")
    # the caption band is cut off: square again (the 1920 px frame + band was shrunk to 1280 px high)
    assert pos["size"] == [1251, 1251] and neg["size"] == [810, 1080]
    # the exported boxes are the photo's own labels (the event's boxes on the 1920 px frame, sent at 1280 px)
    rows = np.array([list(map(float, line.split()[1:])) for line in
                     (out / pos["image"].replace("images", "labels").replace(".jpg", ".txt")).read_text().splitlines()])
    cx, cy = (boxes01[:, 0] + boxes01[:, 2]) / 2, (boxes01[:, 1] + boxes01[:, 3]) / 2
    expected = np.stack([cx, cy, boxes01[:, 2] - boxes01[:, 0], boxes01[:, 3] - boxes01[:, 1]], axis=1)
    np.testing.assert_allclose(rows, expected, atol=0.015)  # the shrink factor is recovered within ~1 %
    assert "a shadow, not goods" in (out / "card.md").read_text()
    assert doorline_models(["eval", "--model", "yolox_nano.onnx", "--models-dir", str(models_dir), "--data", str(out),
                            "--agnostic", "--no-progress"]) == 0
    assert f"images 2, labels {len(boxes01)}:" in capsys.readouterr().out

    split = tmp_path / "by-camera"
    assert doorline_models(["export-reviews", "--since", "2026-03-01", "--out", str(split), "--database-url", url,
                            "--evidence-dir", str(evidence_dir), "--val-camera", "cam-2"]) == 0
    assert check_yolo_dataset(split / "train")["negatives"] == 0 and check_yolo_dataset(split / "val")["negatives"] == 1
    assert doorline_models(["export-reviews", "--since", "2026-03-02T10:00", "--out", str(tmp_path / "none"),
                            "--database-url", url, "--evidence-dir", str(evidence_dir)]) == 0
    assert json.loads((tmp_path / "none" / "card.json").read_text())["counts"]["images"] == 0


def test_export_reviews_needs_a_database(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("DOORLINE_DATABASE_URL", raising=False)
    assert doorline_models(["export-reviews", "--since", "2026-03-01", "--out", str(tmp_path)]) == 2
    assert "DOORLINE_DATABASE_URL" in capsys.readouterr().err


def _train_extra() -> str | None:
    try:
        import torch  # noqa: F401
        import ultralytics  # noqa: F401

        from models.offline import restore_pillow

        restore_pillow()  # the import replaced PIL.Image.open for this whole test process
    except Exception as exc:  # noqa: BLE001 -- a broken torch build is as missing as none
        return f"the [train] extra (torch + ultralytics) is not importable ({exc}); scripts/setup.sh --test installs it"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_train_extra() is not None, reason=str(_train_extra()))
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the training is the point: one database is enough
def test_exported_verdicts_train_a_model_the_edge_loads(reviewed, tmp_path: Path, models_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The feedback loop closed on a tiny case: export-reviews → doorline-models train (one epoch) → a model
    registered by name that loads with its card and detects on the confirmed frame."""
    from models.model_card import card_for, load_card
    from models.registry import load_detector

    url, evidence_dir, _, _, _ = reviewed
    out = tmp_path / "reviews"
    assert doorline_models(["export-reviews", "--since", "2026-03-01", "--out", str(out), "--database-url", url,
                            "--evidence-dir", str(evidence_dir)]) == 0
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics"))
    folder = tmp_path / "models"
    assert doorline_models(["train", "--data", str(out / "data.yaml"), "--base", str(models_dir / "yolov5n.pt"),
                            "--epochs", "1", "--imgsz", "96", "--batch", "2", "--workers", "0", "--out", str(folder),
                            "--name", "reviews-v1", "--role", "piled_goods=goods"]) == 0
    card = load_card(folder / "reviews-v1.card.yaml")
    names = json.loads((out / "card.json").read_text())["classes"]
    assert card.classes == names and card.roles == {"piled_goods": "goods"}
    assert card.training["data"] == str(out / "data.yaml") and card.evaluation["images"] == 2
    detector = load_detector("reviews-v1.onnx", models_dir=folder, conf=0.001)
    assert card_for(detector.source) == card
    frame = cv2.imread(str(next((out / "images").glob("*.jpg"))))
    dets = detector.detect([frame])[0]
    assert len(dets) > 0 and set(dets.data["class_name"]) <= set(names)
