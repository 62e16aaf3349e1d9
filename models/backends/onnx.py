"""ONNX Runtime back-end: YOLOX raw heads and Ultralytics YOLOv8/YOLO11 exports."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Detector, ModelError
from models.detections import Detections
from models.families import FamilySpec, class_names_for, identify, make_spec
from models.model_card import ModelCard
from models.options import DetectorOptions
from models.preprocess import letterbox, nchw_blob

log = logging.getLogger(__name__)

PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
_DEVICE_PROVIDER = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}
DEFAULT_INPUT = 640
_INPUT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def trt_cache_dir() -> Path:
    """Where TensorRT keeps the engines it builds (minutes per model and GPU), so that a restart reuses them:
    $DOORLINE_TRT_CACHE, default ~/.cache/doorline/tensorrt."""
    return Path(os.environ.get("DOORLINE_TRT_CACHE") or Path.home() / ".cache" / "doorline" / "tensorrt")


def _gpu_options(provider: str, index: str) -> dict[str, Any]:
    opts: dict[str, Any] = {"device_id": int(index)} if index else {}
    if provider == "TensorrtExecutionProvider":
        opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(trt_cache_dir()),
                    trt_timing_cache_enable=True)
    return opts


def choose_providers(device: str, available: list[str]) -> list[str | tuple[str, dict[str, Any]]]:
    """Execution providers for `device` in preference order, restricted to what this machine has. "auto"
    takes TensorRT, then CUDA, when onnxruntime-gpu offers them (a GPU box), else the CPU; "tensorrt" falls
    back to CUDA for what TensorRT cannot run, and both to the CPU. TensorRT keeps its engines in
    `trt_cache_dir()`."""
    kind, _, index = device.lower().partition(":")
    if kind == "auto":
        chosen = [p for p in PROVIDER_ORDER if p in available] or ["CPUExecutionProvider"]
        return [(p, opts) if (opts := _gpu_options(p, index)) else p for p in chosen]
    provider = _DEVICE_PROVIDER.get(kind)
    if provider is None:
        raise ModelError(f"unknown device {device!r}: use auto, cpu, cuda[:N] or tensorrt[:N]")
    if provider not in available:
        raise ModelError(
            f"device {device!r} needs {provider}, which this onnxruntime lacks (available: {available}); "
            "use device 'auto' or 'cpu'"
        )
    if kind == "cpu":
        return [provider]
    chosen = [provider, *(["CUDAExecutionProvider"] if kind == "tensorrt" and "CUDAExecutionProvider" in available
                          else [])]
    return [(p, opts) if (opts := _gpu_options(p, index)) else p for p in chosen] + ["CPUExecutionProvider"]


def _static(dim: object) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


class OnnxDetector(Detector):
    type_key: ClassVar[str] = "onnx"
    suffixes: ClassVar[tuple[str, ...]] = (".onnx",)

    def __init__(
        self, session: Any, spec: FamilySpec, options: DetectorOptions, batched: bool, source: Path
    ) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name
        self._in_dtype = _INPUT_TYPES[session.get_inputs()[0].type]
        self.source = source
        self.spec = spec
        self.class_roles = spec.role_map
        self.options = options
        self.batched = batched
        self.class_names = [str(n) for n in spec.class_names]
        self.providers: list[str] = session.get_providers()

    @classmethod
    def from_file(cls, path: Path, options: DetectorOptions, card: ModelCard | None) -> OnnxDetector:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = options.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        providers = choose_providers(options.device, ort.get_available_providers())
        if any(isinstance(p, tuple) and p[0] == "TensorrtExecutionProvider" for p in providers):
            trt_cache_dir().mkdir(parents=True, exist_ok=True)
        try:
            session = ort.InferenceSession(str(path), so, providers=providers)
        except Exception as exc:  # onnxruntime raises several unrelated types for bad files
            raise ModelError(f"{path}: onnxruntime cannot load it as a model: {exc}") from exc

        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].type not in _INPUT_TYPES:
            desc = [(i.name, i.shape, i.type) for i in inputs]
            raise ModelError(f"{path}: expected one float NCHW image input, got {desc}")
        shape = inputs[0].shape
        if _static(shape[1]) not in (3, None):
            raise ModelError(f"{path}: input has {shape[1]} channels, expected 3 (NCHW)")
        meta = dict(session.get_modelmeta().custom_metadata_map)
        h, w = _static(shape[2]), _static(shape[3])
        if h is None or w is None:
            h, w = _imgsz_from_metadata(meta) or (DEFAULT_INPUT, DEFAULT_INPUT)
        batched = _static(shape[0]) is None

        # One warm-up run on a blank input: checks the real output shape now (never zeros at run time)
        # and takes the first-call allocation cost out of the first frame.
        try:
            blank = np.zeros((1, 3, h, w), _INPUT_TYPES[inputs[0].type])
            probe = session.run([outputs[0].name], {inputs[0].name: blank})[0]
        except Exception as exc:
            raise ModelError(f"{path}: a test inference at {w}x{h} failed: {exc}") from exc
        if probe.ndim != 3 or probe.shape[0] != 1:
            raise ModelError(f"{path}: output shape {probe.shape} is not [batch, a, b]")
        family, nc = identify(str(path), (w, h), probe.shape[1:], meta, card)
        names = class_names_for(str(path), nc, meta, card)
        spec = make_spec(family, (w, h), names, card)
        log.info(
            "loaded %s: %s %dx%d, %d classes, providers %s", path, family, w, h, nc, session.get_providers()
        )
        return cls(session, spec, options, batched, path)

    def __repr__(self) -> str:
        s = self.spec
        return (
            f"OnnxDetector({self.source.name}, {s.family} {s.width}x{s.height}, {self.providers[0]}, "
            f"{self.options.threads} threads{', batched' if self.batched else ''})"
        )

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        if not frames:
            return []
        spec, opt = self.spec, self.options
        boxed = [letterbox(f, spec.size, center=spec.center, pad_value=spec.pad_value) for f in frames]
        blob = nchw_blob([b[0] for b in boxed], rgb=spec.rgb, normalise=spec.normalise)
        if self._in_dtype != np.float32:
            blob = blob.astype(self._in_dtype)
        raws = self._infer(blob)
        return [
            spec.finish(spec.decode(raw.astype(np.float32, copy=False), opt.conf), box, opt.iou, opt.max_det)
            for raw, (_, box) in zip(raws, boxed, strict=True)
        ]

    def _infer(self, blob: np.ndarray) -> list[np.ndarray]:
        run = self._session.run
        if self.batched:
            step = self.options.max_batch
            outs = [
                run([self._output], {self._input: blob[i : i + step]})[0] for i in range(0, len(blob), step)
            ]
            return [o for out in outs for o in out]
        return [run([self._output], {self._input: blob[i : i + 1]})[0][0] for i in range(len(blob))]

    def run_raw(self, blob: np.ndarray) -> np.ndarray:
        """The bare session call (for benchmarks comparing against raw onnxruntime)."""
        return self._session.run([self._output], {self._input: blob})[0]


def _imgsz_from_metadata(meta: dict[str, str]) -> tuple[int, int] | None:
    raw = meta.get("imgsz")
    if raw is None:
        return None
    try:
        val = json.loads(raw)
    except ValueError:
        return None
    if isinstance(val, int):
        return val, val
    if isinstance(val, list) and len(val) == 2 and all(isinstance(v, int) for v in val):
        return val[0], val[1]  # Ultralytics stores (h, w)
    return None
