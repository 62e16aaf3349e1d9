"""TFLite back-end (ai-edge-litert): Ultralytics YOLOv8/YOLO11 exports, float or full-integer quantised."""

from __future__ import annotations

import ast
import logging
import threading
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from models.base import Detector, ModelError
from models.detections import Detections
from models.families import FamilySpec, class_names_for, identify, make_spec
from models.model_card import ModelCard
from models.options import DetectorOptions
from models.postprocess import Candidates, decode_ultralytics
from models.preprocess import letterbox, quantise, quantise_lut

log = logging.getLogger(__name__)


def _metadata(path: Path) -> dict[str, str]:
    """Ultralytics appends a zip holding a Python dict literal (names, imgsz, ...) to its TFLite files."""
    try:
        if not zipfile.is_zipfile(path):
            return {}
        with zipfile.ZipFile(path) as z:
            text = z.read(z.namelist()[0]).decode("utf-8", "replace")
        meta = ast.literal_eval(text)
    except (OSError, zipfile.BadZipFile, ValueError, SyntaxError, IndexError):
        return {}
    if not isinstance(meta, dict):
        return {}
    return {str(k): v if isinstance(v, str) else repr(v) for k, v in meta.items()}


class TfliteDetector(Detector):
    type_key: ClassVar[str] = "tflite"
    suffixes: ClassVar[tuple[str, ...]] = (".tflite",)

    def __init__(self, interpreter: Any, spec: FamilySpec, options: DetectorOptions, source: Path) -> None:
        self._it = interpreter
        self.source = source
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self._in_dtype = np.dtype(inp["dtype"])
        in_scale, in_zp = inp["quantization"]
        self._lut: np.ndarray | None = None
        if self._in_dtype in (np.int8, np.uint8):
            if in_scale == 0:
                raise ModelError("quantised TFLite input without scale/zero point")
            self._lut = quantise_lut(in_scale, in_zp, self._in_dtype, normalise=spec.normalise)
        self._out_scale, self._out_zp = out["quantization"]
        self._out_quantised = np.dtype(out["dtype"]) in (np.int8, np.uint8) and self._out_scale != 0
        self.spec = spec
        self.class_roles = spec.role_map
        self.options = options
        self.class_names = [str(n) for n in spec.class_names]
        self._lock = threading.Lock()  # a TFLite interpreter must not be invoked from two threads at once

    @classmethod
    def from_file(cls, path: Path, options: DetectorOptions, card: ModelCard | None) -> TfliteDetector:
        if options.device.lower() not in ("auto", "cpu"):
            raise ModelError(f"the tflite back-end runs on the CPU only, not device {options.device!r}")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError("the tflite back-end needs ai-edge-litert: install the [tflite] extra") from exc
        try:
            it = Interpreter(model_path=str(path), num_threads=options.threads)
            it.allocate_tensors()
        except Exception as exc:  # litert raises ValueError/RuntimeError for unreadable files
            raise ModelError(f"{path}: ai-edge-litert cannot load it as a model: {exc}") from exc
        inputs, outputs = it.get_input_details(), it.get_output_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][3] != 3:
            raise ModelError(f"{path}: expected one NHWC image input, got {[i['shape'] for i in inputs]}")
        if len(outputs) != 1 or len(outputs[0]["shape"]) != 3:
            raise ModelError(f"{path}: expected one [1, 4+nc, n] output, got {[o['shape'] for o in outputs]}")
        _, h, w, _ = (int(v) for v in inputs[0]["shape"])
        meta = _metadata(path)
        family, nc = identify(str(path), (w, h), tuple(int(v) for v in outputs[0]["shape"][1:]), meta, card)
        if family != "ultralytics":
            raise ModelError(f"{path}: the tflite back-end decodes Ultralytics heads only, found {family}")
        names = class_names_for(str(path), nc, meta, card)
        # Ultralytics TFLite exports emit xywh normalised to 0..1.
        spec = make_spec(family, (w, h), names, card, box_scale=float(w))
        det = cls(it, spec, options, path)
        det.detect([np.zeros((h, w, 3), np.uint8)])  # warm-up; fails here, not at run time
        return det

    def __repr__(self) -> str:
        s = self.spec
        kind = "int8" if self._lut is not None else "float"
        return (
            f"TfliteDetector({self.source.name}, {s.family} {s.width}x{s.height} {kind}, CPU, "
            f"{self.options.threads} threads)"
        )

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        results = []
        spec, opt = self.spec, self.options
        for frame in frames:
            img, box = letterbox(frame, spec.size, center=spec.center, pad_value=spec.pad_value)
            if spec.rgb:
                img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            if self._lut is not None:
                tensor = quantise(img, self._lut)
            else:
                tensor = img.astype(np.float32) * (1 / 255 if spec.normalise else 1.0)
            with self._lock:
                self._it.set_tensor(self._in_index, tensor[None])
                self._it.invoke()
                raw = self._it.get_tensor(self._out_index)[0].copy()
            results.append(spec.finish(self._decode(raw), box, opt.iou, opt.max_det))
        return results

    def _decode(self, raw: np.ndarray) -> Candidates:
        conf = self.options.conf
        if not self._out_quantised:
            return decode_ultralytics(raw.astype(np.float32, copy=False), conf, self.spec.box_scale)
        # Dequantisation is monotonic (scale > 0): pick columns on the integers, dequantise only those.
        q_conf = np.floor(conf / self._out_scale + self._out_zp)
        cols = np.flatnonzero(raw[4:].max(axis=0) >= q_conf)
        sub = (raw[:, cols].astype(np.float32) - self._out_zp) * self._out_scale
        return decode_ultralytics(sub, conf, self.spec.box_scale)
