"""mAP@0.5, precision and recall of a detector on a YOLO-txt labelled folder.

    python -m models.evaluate --model yolox_nano.onnx --data ../shared/data/sidewalk-bags/valid

Dataset classes are mapped to detector classes: by equal name, by `--map "dataset=coco1,coco2"`, or
(unmapped names) to the detector's "goods" group. Dataset classes mapped to the same detector classes
are scored together as one group, so one detection never counts against several dataset classes."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from models.base import Detector, ModelError
from models.classes import GOODS, ClassMap
from models.detections import Detections

log = logging.getLogger(__name__)
LABEL_DIRS = ("labels", "labels_yolo")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class EvalError(ValueError):
    """A dataset folder or label file that cannot be read; names the file and the reason."""


@dataclass(frozen=True)
class Dataset:
    images: list[Path]
    labels_dir: Path
    names: list[str]


@dataclass(frozen=True)
class Group:
    """Dataset classes scored together against a set of detector classes."""

    name: str
    dataset_ids: tuple[int, ...]
    detector_names: tuple[str, ...]


@dataclass
class GroupResult:
    name: str
    ap50: float
    precision: float
    recall: float
    n_labels: int
    n_predictions: int


@dataclass
class EvalResult:
    map50: float
    precision: float
    recall: float
    n_images: int
    n_labels: int
    groups: list[GroupResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def find_dataset(data: Path) -> Dataset:
    """`data` holds images/ and labels/ (or labels_yolo/), YOLO layout; names come from data.yaml here or
    one level up."""
    data = Path(data)
    images_dir = data / "images"
    labels_dir = next((data / n for n in LABEL_DIRS if (data / n).is_dir()), None)
    if not images_dir.is_dir() or labels_dir is None:
        raise EvalError(f"{data}: expected images/ and labels/ (or labels_yolo/) folders (YOLO layout)")
    names: list[str] | None = None
    for yaml_path in (data / "data.yaml", data.parent / "data.yaml"):
        if yaml_path.is_file():
            try:
                raw = yaml.safe_load(yaml_path.read_text())["names"]
            except (yaml.YAMLError, KeyError, TypeError) as exc:
                raise EvalError(f"{yaml_path}: no readable 'names' ({exc})") from exc
            names = [str(raw[i]) for i in sorted(raw)] if isinstance(raw, dict) else [str(n) for n in raw]
            break
    if names is None:
        raise EvalError(f"{data}: no data.yaml with class names here or in {data.parent}")
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise EvalError(f"{images_dir}: no images")
    return Dataset(images=images, labels_dir=labels_dir, names=names)


def read_labels(path: Path, width: int, height: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(class ids (n,), xyxy pixels (n, 4)) from a YOLO txt file; a missing file means no objects.
    Tolerates a missing final newline and blank lines; anything else malformed is an EvalError."""
    if not path.is_file():
        return np.zeros(0, np.int32), np.zeros((0, 4), np.float32)
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    for i, row in enumerate(rows, 1):
        if len(row) != 5:
            raise EvalError(f"{path}:{i}: expected 'class cx cy w h', got {' '.join(row)!r}")
    try:
        arr = np.array(rows, dtype=np.float64).reshape(-1, 5)
    except ValueError as exc:
        raise EvalError(f"{path}: non-numeric value ({exc})") from exc
    cls = arr[:, 0].astype(np.int32)
    if len(cls) and (cls.min() < 0 or cls.max() >= n_classes):
        raise EvalError(f"{path}: class id outside 0..{n_classes - 1}")
    cx, cy, w, h = arr[:, 1] * width, arr[:, 2] * height, arr[:, 3] * width, arr[:, 4] * height
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return cls, xyxy


def make_groups(
    dataset_names: Sequence[str],
    detector_names: Sequence[str],
    mapping: Mapping[str, Sequence[str]] | None = None,
    fallback: Sequence[str] = tuple(sorted(GOODS)),
) -> list[Group]:
    """Map each dataset class to detector classes (explicit > same name > `fallback`), then merge
    dataset classes that share the same targets into one group."""
    mapping = dict(mapping or {})
    unknown = set(mapping) - set(dataset_names)
    if unknown:
        raise EvalError(f"--map names dataset classes that do not exist: {sorted(unknown)}")
    known = set(detector_names)
    targets: dict[tuple[str, ...], list[int]] = {}
    for i, name in enumerate(dataset_names):
        if name in mapping:
            tgt = tuple(sorted(mapping[name]))
            bad = [t for t in tgt if t not in known]
            if bad:
                raise EvalError(f"--map {name}: detector has no classes {bad}")
        elif name in known:
            tgt = (name,)
        else:
            tgt = tuple(sorted(n for n in fallback if n in known))
        targets.setdefault(tgt, []).append(i)
    return [
        Group(name="+".join(dataset_names[i] for i in ids), dataset_ids=tuple(ids), detector_names=tgt)
        for tgt, ids in targets.items()
    ]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU matrix of xyxy boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def match(pred_xyxy: np.ndarray, pred_conf: np.ndarray, gt_xyxy: np.ndarray, iou: float) -> np.ndarray:
    """Greedy matching, highest confidence first: True where a prediction is a true positive."""
    tp = np.zeros(len(pred_xyxy), dtype=bool)
    if len(pred_xyxy) == 0 or len(gt_xyxy) == 0:
        return tp
    ious = box_iou(pred_xyxy, gt_xyxy)
    taken = np.zeros(len(gt_xyxy), dtype=bool)
    for i in np.argsort(-pred_conf, kind="stable"):
        cand = np.where(taken, -1.0, ious[i])
        j = int(cand.argmax())
        if cand[j] >= iou:
            tp[i] = taken[j] = True
    return tp


