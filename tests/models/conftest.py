"""Fixtures for the detector tests: loaded detectors (once per session), bus.jpg, a tiny foreign ONNX."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.base import Detector
from models.registry import load_detector

MODELS = {
    "yolox_nano": "yolox_nano.onnx",
    "yolov8n_int8": "yolov8n_int8.onnx",
    "yolo11n_int8": "yolo11n_int8.tflite",
}


@pytest.fixture(scope="session")
def bus_image(data_dir: Path) -> np.ndarray:
    img = cv2.imread(str(data_dir / "street" / "bus.jpg"))
    assert img is not None, "bus.jpg unreadable"
    return img


@pytest.fixture(scope="session")
def detectors(models_dir: Path) -> dict[str, Detector]:
    return {key: load_detector(name, models_dir=models_dir) for key, name in MODELS.items()}


# --- a minimal ONNX file written with a hand-rolled protobuf encoder (the onnx package is not a dependency)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint((num << 3) | 2) + _varint(len(data)) + data


FLOAT, FLOAT16 = 1, 10  # onnx TensorProto element types


def _value_info(name: str, shape: tuple[int | str, ...], elem_type: int = FLOAT) -> bytes:
    # Dimension: dim_value (1) for a number, dim_param (2) for a named (dynamic) dimension
    dims = b"".join(_field(1, _field(1, d) if isinstance(d, int) else _field(2, d)) for d in shape)
    tensor_type = _field(1, elem_type) + _field(2, dims)
    return _field(1, name) + _field(2, _field(1, tensor_type))


def _int64_tensor(name: str, values: list[int]) -> bytes:
    raw = np.array(values, dtype="<i8").tobytes()
    return _field(1, len(values)) + _field(2, 7) + _field(8, name) + _field(9, raw)


def _node(op: str, inputs: list[str], output: str) -> bytes:
    return b"".join(_field(1, i) for i in inputs) + _field(2, output) + _field(4, op)


def onnx_model(
    in_shape: tuple[int | str, ...],
    out_shape: tuple[int | str, ...],
    nodes: list[bytes],
    constants: dict[str, list[int]],
    elem_type: int = FLOAT,
) -> bytes:
    """ModelProto (opset 13): input "images", output "out", int64 constants as initializers."""
    graph = (
        b"".join(_field(1, n) for n in nodes)
        + _field(2, "g")
        + b"".join(_field(5, _int64_tensor(k, v)) for k, v in constants.items())
        + _field(11, _value_info("images", in_shape, elem_type))
        + _field(12, _value_info("out", out_shape, elem_type))
    )
    opset = _field(1, "") + _field(2, 13)
    return _field(1, 8) + _field(7, graph) + _field(8, opset)


def identity_onnx(shape: tuple[int, ...]) -> bytes:
    return onnx_model(shape, shape, [_node("Identity", ["images"], "out")], {})


def reshape_onnx(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> bytes:
    return onnx_model(
        shape, out_shape, [_node("Reshape", ["images", "shape"], "out")], {"shape": list(out_shape)}
    )


def fake_yolox_onnx(size: int = 32, nc: int = 80, elem_type: int = FLOAT) -> bytes:
    """A YOLOX-shaped head with a dynamic batch: the output is the input's first values reshaped to
    [batch, anchors, 5 + nc] — meaningless boxes, but a deterministic function of each frame."""
    anchors = sum((size // s) ** 2 for s in (8, 16, 32))
    need = anchors * (5 + nc)
    assert need <= 3 * size * size, "input too small for the head"
    nodes = [
        _node("Reshape", ["images", "flat_shape"], "flat"),
        _node("Slice", ["flat", "starts", "ends", "axes"], "head"),
        _node("Reshape", ["head", "out_shape"], "out"),
    ]
    constants = {
        "flat_shape": [0, -1],
        "starts": [0],
        "ends": [need],
        "axes": [1],
        "out_shape": [0, anchors, 5 + nc],
    }
    return onnx_model(("batch", 3, size, size), ("batch", anchors, 5 + nc), nodes, constants, elem_type)


@pytest.fixture
def write_model(tmp_path: Path) -> Callable[[str, bytes], Path]:
    def write(name: str, content: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return write


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, bytes]:
    """Small ONNX files no decoder should accept (and one fake YOLOX head with a dynamic batch)."""
    return {
        "identity_4d": identity_onnx((1, 3, 32, 32)),
        "reshape_3d": reshape_onnx((1, 3, 32, 32), (1, 3, 1024)),
        "fake_yolox": fake_yolox_onnx(32),
        "fake_yolox_fp16": fake_yolox_onnx(32, elem_type=FLOAT16),
    }
