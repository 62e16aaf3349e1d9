"""Detector throughput: ms/frame per back-end and model, split into preprocessing, model-only inference
and decoding, on ../shared/data/street/bus.jpg and on frames of ../shared/data/pets2009/vtest.avi.

    .venv/bin/python scripts/bench/detectors.py [--frames 30] [--reps 15] [--threads 2] [--out PATH]

Prints a table and writes var/bench/detectors.json. "model" is the bare runtime call on a ready input
tensor; "v.rawort" is a separate default onnxruntime session on the same file and frames, to compare
with "v.detect" (Detector.detect end to end, preprocessing and decoding included)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from models.backends.onnx import OnnxDetector
from models.backends.tflite import TfliteDetector
from models.base import Detector
from models.preprocess import letterbox, nchw_blob, quantise
from models.registry import load_detector

REPO = Path(__file__).resolve().parents[2]

DEFAULT_MODELS = ["yolox_nano.onnx", "yolov8n_int8.onnx", "yolo11n_int8.tflite"]


def _ms(fn: Callable[[], object], reps: int) -> float:
    """Median ms of `reps` calls (median: the machine is shared, outliers are other processes)."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _stages(det: Detector, frame: np.ndarray, reps: int) -> dict[str, float]:
    spec = det.spec  # type: ignore[attr-defined]
    img, box = letterbox(frame, spec.size, center=spec.center, pad_value=spec.pad_value)
    out: dict[str, float] = {}
    if isinstance(det, OnnxDetector):
        out["pre"] = _ms(
            lambda: nchw_blob(
                [letterbox(frame, spec.size, center=spec.center)[0]], rgb=spec.rgb, normalise=spec.normalise
            ),
            reps,
        )
        blob = nchw_blob([img], rgb=spec.rgb, normalise=spec.normalise)
        out["model"] = _ms(lambda: det.run_raw(blob), reps)
        raw = det.run_raw(blob)[0]
        out["post"] = _ms(
            lambda: spec.finish(spec.decode(raw, det.options.conf), box, det.options.iou, 300), reps
        )
    elif isinstance(det, TfliteDetector):
        it = det._it
        lut = det._lut

        def pre() -> np.ndarray:
            im = cv2.cvtColor(letterbox(frame, spec.size, center=spec.center)[0], cv2.COLOR_BGR2RGB)
            return quantise(im, lut) if lut is not None else im.astype(np.float32) / 255

        out["pre"] = _ms(pre, reps)
        it.set_tensor(det._in_index, pre()[None])
        out["model"] = _ms(it.invoke, reps)
        raw = it.get_tensor(det._out_index)[0]
        out["post"] = _ms(lambda: spec.finish(det._decode(raw), box, det.options.iou, 300), reps)
    return out


def _plain_ort(det: Detector, threads: int) -> Callable[[np.ndarray], float] | None:
    """For ONNX models: a default onnxruntime session on the same file, timed on a ready tensor (the
    'raw onnxruntime' reference Detector.detect is compared against)."""
    if not isinstance(det, OnnxDetector):
        return None
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(det.source), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    spec = det.spec

    def run(frame: np.ndarray) -> float:
        img = letterbox(frame, spec.size, center=spec.center)[0]
        blob = nchw_blob([img], rgb=spec.rgb, normalise=spec.normalise)
        t = time.perf_counter()
        sess.run(None, {name: blob})
        return (time.perf_counter() - t) * 1000

    return run


def _video_frames(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    for _ in tqdm(range(n), desc=f"read {path.name}", unit="frame", leave=False):
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise SystemExit(f"cannot read frames from {path}")
    return frames


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    ap.add_argument("--models-dir", type=Path, default=None)
    ap.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--frames", type=int, default=30, help="video frames per model")
    ap.add_argument("--reps", type=int, default=15, help="repetitions per bus.jpg measurement")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "detectors.json")
    args = ap.parse_args(argv)

    bus = cv2.imread(str(args.data_dir / "street" / "bus.jpg"))
    if bus is None:
        raise SystemExit(f"cannot read {args.data_dir / 'street' / 'bus.jpg'}")
    video = _video_frames(args.data_dir / "pets2009" / "vtest.avi", args.frames)

    rows = []
    for name in args.models:
        t = time.perf_counter()
        det = load_detector(name, models_dir=args.models_dir, threads=args.threads)
        load_ms = (time.perf_counter() - t) * 1000
        det.detect([bus])  # warm-up
        row: dict[str, object] = {"model": name, "backend": det.type_key, "load_ms": round(load_ms, 1)}
        row.update({f"bus_{k}_ms": round(v, 2) for k, v in _stages(det, bus, args.reps).items()})
        row["bus_detect_ms"] = round(_ms(lambda d=det: d.detect([bus]), args.reps), 2)
        plain = _plain_ort(det, args.threads)
        per_frame, plain_ms = [], []
        n_boxes = 0
        if plain is not None:
            # A separate pass: two sessions interleaved frame by frame would slow each other down, as
            # onnxruntime's worker threads keep spinning for a while after each run.
            plain_ms = [plain(frame) for frame in video]
        for frame in tqdm(video, desc=name, unit="frame", leave=False):
            t = time.perf_counter()
            n_boxes += len(det.detect([frame])[0])
            per_frame.append((time.perf_counter() - t) * 1000)
        row["video_detect_ms"] = round(statistics.median(per_frame), 2)
        row["video_plain_ort_ms"] = round(statistics.median(plain_ms), 2) if plain_ms else None
        row["video_p90_ms"] = round(float(np.percentile(per_frame, 90)), 2)
        row["video_boxes_per_frame"] = round(n_boxes / len(video), 2)
        batch = video[:4]
        row["video_batch4_ms_per_frame"] = round(_ms(lambda d=det, b=batch: d.detect(b), 5) / len(batch), 2)
        row["video_model_ms"] = round(_stages(det, video[0], args.reps)["model"], 2)
        rows.append(row)

    cols = [
        ("model", 20),
        ("backend", 7),
        ("bus_pre_ms", 7),
        ("bus_model_ms", 8),
        ("bus_post_ms", 7),
        ("bus_detect_ms", 8),
        ("video_model_ms", 8),
        ("video_plain_ort_ms", 8),
        ("video_detect_ms", 8),
        ("video_batch4_ms_per_frame", 8),
    ]
    heads = [
        "model",
        "backend",
        "pre",
        "model",
        "post",
        "detect",
        "v.model",
        "v.rawort",
        "v.detect",
        "v.batch4",
    ]
    print(f"ms/frame (median), {args.threads} threads, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(" ".join(f"{h:>{w}}" for h, (_, w) in zip(heads, cols, strict=True)))
    for row in rows:
        print(" ".join(f"{row[c]!s:>{w}}" for c, w in cols))

    import onnxruntime

    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
            "opencv": cv2.__version__,
            "loadavg_1min": os.getloadavg()[0],
        },
        "threads": args.threads,
        "video": {"file": "pets2009/vtest.avi", "frames": len(video), "size": list(video[0].shape[1::-1])},
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
