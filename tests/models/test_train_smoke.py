"""The training path end to end, as CI runs it: a few real drone-vendors tiles, one epoch at a tiny input size,
from ../shared/models/yolov5n.pt (converted offline) → ONNX + card → loaded by name through the registry
the edge uses → detections on a real tile; then the fp16 and int8 variants load the same way. No network:
every connection and name lookup is refused and recorded while it runs.

Needs the [train] extra (torch + ultralytics), which `scripts/setup.sh --test` installs."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from models.model_card import card_for, load_card, sha256_of, sidecar_path
from models.registry import load_detector
from testkit.network import no_network


def _train_extra() -> str | None:
    try:
        import torch  # noqa: F401
        import ultralytics  # noqa: F401

        from models.offline import restore_pillow

        restore_pillow()  # the import replaced PIL.Image.open for this whole test process
    except Exception as exc:  # noqa: BLE001 -- a broken torch build is as missing as none
        return f"the [train] extra (torch + ultralytics) is not importable ({exc}); scripts/setup.sh --test installs it"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_train_extra() is not None, reason=str(_train_extra()))]

TILES = 6  # 4 training tiles, 2 held out, each with its first labelled copy


def _tiny_vendors(data_dir: Path, root: Path) -> Path:
    src = data_dir / "drone-vendors" / "train"
    labelled = [p for p in sorted((src / "labels").iterdir()) if p.read_text().strip()]
    seen: set[str] = set()
    picked: list[Path] = []
    for label in labelled:  # one copy per tile: the two sides share no tile
        tile = label.stem.split("_png.rf.")[0]
        if tile not in seen:
            seen.add(tile)
            picked.append(label)
        if len(picked) == TILES:
            break
    for i, label in enumerate(picked):
        side = "val" if i >= TILES - 2 else "train"
        for sub in ("images", "labels"):
            (root / side / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(src / "images" / f"{label.stem}.jpg", root / side / "images" / f"{label.stem}.jpg")
        shutil.copy(label, root / side / "labels" / label.name)
    data = root / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(root), "train": "train/images", "val": "val/images", "nc": 1,
                                    "names": ["vendedor_ambulante"]}))
    return data


def test_smoke_training_gives_a_model_the_edge_loads_and_runs(data_dir: Path, models_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from models.training import train
    from models.variants import export_variants

    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics"))
    monkeypatch.setenv("DOORLINE_MODELS_DIR", str(models_dir))  # where the base checkpoint is found by name
    data = _tiny_vendors(data_dir, tmp_path / "vendors")
    folder = tmp_path / "models"
    with no_network() as attempts:
        card_path = train(data=data, base="yolov5n.pt", epochs=1, imgsz=96, out=folder, name="vendors-smoke",
                          batch=4, workers=0, roles={"vendedor_ambulante": "goods"}, licence="AGPL-3.0")
        cards = export_variants(folder / "vendors-smoke.onnx", data.parent / "train", n_images=4)
    assert attempts == [], f"training tried the network: {attempts}"

    model = folder / "vendors-smoke.onnx"
    card = load_card(card_path)
    assert card_path == sidecar_path(model) and card.sha256 == sha256_of(model)
    assert (card.family, card.classes, card.input.shape) == ("ultralytics", ["vendedor_ambulante"], [1, 3, 96, 96])
    assert card.roles == {"vendedor_ambulante": "goods"}
    assert card.training["base"] == "yolov5n.pt" and card.training["epochs"] == 1 and card.training["seed"] == 0
    assert card.evaluation["images"] == 2 and 0 <= card.evaluation["map50"] <= 1
    assert (folder / "bases").is_dir() and not list(folder.glob("*.pt"))  # weights stay in runs/ and bases/

    # the edge's way: by name from its models folder, the card in force, detections on a real tile
    tile = cv2.imread(str(next((data.parent / "val" / "images").iterdir())))
    for name in ("vendors-smoke.onnx", "vendors-smoke-fp16.onnx", "vendors-smoke-int8.onnx"):
        detector = load_detector(name, models_dir=folder, conf=0.001)
        assert card_for(detector.source) is not None, name
        assert detector.class_names == ["vendedor_ambulante"]
        dets = detector.detect([tile])[0]
        assert len(dets) > 0, f"{name}: no box at all at score 0.001 (an untrained head still scores some)"
        assert set(dets.data["class_name"]) == {"vendedor_ambulante"}
        assert np.all(dets.xyxy >= -1) and np.all(dets.xyxy[:, 2:] <= np.array(tile.shape[1::-1]) + 1)
    assert set(cards) == {"fp16", "int8"}
    int8 = load_card(cards["int8"])
    assert int8.roles == card.roles and int8.training["variant"]["kind"] == "int8"
    assert (folder / "vendors-smoke-int8.onnx").stat().st_size < model.stat().st_size * 0.7
