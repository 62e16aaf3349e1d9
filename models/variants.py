"""fp16 and int8 variants of a registered fp32 ONNX detector, each registered with its own card.

- fp16: weights and arithmetic in float16 (onnxruntime.transformers.float16), inputs and outputs kept
  float32 so the edge feeds it exactly like the fp32 model (the card's input is unchanged).
- int8: onnxruntime static quantisation (QDQ, per-channel int8 weights, uint8 activations) calibrated on real
  images run through the model's own letterbox; only convolutions are quantised, and the detection head's
  box decoding (the last module: DFL, anchors, concatenation) stays float, where int8 ruins box coordinates.

Needs the `onnx` package (the [train] extra) besides onnxruntime."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from models.base import ModelError
from models.evaluate import IMAGE_SUFFIXES
from models.model_card import load_card, sidecar_path
from models.preprocess import letterbox, nchw_blob
from models.registry import load_detector, resolve_model_path

KINDS = ("fp16", "int8")


def _onnx() -> Any:
    try:
        import onnx  # type: ignore[import-not-found]
    except ImportError:
        raise ModelError("fp16/int8 variants need the onnx package ([train] extra)") from None
    return onnx


def to_fp16(src: Path, dst: Path) -> Path:
    onnx = _onnx()
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    half = convert_float_to_float16(model, keep_io_types=True)
    onnx.save(half, str(dst))
    return dst


def calibration_images(folder: Path, limit: int) -> list[Path]:
    folder = Path(folder)
    images = folder / "images" if (folder / "images").is_dir() else folder
    found = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise ModelError(f"{folder}: no calibration images")
    step = max(len(found) // limit, 1)  # spread over the folder, deterministic
    return found[::step][:limit]


class _Calibration:
    """onnxruntime's CalibrationDataReader protocol: one preprocessed frame per call."""

    def __init__(self, model: Path, images: list[Path], input_name: str) -> None:
        import cv2

        spec = load_detector(model).spec
        self._input = input_name
        self._blobs: Iterator[np.ndarray] = (
            nchw_blob([letterbox(cv2.imread(str(p)), spec.size, center=spec.center, pad_value=spec.pad_value)[0]],
                      rgb=spec.rgb, normalise=spec.normalise)
            for p in images
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        blob = next(self._blobs, None)
        return None if blob is None else {self._input: blob}


def head_nodes(model_path: Path) -> list[str]:
    """Nodes of the last `/model.N/` module (the Detect head of an ultralytics export)."""
    onnx = _onnx()
    graph = onnx.load(str(model_path)).graph
    index = [int(m.group(1)) for n in graph.node if (m := re.match(r"/model\.(\d+)/", n.name))]
    if not index:
        return []
    last = f"/model.{max(index)}/"
    return [n.name for n in graph.node if n.name.startswith(last)]


def to_int8(src: Path, dst: Path, calibration: Path, n_images: int = 64) -> Path:
    _onnx()
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    input_name = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    reader = _Calibration(src, calibration_images(calibration, n_images), input_name)
    quantize_static(
        str(src), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
        nodes_to_exclude=head_nodes(src), calibrate_method=CalibrationMethod.MinMax,
    )
    return dst


def export_variants(
    model: Path | str, calibration: Path, *, kinds: tuple[str, ...] = KINDS, n_images: int = 64,
    data: Path | None = None, agnostic: bool = False, models_dir: Path | None = None,
) -> dict[str, Path]:
    """`<stem>-fp16.onnx` / `<stem>-int8.onnx` beside a registered fp32 model, each with a card carrying the
    fp32 card's roles, licence and training, plus its own evaluation on `data` (if given). Returns the cards."""
    from models.training import register

    src = resolve_model_path(model, models_dir)
    card_path = sidecar_path(src)
    base = load_card(card_path) if card_path.is_file() else None
    cards: dict[str, Path] = {}
    for kind in kinds:
        if kind not in KINDS:
            raise ModelError(f"unknown variant {kind!r} (expected one of {KINDS})")
        dst = src.with_name(f"{src.stem}-{kind}.onnx")
        print(f"{kind}: {dst}", file=sys.stderr)
        if kind == "fp16":
            to_fp16(src, dst)
        else:
            to_int8(src, dst, calibration, n_images)
        training = dict(base.training or {}) if base else {}
        int8 = kind == "int8"
        training["variant"] = {"of": src.name, "kind": kind, "calibration": str(calibration) if int8 else None,
                               "calibration_images": n_images if int8 else None}
        cards[kind] = register(
            dst, out=src.parent, name=dst.stem, data=data, eval_split="all", agnostic=agnostic,
            roles=dict(base.roles) if base else None, licence=base.licence if base else "AGPL-3.0",
            source=f"{kind} variant of {src.name} (models.variants)", training=training,
        )
    return cards
