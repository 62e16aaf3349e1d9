"""Detection metrics on YOLO-txt folders: label parsing, matching, AP, and a real run."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.base import Detector
from models.detections import Detections
from models.evaluate import (
    EvalError,
    average_precision,
    evaluate,
    find_dataset,
    main,
    make_groups,
    match,
    read_labels,
)


@pytest.mark.parametrize(
    ("text", "classes", "error"),
    [
        ("1 0.5 0.5 0.2 0.4", [1], None),  # no final newline
        ("0 0.5 0.5 0.2 0.4\n\n2 0.1 0.1 0.1 0.1\n", [0, 2], None),
        ("", [], None),
        ("0 0.5 0.5 0.2", None, "expected 'class cx cy w h'"),
        ("0 0.5 0.5 0.2 x", None, "non-numeric"),
        ("7 0.5 0.5 0.2 0.4", None, "class id outside"),
    ],
)
def test_read_labels(tmp_path: Path, text, classes, error) -> None:
    path = tmp_path / "a.txt"
    path.write_text(text)
    if error:
        with pytest.raises(EvalError, match=error):
            read_labels(path, 200, 100, 4)
        return
    cls, xyxy = read_labels(path, 200, 100, 4)
    assert cls.tolist() == classes
    if classes and classes[0] == 1:
        np.testing.assert_allclose(xyxy[0], [80, 30, 120, 70])


def test_missing_label_file_means_no_objects(tmp_path: Path) -> None:
    cls, xyxy = read_labels(tmp_path / "none.txt", 10, 10, 1)
    assert cls.shape == (0,) and xyxy.shape == (0, 4)


def test_match_and_ap() -> None:
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 11], [20, 20, 30, 30], [50, 50, 60, 60]], np.float32)
    conf = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    tp = match(pred, conf, gt, 0.5)
    assert tp.tolist() == [True, False, True, False]  # the duplicate is a false positive
    # precision 1, 1/2, 2/3, 2/4 at recall .5, .5, 1, 1 → interpolated AP = 0.5*1 + 0.5*2/3
    assert average_precision(tp, conf, 2) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision(np.ones(2, bool), np.array([0.9, 0.8]), 2) == pytest.approx(1.0)
    assert average_precision(np.zeros(0, bool), np.zeros(0), 3) == 0.0


@pytest.mark.parametrize(
    ("mapping", "expected", "error"),
    [
        (None, {"person": ("person",), "bag+box": "goods"}, None),
        (
            {"bag": ["handbag", "suitcase"]},
            {"person": ("person",), "bag": ("handbag", "suitcase"), "box": "goods"},
            None,
        ),
        ({"crate": ["chair"]}, None, "do not exist"),
        ({"bag": ["garbage bag"]}, None, "no classes"),
    ],
)
def test_make_groups(mapping, expected, error) -> None:
    coco = ["person", "handbag", "suitcase", "chair", "bench"]
    if error:
        with pytest.raises(EvalError, match=error):
            make_groups(["person", "bag", "box"], coco, mapping)
        return
    groups = {g.name: g.detector_names for g in make_groups(["person", "bag", "box"], coco, mapping)}
    assert set(groups) == set(expected)
    for name, tgt in expected.items():
        assert groups[name] == (("bench", "chair", "handbag", "suitcase") if tgt == "goods" else tgt)


class _LabelReader(Detector):
    """Answers with the labelled boxes (shifted by `shift` px): checks the metric, not a model."""

    type_key = "labels"

    def __init__(self, data: Path, shift: float) -> None:
        self.class_names = ["person", "chair"]
        self.data, self.shift, self.calls = data, shift, 0

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        img = sorted((self.data / "images").iterdir())[self.calls]
        self.calls += 1
        h, w = frames[0].shape[:2]
        cls, xyxy = read_labels(self.data / "labels" / f"{img.stem}.txt", w, h, 2)
        return [
            Detections(
                xyxy + self.shift,
                np.full(len(cls), 0.9, np.float32),
                cls.astype(np.int32),
                data={"class_name": np.array(self.class_names)[cls]},
            )
        ]


def _tiny_dataset(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "data.yaml").write_text("names: ['person', 'chair']\n")
    for i, text in enumerate(["0 0.5 0.5 0.2 0.4\n1 0.2 0.2 0.1 0.1", "1 0.7 0.7 0.2 0.2", ""]):
        cv2.imwrite(str(root / "images" / f"{i}.png"), np.zeros((100, 100, 3), np.uint8))
        (root / "labels" / f"{i}.txt").write_text(text)
    return root


@pytest.mark.parametrize(("shift", "expected_map"), [(0.0, 1.0), (30.0, 0.0)])
def test_evaluate_scores_a_known_answer(tmp_path: Path, shift, expected_map) -> None:
    data = _tiny_dataset(tmp_path / "ds")
    result = evaluate(_LabelReader(data, shift), data, progress=False)
    assert result.n_images == 3 and result.n_labels == 3
    assert result.map50 == pytest.approx(expected_map)
    assert result.recall == pytest.approx(expected_map)
    assert {g.name for g in result.groups} == {"person", "chair"}


def test_find_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="images/ and labels/"):
        find_dataset(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    with pytest.raises(EvalError, match="no data.yaml"):
        find_dataset(tmp_path)


def test_cli_on_sidewalk_bags(data_dir: Path, models_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "eval.json"
    code = main(
        [
            "--model",
            "yolox_nano.onnx",
            "--models-dir",
            str(models_dir),
            "--data",
            str(data_dir / "sidewalk-bags" / "valid"),
            "--limit",
            "8",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert (result["n_images"], result["n_labels"]) == (8, 12) and result["skipped"] == []
    # COCO's yolox_nano finds rubbish bags as the "goods" classes (bags, suitcases, ...): measured 0.675 mAP@0.5
    # on these 8 photos, recall 1/3 at score 0.25; a broken mapping, letterbox or matching scores ~0
    assert result["map50"] == pytest.approx(0.675, abs=0.05)
    assert result["recall"] == pytest.approx(4 / 12, abs=0.09) and result["precision"] >= 0.6
    assert f"mAP@0.5 {result['map50']:.3f}" in text and "mixed_black_bag" in text


def test_cli_reports_bad_input(tmp_path: Path, models_dir: Path, capsys) -> None:
    code = main(["--model", "missing.onnx", "--data", str(tmp_path)])
    assert code == 2 and "looked in" in capsys.readouterr().err
    code = main(
        [
            "--model",
            "yolox_nano.onnx",
            "--models-dir",
            str(models_dir),
            "--data",
            str(tmp_path),
            "--map",
            "nonsense",
        ]
    )
    assert code == 2 and "expected 'dataset_class=" in capsys.readouterr().err


def test_map50_95_and_pr_curve_from_a_known_answer(tmp_path: Path) -> None:
    """Boxes 1 px off on 10-40 px objects: IoU 0.68-0.86, so AP is 1 up to IoU 0.65 and drops above; the PR
    curve is flat at precision 1 up to recall 1."""
    data = _tiny_dataset(tmp_path / "ds")
    result = evaluate(_LabelReader(data, 1.0), data, progress=False)
    assert result.map50 == pytest.approx(1.0)
    assert 0.2 < result.map50_95 < 0.9
    person = next(g for g in result.groups if g.name == "person")
    assert len(person.pr_curve) == 101 and person.pr_curve[0] == person.pr_curve[-1] == 1.0
    exact = evaluate(_LabelReader(data, 0.0), data, progress=False)
    assert exact.map50_95 == pytest.approx(1.0)


def test_agnostic_scores_every_class_as_one(tmp_path: Path) -> None:
    data = _tiny_dataset(tmp_path / "ds")
    result = evaluate(_LabelReader(data, 0.0), data, progress=False, agnostic=True)
    assert [g.name for g in result.groups] == ["object"] and result.groups[0].n_labels == 3
    assert result.groups[0].detector_classes == ["chair", "person"] and result.agnostic
    groups = make_groups(["bag", "box"], ["person", "umbrella", "chair"], {"bag": ["umbrella"]}, agnostic=True)
    assert len(groups) == 1 and groups[0].detector_names == ("chair", "umbrella")


def test_a_fine_tuned_models_goods_classes_from_its_card_are_scored(tmp_path: Path) -> None:
    """A dataset class with no detector class of its name is scored against the goods: COCO's and the classes
    the model's card gives the goods role (a fine-tuned `rubbish_bag: goods`; it used to score 0, no prediction
    counted, because rubbish_bag is no COCO class)."""
    data = _tiny_dataset(tmp_path / "ds")
    (data / "data.yaml").write_text("names: ['organic_bag', 'black_bag']\n")
    reader = _LabelReader(data, 0.0)
    reader.class_names = ["rubbish_bag", "sack"]
    assert evaluate(reader, data, progress=False, agnostic=True).map50 == 0.0  # no role: nothing is goods
    reader.calls = 0
    reader.class_roles = {"rubbish_bag": "goods", "sack": "goods"}
    result = evaluate(reader, data, progress=False, agnostic=True)
    assert result.groups[0].detector_classes == ["rubbish_bag", "sack"]
    assert result.map50 == pytest.approx(1.0) and result.recall == pytest.approx(1.0)


def test_doorline_models_eval_split_chart_json(data_dir: Path, models_dir: Path, tmp_path: Path, capsys) -> None:
    """The installed command on held-out drone tiles (no data.yaml there: --names), umbrella mapped to vendor."""
    from central.models_cli import main as doorline_models

    out, chart = tmp_path / "e.json", tmp_path / "pr.png"
    args = ["eval", "--model", "yolox_nano.onnx", "--models-dir", str(models_dir), "--data",
            str(data_dir / "drone-vendors" / "train"), "--names", "vendedor_ambulante", "--split", "val",
            "--map", "vendedor_ambulante=umbrella", "--limit", "6", "--json", str(out), "--chart", str(chart),
            "--no-progress"]
    assert doorline_models(args) == 0
    result = json.loads(out.read_text())
    assert result["split"] == "val" and result["n_images"] == 6
    assert result["groups"][0]["detector_classes"] == ["umbrella"]
    assert 0 <= result["map50_95"] <= result["map50"] <= 1
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and cv2.imread(str(chart)).shape[1] > 300
    assert "mAP@0.5:0.95" in capsys.readouterr().out
    no_names = [a for a in args if a not in ("--names", "vendedor_ambulante", "--map", "vendedor_ambulante=umbrella")]
    assert doorline_models(no_names) == 2  # no names and no data.yaml: a clear error
    assert "no data.yaml" in capsys.readouterr().err
