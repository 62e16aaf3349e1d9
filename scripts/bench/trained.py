"""Fine-tuned models side by side: fp32, fp16 and int8 ONNX of each (doorline-models train + variants), their
accuracy on the held-out set and their speed (BENCHMARKS.md, "Fine-tuned models").

    .venv/bin/python scripts/bench/trained.py [--models-dir var/models] [--reps 30] [--threads 2]
        [--out var/bench/trained.json]

Accuracy: `models.evaluate` at score 0.01 on drone-vendors' held-out tiles (by-tile split, the training's
val side) and on sidewalk-bags/valid class-agnostic. Speed: median ms of the bare onnxruntime call on a ready
input ("model") and of Detector.detect on one real frame, preprocessing and decoding included ("detect")."""

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

from models.base import ModelError
from models.evaluate import evaluate, find_dataset
from models.preprocess import letterbox, nchw_blob
from models.registry import load_detector
from models.splits import select_split

REPO = Path(__file__).resolve().parents[2]
SETS = {
    # model stem: (data folder, split, agnostic, names)
    "drone-vendors-v1": ("drone-vendors/train", "val", False, ["vendedor_ambulante"]),
    "sidewalk-bags-v1": ("sidewalk-bags/valid", "all", True, None),
}
KINDS = ("", "-fp16", "-int8")


def _ms(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(path: Path, data: Path, split: str, agnostic: bool, names: list[str] | None, reps: int,
            threads: int) -> dict:
    detector = load_detector(path, conf=0.01, threads=threads)
    ds = find_dataset(data, names)
    images = select_split(ds.images, split)
    result = evaluate(detector, data, images=images, names=names, agnostic=agnostic, progress=False)
    frame = cv2.imread(str(images[0]))
    spec = detector.spec  # type: ignore[attr-defined]
    blob = nchw_blob([letterbox(frame, spec.size, center=spec.center, pad_value=spec.pad_value)[0]],
                     rgb=spec.rgb, normalise=spec.normalise)
    detector.detect([frame])  # warm-up
    return {
        "model": path.name, "size_mb": round(path.stat().st_size / 1e6, 2), "input": spec.width,
        "images": result.n_images, "labels": result.n_labels, "map50": round(result.map50, 4),
        "map50_95": round(result.map50_95, 4), "precision": round(result.precision, 4),
        "recall": round(result.recall, 4), "operating_score": result.pr_conf,
        "model_ms": round(_ms(lambda: detector.run_raw(blob), reps), 2),  # type: ignore[attr-defined]
        "detect_ms": round(_ms(lambda: detector.detect([frame]), reps), 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", type=Path, default=REPO / "var" / "models")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "trained.json")
    args = ap.parse_args(argv)
    rows = []
    for stem, (folder, split, agnostic, names) in SETS.items():
        for kind in KINDS:
            path = args.models_dir / f"{stem}{kind}.onnx"
            if not path.is_file():
                print(f"{path}: missing, skipped", file=sys.stderr)
                continue
            try:
                row = measure(path, args.data / folder, split, agnostic, names, args.reps, args.threads)
            except ModelError as exc:
                print(f"{path}: {exc}", file=sys.stderr)
                continue
            row["set"] = f"{folder} ({split}{', agnostic' if agnostic else ''})"
            rows.append(row)
            print(f"{row['model']:<28} {row['size_mb']:>6.2f} MB  mAP@0.5 {row['map50']:.3f}  "
                  f"@0.5:0.95 {row['map50_95']:.3f}  P/R {row['precision']:.3f}/{row['recall']:.3f}  "
                  f"model {row['model_ms']:.1f} ms  detect {row['detect_ms']:.1f} ms", flush=True)
    report = {"rows": rows, "threads": args.threads, "reps": args.reps, "cpu": platform.processor() or
              platform.machine(), "cores": os.cpu_count(), "load_average": os.getloadavg(),
              "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out} (load average {report['load_average'][0]:.1f})")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
