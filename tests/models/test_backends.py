"""Real weights on a real photo: every back-end finds the bus and the people, in frame pixels; one ONNX
model gives the same boxes on two onnxruntime configurations; the three model families agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from models.base import Detector, ModelError
from models.detections import Detections
from models.evaluate import box_iou
from models.registry import load_detector

# bus.jpg (810x1080): the bus spans the width between y≈230 and y≈740; four pedestrians stand in front.
BUS_REGION = np.array([0, 200, 810, 800], np.float32)


def _of(det: Detections, name: str) -> Detections:
    return det[det.data["class_name"] == name]


@pytest.mark.parametrize("key", ["yolox_nano", "yolov8n_int8", "yolo11n_int8"])
def test_finds_bus_and_people_in_frame_pixels(detectors: dict[str, Detector], bus_image, key) -> None:
    det = detectors[key].detect([bus_image])[0]
    h, w = bus_image.shape[:2]
    assert det.xyxy.dtype == np.float32 and det.class_id.dtype == np.int32
    assert (det.xyxy[:, [0, 2]] >= 0).all() and (det.xyxy[:, [0, 2]] <= w).all()
    assert (det.xyxy[:, [1, 3]] >= 0).all() and (det.xyxy[:, [1, 3]] <= h).all()
    assert (det.confidence >= 0.25).all()
    bus, people = _of(det, "bus"), _of(det, "person")
    assert len(bus) == 1, det.data["class_name"]
    assert box_iou(bus.xyxy, BUS_REGION[None])[0, 0] > 0.75
    assert bus.xyxy[0, 2] - bus.xyxy[0, 0] > 0.9 * w  # original pixels, not 416/640 input pixels
    assert len(people) >= 3
    # the people stand on the pavement in the lower half of the photo, each taller than wide
    assert (people.xyxy[:, 3] > 800).sum() >= 3
    assert ((people.xyxy[:, 3] - people.xyxy[:, 1]) > (people.xyxy[:, 2] - people.xyxy[:, 0])).all()
    assert set(det.data["class_name"]) <= set(detectors[key].class_names)


@pytest.mark.parametrize("key", ["yolox_nano", "yolov8n_int8"])
def test_one_onnx_model_gives_the_same_boxes_on_two_onnxruntime_configurations(
    detectors: dict[str, Detector], bus_image, key
) -> None:
    """The same ONNX file through the detector's session (all graph optimisations: fused kernels, sequential)
    and through a second session with no graph optimisation in parallel execution mode: box for box the
    same. (The ultralytics back-end, the other runtime for these files, is an optional extra not installed
    here; test_ultralytics_backend_matches_onnx runs where it is. No ONNX-to-TFLite converter is installed.)"""
    import onnxruntime as ort

    from models.backends.onnx import OnnxDetector

    det = detectors[key]
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    plain = ort.InferenceSession(str(det.source), so, providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    other = OnnxDetector(plain, det.spec, det.options, det.batched, det.source)  # type: ignore[attr-defined]
    a, b = det.detect([bus_image])[0], other.detect([bus_image])[0]
    assert len(a) >= 4 and len(a) == len(b)  # the bus and the people, every one of them in both
    np.testing.assert_array_equal(a.class_id, b.class_id)
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.05)  # pixels
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)


@pytest.mark.parametrize(
    ("a", "b"),
    [("yolox_nano", "yolov8n_int8"), ("yolov8n_int8", "yolo11n_int8"), ("yolox_nano", "yolo11n_int8")],
)
def test_models_of_three_families_find_the_same_bus_and_people(detectors: dict[str, Detector], bus_image, a, b) -> None:
    """Different models (and decoders: yolox, ultralytics ONNX, ultralytics TFLite int8) agree on the clear
    objects of the photo: a decoder that mis-scales or shifts boxes fails here."""
    da, db = (detectors[k].detect([bus_image])[0] for k in (a, b))
    for name, need in (("bus", 1), ("person", 3)):
        pa, pb = _of(da, name), _of(db, name)
        pa, pb = pa[pa.confidence >= 0.5], pb[pb.confidence >= 0.5]
        iou = box_iou(pa.xyxy, pb.xyxy)
        matched = int((iou.max(axis=1) >= 0.6).sum()) if iou.size else 0
        assert matched >= need, f"{name}: {matched} of {len(pa)} {a} boxes match {b} (IoU>=0.6)\n{iou}"


@pytest.mark.parametrize("key", ["yolox_nano", "yolo11n_int8"])
def test_batch_equals_single_calls(detectors: dict[str, Detector], bus_image, key) -> None:
    other = np.ascontiguousarray(bus_image[100:700, :, :])  # a different size: its own letterbox
    det = detectors[key]
    batch = det.detect([bus_image, other])
    singles = [det.detect([bus_image])[0], det.detect([other])[0]]
    assert len(batch) == 2
    for got, want in zip(batch, singles, strict=True):
        np.testing.assert_allclose(got.xyxy, want.xyxy, atol=1e-3)
        np.testing.assert_array_equal(got.class_id, want.class_id)
    assert det.detect([]) == []


@pytest.mark.parametrize("key", ["fake_yolox", "fake_yolox_fp16"])
def test_dynamic_batch_runs_one_call(write_model, tiny_models, key) -> None:
    path = write_model(f"{key}.onnx", tiny_models[key])
    det = load_detector(path, conf=0.5)
    assert det.batched  # type: ignore[attr-defined]
    assert "yolox 32x32" in repr(det) and "batched" in repr(det)
    rng = np.random.default_rng(1)
    # frames of exactly the input size (no resize, no pad) holding 0/1 values: finite fake boxes
    frames = [rng.integers(0, 2, (32, 32, 3), dtype=np.uint8) for _ in range(3)]
    calls: list[int] = []
    real = det._session  # type: ignore[attr-defined]
    det._session = _CountingSession(real, calls)  # type: ignore[attr-defined]
    batch = det.detect(frames)
    assert calls == [3]  # one session call for three frames
    det._session = real  # type: ignore[attr-defined]
    for frame, got in zip(frames, batch, strict=True):
        want = det.detect([frame])[0]
        assert len(want) > 0
        np.testing.assert_allclose(got.xyxy, want.xyxy)


class _CountingSession:
    """Wraps a real onnxruntime session, recording the batch size of each call."""

    def __init__(self, session, calls: list[int]) -> None:
        self._s, self._calls = session, calls

    def run(self, names, feeds):
        self._calls.append(len(next(iter(feeds.values()))))
        return self._s.run(names, feeds)


def test_onnx_uses_two_threads_and_cpu_here(detectors: dict[str, Detector]) -> None:
    det = detectors["yolox_nano"]
    assert det.providers[-1] == "CPUExecutionProvider"  # type: ignore[attr-defined]
    assert det.options.threads == 2  # type: ignore[attr-defined]


@pytest.mark.skipif(
    importlib.util.find_spec("ultralytics") is None,
    reason="ultralytics is an optional extra ([train]) and is not installed",
)
def test_ultralytics_backend_matches_onnx(models_dir: Path, detectors, bus_image) -> None:
    ul = load_detector("yolov8n_int8.onnx", models_dir=models_dir, backend="ultralytics")
    got = ul.detect([bus_image])[0]
    want = detectors["yolov8n_int8"].detect([bus_image])[0]
    assert len(_of(got, "bus")) == 1 and len(_of(got, "person")) >= 3
    assert box_iou(_of(got, "bus").xyxy, _of(want, "bus").xyxy)[0, 0] > 0.8


@pytest.mark.skipif(importlib.util.find_spec("ultralytics") is not None, reason="ultralytics is installed")
def test_ultralytics_backend_without_package_says_what_to_install(models_dir: Path) -> None:
    with pytest.raises(ModelError, match=r"\[train\] extra"):
        load_detector("yolov8n_int8.onnx", models_dir=models_dir, backend="ultralytics")


def test_people_on_real_footage(detectors: dict[str, Detector], data_dir: Path) -> None:
    """PETS2009 (768x576): at least three pedestrians in the first frames; boxes inside the frame."""
    import cv2

    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    frames = [cap.read()[1] for _ in range(3)]
    cap.release()
    assert all(f is not None and f.shape == (576, 768, 3) for f in frames)
    for key in ("yolox_nano", "yolo11n_int8"):
        for det in detectors[key].detect(frames):
            people = _of(det, "person")
            assert len(people) >= 3, (key, len(people))
            assert people.xyxy[:, 2].max() <= 768 and people.xyxy[:, 3].max() <= 576


def test_repr_names_model_and_runtime(detectors: dict[str, Detector]) -> None:
    assert repr(detectors["yolox_nano"]).startswith("OnnxDetector(yolox_nano.onnx, yolox 416x416, ")
    assert "2 threads" in repr(detectors["yolox_nano"])
    assert repr(detectors["yolo11n_int8"]).startswith(
        "TfliteDetector(yolo11n_int8.tflite, ultralytics 640x640 int8"
    )
