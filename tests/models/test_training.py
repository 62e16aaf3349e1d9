"""Model cards for trained models: `register` on a real ONNX file (the path `train` ends with), the sidecar card
the registry then uses when the edge loads the model by name, and `train`'s one-line error without the
[train] extra. Training itself needs torch + ultralytics and is not run here."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import yaml

from central.models_cli import main as doorline_models
from models.model_card import card_for, load_card, sha256_of, sidecar_path
from models.registry import load_detector
from models.training import TRAIN_EXTRA_HINT, TrainError, register, train


def _small_set(data_dir: Path, root: Path, n: int = 4) -> Path:
    src = data_dir / "sidewalk-bags" / "valid"
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True)
    for img in sorted((src / "images").iterdir())[:n]:
        shutil.copy(img, root / "images" / img.name)
        shutil.copy(src / "labels" / f"{img.stem}.txt", root / "labels" / f"{img.stem}.txt")
    shutil.copy(data_dir / "sidewalk-bags" / "data.yaml", root / "data.yaml")
    return root


def test_register_writes_a_card_the_edge_loads_by_name(models_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    data = _small_set(data_dir, tmp_path / "bags")
    folder = tmp_path / "models"
    card_path = register(models_dir / "yolov8n_int8.onnx", out=folder, name="piles-v1", data=data, eval_split="all",
                         roles={"suitcase": "goods", "person": "person"}, agnostic=True, licence="AGPL-3.0",
                         training={"data": "sidewalk-bags/train_augmented", "epochs": 30, "imgsz": 416, "seed": 0})
    model = folder / "piles-v1.onnx"
    assert card_path == sidecar_path(model) == folder / "piles-v1.card.yaml"
    card = load_card(card_path)
    assert card.file == "piles-v1.onnx" and card.sha256 == sha256_of(model) and card.size_bytes == model.stat().st_size
    assert (card.family, card.backend, card.input.shape, card.input.color) == ("ultralytics", "onnx", [1, 3, 640, 640],
                                                                               "rgb")
    assert len(card.class_names()) == 80 and card.roles == {"suitcase": "goods", "person": "person"}
    assert card.training["epochs"] == 30 and card.licence == "AGPL-3.0"
    figures = card.evaluation
    assert figures["images"] == 4 and figures["agnostic"] and 0 <= figures["map50_95"] <= figures["map50"] <= 1
    # the edge finds it by name in its models folder, and the card is the one in force
    detector = load_detector("piles-v1.onnx", models_dir=folder)
    assert card_for(detector.source) == card
    assert detector.class_roles == {"suitcase": "goods", "person": "person"}  # what evaluation and the rules read
    # a file that is not the one the card describes: the card is ignored (decoded from the file itself)
    shutil.copy(models_dir / "yolox_nano.onnx", model)
    assert card_for(model) is None
    assert load_detector("piles-v1.onnx", models_dir=folder).spec.family == "yolox"


def test_register_refuses_what_it_cannot_describe(models_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="classes the model does not have"):
        register(models_dir / "yolox_nano.onnx", out=tmp_path, roles={"rubbish bag": "goods"})
    assert not sidecar_path(tmp_path / "yolox_nano.onnx").exists()
    with pytest.raises(TrainError, match="only ONNX"):
        register(models_dir / "yolo11n_int8.tflite", out=tmp_path)
    bad = tmp_path / "x.card.yaml"
    bad.write_text(yaml.safe_dump({"file": "y.onnx"}))
    (tmp_path / "x.onnx").write_bytes((models_dir / "yolox_nano.onnx").read_bytes())
    with pytest.raises(Exception, match="invalid"):
        card_for(tmp_path / "x.onnx")


def test_train_without_the_extra_is_one_line(tmp_path: Path, capsys) -> None:
    if importlib.util.find_spec("ultralytics") is not None:
        pytest.skip("ultralytics is installed here: the missing-extra path cannot be shown")
    with pytest.raises(TrainError, match=r"\[train\] extra"):
        train(data=tmp_path / "data.yaml", base="yolov8n.pt", epochs=1, imgsz=320, out=tmp_path)
    code = doorline_models(["train", "--data", str(tmp_path / "data.yaml"), "--base", "yolov8n.pt", "--epochs", "1",
                            "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == f"error: {TRAIN_EXTRA_HINT}" and "\n" not in err.strip()


def test_register_command(models_dir: Path, tmp_path: Path, capsys) -> None:
    code = doorline_models(["register", "--model", str(models_dir / "yolox_nano.onnx"), "--out", str(tmp_path),
                            "--name", "vendors-test", "--role", "umbrella=goods", "--licence", "Apache-2.0"])
    assert code == 0 and "vendors-test.card.yaml" in capsys.readouterr().out
    card = load_card(tmp_path / "vendors-test.card.yaml")
    assert card.family == "yolox" and card.input.letterbox == "top_left" and card.evaluation is None
    with pytest.raises(SystemExit, match="CLASS=person"):
        doorline_models(["register", "--model", "yolox_nano.onnx", "--out", str(tmp_path), "--role", "umbrella=stall"])
