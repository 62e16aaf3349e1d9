"""Detector accuracy of every shared model on labelled photos (BENCHMARKS.md, "Detector accuracy on labelled
photos"): sidewalk-bags/valid class-agnostic, and the held-out tiles of drone-vendors (by-tile split) with the
vendor class mapped to COCO umbrella and to the GOODS group.

    .venv/bin/python scripts/bench/detector_accuracy.py [--limit N] [--out var/bench/detector_accuracy.json]

Prints a table, writes the JSON and one PR-curve PNG per row beside it."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from models.base import ModelError
from models.evaluate import evaluate, find_dataset
from models.pr_chart import write_pr_chart
from models.registry import default_models_dirs, load_detector
from models.splits import select_split

MODELS = ("yolox_nano.onnx", "yolov8n_int8.onnx", "yolo11n_int8.tflite")
VENDOR = ["vendedor_ambulante"]


def runs(data: Path) -> list[tuple[str, Path, str, dict, bool, list[str] | None]]:
    """(label, folder, split, mapping, agnostic, names)."""
    bags, vendors = data / "sidewalk-bags" / "valid", data / "drone-vendors" / "train"
    return [
        ("sidewalk-bags (agnostic)", bags, "all", {}, True, None),
        ("drone-vendors val (umbrella)", vendors, "val", {"vendedor_ambulante": ["umbrella"]}, False, VENDOR),
        ("drone-vendors val (goods)", vendors, "val", {}, True, VENDOR),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_models_dirs()[-1].parent / "data")
    ap.add_argument("--limit", type=int, default=None, help="first N images of each set (a quick look)")
    ap.add_argument("--out", type=Path, default=Path("var/bench/detector_accuracy.json"))
    args = ap.parse_args(argv)
    rows = []
    for model in MODELS:
        try:
            detector = load_detector(model, conf=0.01)
        except ModelError as exc:
            print(f"{model}: not measured: {exc}", file=sys.stderr)
            continue
        for label, folder, split, mapping, agnostic, names in runs(args.data):
            images = select_split(find_dataset(folder, names).images, split)
            result = evaluate(detector, folder, mapping=mapping, agnostic=agnostic, images=images, names=names,
                              limit=args.limit)
            stem = f"{Path(model).stem}-{label.split()[0]}-{'agnostic' if agnostic else 'mapped'}"
            write_pr_chart(result, args.out.parent / f"{stem}.png", title=f"{model}: {label}")
            rows.append({"model": model, "set": label, **asdict(result)})
    print(f"{'model':<22} {'set':<30} {'images':>6} {'labels':>6} {'AP50':>6} {'AP50-95':>7} {'P':>6} {'R':>6}")
    for r in rows:
        print(f"{r['model']:<22} {r['set']:<30} {r['n_images']:>6} {r['n_labels']:>6} {r['map50']:>6.3f} "
              f"{r['map50_95']:>7.3f} {r['precision']:>6.3f} {r['recall']:>6.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
