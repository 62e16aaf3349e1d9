"""Finding back-ends and model files, and refusing models nothing can decode — at load time."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from models.backends.onnx import choose_providers, trt_cache_dir
from models.base import ModelError
from models.families import class_names_for
from models.model_card import card_for, load_cards, sha256_of
from models.registry import backends, default_models_dirs, load_detector, resolve_model_path


def test_backends_are_discovered_from_the_package() -> None:
    found = backends()
    assert {"onnx", "tflite", "ultralytics"} <= set(found)
    assert found["onnx"].suffixes == (".onnx",) and found["tflite"].suffixes == (".tflite",)


def test_resolve_bare_name_absolute_and_relative(models_dir: Path, monkeypatch, tmp_path: Path) -> None:
    assert resolve_model_path("yolox_nano.onnx", models_dir) == (models_dir / "yolox_nano.onnx").resolve()
    assert resolve_model_path(models_dir / "yolox_nano.onnx").is_file()
    monkeypatch.chdir(models_dir.parent)
    assert resolve_model_path("models/yolox_nano.onnx").name == "yolox_nano.onnx"


def test_resolve_uses_env_models_dir(monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "mine.onnx").write_bytes(b"x")
    monkeypatch.setenv("DOORLINE_MODELS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert resolve_model_path("mine.onnx") == (tmp_path / "mine.onnx").resolve()
    assert default_models_dirs()[0] == tmp_path


def test_missing_model_lists_every_place_looked(monkeypatch, tmp_path: Path) -> None:
    env_dir = tmp_path / "env_models"
    monkeypatch.setenv("DOORLINE_MODELS_DIR", str(env_dir))
    with pytest.raises(ModelError) as err:
        load_detector("nope.onnx", models_dir=tmp_path / "given")
    text = str(err.value)
    for place in (tmp_path / "given" / "nope.onnx", env_dir / "nope.onnx", Path.cwd() / "nope.onnx"):
        assert str(place) in text
    assert "shared/models/nope.onnx" in text
    assert "DOORLINE_MODELS_DIR" in text and "--model" in text and "settings file" in text


def test_directory_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="a directory, not a model file"):
        resolve_model_path(tmp_path)


def test_missing_absolute_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="looked in"):
        resolve_model_path(tmp_path / "gone.onnx")
    with pytest.raises(ModelError, match="no model given"):
        resolve_model_path("  ")


@pytest.mark.parametrize(
    ("name", "content_key", "backend", "error"),
    [
        ("garbage.onnx", b"\x00not a model at all" * 10, None, "onnxruntime cannot load it"),
        ("empty.onnx", b"", None, "onnxruntime cannot load it"),
        ("identity.onnx", "identity_4d", None, r"output shape \(1, 3, 32, 32\) is not \[batch, a, b\]"),
        ("reshape.onnx", "reshape_3d", None, r"fits no known family"),
        ("garbage.tflite", b"TFL3 but not really" * 10, None, "ai-edge-litert cannot load it"),
        ("onnx_as.tflite", "identity_4d", None, "ai-edge-litert cannot load it"),
        ("model.bin", b"whatever", None, r"no back-end loads \.bin"),
        ("fine.onnx", "identity_4d", "openvino", "unknown back-end 'openvino'"),
    ],
)
def test_bad_models_fail_at_load(write_model, tiny_models, name, content_key, backend, error) -> None:
    content = tiny_models[content_key] if isinstance(content_key, str) else content_key
    path = write_model(name, content)
    with pytest.raises(ModelError, match=error):
        load_detector(path, backend=backend)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"conf": 1.5}, "conf must be within"), ({"iou": 0}, "iou must be within"), ({"threads": 0}, "threads")],
)
def test_bad_options(models_dir: Path, kwargs, error) -> None:
    with pytest.raises(ModelError, match=error):
        load_detector("yolox_nano.onnx", models_dir=models_dir, **kwargs)


TRT = {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(trt_cache_dir()),
       "trt_timing_cache_enable": True}


@pytest.mark.parametrize(
    ("device", "available", "expected", "error"),
    [
        ("auto", ["CPUExecutionProvider"], ["CPUExecutionProvider"], None),
        (
            "auto",
            ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"],
            [("TensorrtExecutionProvider", TRT), "CUDAExecutionProvider", "CPUExecutionProvider"],
            None,
        ),
        ("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"],
         None),
        (
            "tensorrt:0",
            ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"],
            [("TensorrtExecutionProvider", {"device_id": 0, **TRT}), ("CUDAExecutionProvider", {"device_id": 0}),
             "CPUExecutionProvider"],
            None,
        ),
        ("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"], None),
        (
            "cuda:1",
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
            [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"],
            None,
        ),
        ("cuda", ["CPUExecutionProvider"], None, "lacks"),
        ("npu", ["CPUExecutionProvider"], None, "unknown device"),
    ],
)
def test_choose_providers(device, available, expected, error) -> None:
    if error:
        with pytest.raises(ModelError, match=error):
            choose_providers(device, available)
    else:
        assert choose_providers(device, available) == expected


def test_yolov5_checkpoint_is_refused_with_the_reason(models_dir: Path) -> None:
    with pytest.raises(ModelError, match="no Doorline back-end loads this yolov5 file"):
        load_detector("yolov5n.pt", models_dir=models_dir)


def test_tflite_refuses_gpu_device(models_dir: Path) -> None:
    with pytest.raises(ModelError, match="CPU only"):
        load_detector("yolo11n_int8.tflite", models_dir=models_dir, device="cuda")


def test_class_names_need_metadata_or_card() -> None:
    assert class_names_for("m", 80, {}, None)[5] == "bus"
    assert class_names_for("m", 2, {"names": "{0: 'bag', 1: 'cart'}"}, None).tolist() == ["bag", "cart"]
    with pytest.raises(ModelError, match="no class names"):
        class_names_for("m", 7, {}, None)
    with pytest.raises(ModelError, match="2 class names but the output has 3"):
        class_names_for("m", 3, {"names": "{0: 'bag', 1: 'cart'}"}, None)


def test_cards_describe_the_shared_weights(models_dir: Path) -> None:
    cards = load_cards()
    assert set(cards) == {"yolox_nano.onnx", "yolov8n_int8.onnx", "yolo11n_int8.tflite", "yolov5n.pt"}
    for name, card in cards.items():
        path = models_dir / name
        assert sha256_of(path) == card.sha256, name
        assert path.stat().st_size == card.size_bytes
        assert card_for(path) == card
    assert cards["yolox_nano.onnx"].input.color == "bgr" and not cards["yolox_nano.onnx"].input.normalise
    assert cards["yolov8n_int8.onnx"].input.letterbox == "center"


def test_card_sha_mismatch_policy(write_model, tiny_models, caplog) -> None:
    # a different file under a known name: the card is ignored with a warning, the file decoded on its own
    impostor = write_model("yolox_nano.onnx", tiny_models["reshape_3d"])
    with caplog.at_level(logging.WARNING):
        assert card_for(impostor) is None
    assert "differs from the model card" in caplog.text
    with pytest.raises(ModelError, match="fits no known family"):
        load_detector(impostor)
    # a pickle that is not the known checkpoint is never handed to an unpickler
    pickle = write_model("yolov5n.pt", b"\x80\x04not the real checkpoint")
    with pytest.raises(ModelError, match="refusing to load a pickled checkpoint"):
        card_for(pickle)


def test_loaded_detector_exposes_names(detectors) -> None:
    for det in detectors.values():
        assert len(det.class_names) == 80 and det.class_names[0] == "person"
        assert isinstance(det.class_names[0], str)
    assert {d.type_key for d in detectors.values()} == {"onnx", "tflite"}