def average_precision(tp: np.ndarray, conf: np.ndarray, n_labels: int) -> float:
    """Area under the interpolated precision/recall curve (all points)."""
    if n_labels == 0 or len(tp) == 0:
        return 0.0
    order = np.argsort(-conf, kind="stable")
    ctp = np.cumsum(tp[order])
    recall = ctp / n_labels
    precision = ctp / np.arange(1, len(tp) + 1)
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def evaluate(
    detector: Detector,
    data: Path,
    *,
    mapping: Mapping[str, Sequence[str]] | None = None,
    iou: float = 0.5,
    pr_conf: float = 0.25,
    limit: int | None = None,
    progress: bool = True,
) -> EvalResult:
    """Run `detector` over the folder; AP per group at IoU `iou`, precision/recall at score `pr_conf`.
    Load the detector with a low conf (e.g. 0.01) so the precision/recall curve is complete."""
    ds = find_dataset(data)
    groups = make_groups(ds.names, detector.class_names, mapping)
    cmap = ClassMap(detector.class_names)
    per_group: dict[str, dict[str, list]] = {g.name: {"tp": [], "conf": [], "n": [0]} for g in groups}
    images = ds.images[:limit] if limit else ds.images
    skipped: list[str] = []
    for img_path in tqdm(images, desc="evaluate", unit="img", disable=not progress):
        frame = cv2.imread(str(img_path))
        if frame is None:
            skipped.append(f"{img_path}: unreadable image")
            continue
        h, w = frame.shape[:2]
        gt_cls, gt_xyxy = read_labels(ds.labels_dir / f"{img_path.stem}.txt", w, h, len(ds.names))
        det: Detections = detector.detect([frame])[0]
        for g in groups:
            gt = gt_xyxy[np.isin(gt_cls, g.dataset_ids)]
            pred = det[cmap.mask(det, g.detector_names)]
            acc = per_group[g.name]
            acc["tp"].append(match(pred.xyxy, pred.confidence, gt, iou))
            acc["conf"].append(pred.confidence)
            acc["n"][0] += len(gt)
    results = []
    for g in groups:
        acc = per_group[g.name]
        tp = np.concatenate(acc["tp"]) if acc["tp"] else np.zeros(0, bool)
        conf = np.concatenate(acc["conf"]) if acc["conf"] else np.zeros(0, np.float32)
        n = acc["n"][0]
        sel = conf >= pr_conf
        n_sel = int(sel.sum())
        results.append(
            GroupResult(
                name=g.name,
                ap50=average_precision(tp, conf, n),
                precision=float(tp[sel].sum() / n_sel) if n_sel else 0.0,
                recall=float(tp[sel].sum() / n) if n else 0.0,
                n_labels=n,
                n_predictions=len(tp),
            )
        )
    scored = [r for r in results if r.n_labels]
    mean = lambda xs: float(np.mean(xs)) if xs else 0.0  # noqa: E731
    return EvalResult(
        map50=mean([r.ap50 for r in scored]),
        precision=mean([r.precision for r in scored]),
        recall=mean([r.recall for r in scored]),
        n_images=len(images) - len(skipped),
        n_labels=sum(r.n_labels for r in results),
        groups=results,
        skipped=skipped,
    )


def _parse_map(items: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, targets = item.partition("=")
        if not sep or not name.strip() or not targets.strip():
            raise EvalError(f"--map {item!r}: expected 'dataset_class=coco_class[,coco_class...]'")
        out[name.strip()] = [t.strip() for t in targets.split(",") if t.strip()]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from models.registry import load_detector

    ap = argparse.ArgumentParser(prog="python -m models.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model file or name in the models folder")
    ap.add_argument("--data", required=True, type=Path, help="folder with images/ and labels/")
    ap.add_argument("--models-dir", type=Path, default=None)
    ap.add_argument("--backend", default=None)
    ap.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="DATASET=COCO[,COCO]",
        help="map a dataset class to detector classes (repeatable)",
    )
    ap.add_argument("--conf", type=float, default=0.01, help="detector score threshold for the PR curve")
    ap.add_argument("--pr-conf", type=float, default=0.25, help="score at which precision/recall are given")
    ap.add_argument("--iou", type=float, default=0.5, help="IoU for a true positive")
    ap.add_argument("--limit", type=int, default=None, help="first N images only")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    try:
        detector = load_detector(args.model, models_dir=args.models_dir, backend=args.backend, conf=args.conf)
        result = evaluate(
            detector,
            args.data,
            mapping=_parse_map(args.map),
            iou=args.iou,
            pr_conf=args.pr_conf,
            limit=args.limit,
        )
    except (ModelError, EvalError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max([5] + [len(g.name) for g in result.groups])
    print(f"{'group':<{width}} {'labels':>6} {'preds':>6} {'AP50':>6} {'P':>6} {'R':>6}")
    for g in result.groups:
        print(
            f"{g.name:<{width}} {g.n_labels:>6} {g.n_predictions:>6} {g.ap50:>6.3f} "
            f"{g.precision:>6.3f} {g.recall:>6.3f}"
        )
    print(
        f"images {result.n_images}, labels {result.n_labels}: mAP@0.5 {result.map50:.3f}, "
        f"precision {result.precision:.3f}, recall {result.recall:.3f} (at score {args.pr_conf})"
    )
    for s in result.skipped:
        print(f"skipped: {s}", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
