"""mAP@0.5, mAP@0.5:0.95, precision and recall of a detector on a YOLO-txt labelled folder.

    doorline-models eval --model yolox_nano.onnx --data ../shared/data/sidewalk-bags/valid
    python -m models.evaluate ...   (the same command, kept for old scripts)

Dataset classes are mapped to detector classes: by equal name, by `--map "dataset=coco1,coco2"`, or
(unmapped names) to the detector's "goods" group. Dataset classes mapped to the same detector classes
are scored together as one group, so one detection never counts against several dataset classes.
`agnostic=True` scores every dataset class as one "object" group against the union of their targets."""

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
IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # COCO's 0.50:0.05:0.95
PR_CURVE_POINTS = 101
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
    ap50_95: float = 0.0
    dataset_classes: list[str] = field(default_factory=list)
    detector_classes: list[str] = field(default_factory=list)
    # precision at recall 0, 0.01, ... 1 (interpolated, IoU 0.5): the PR curve, small enough for JSON
    pr_curve: list[float] = field(default_factory=list)


@dataclass
class EvalResult:
    map50: float
    precision: float
    recall: float
    n_images: int
    n_labels: int
    groups: list[GroupResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    map50_95: float = 0.0
    pr_conf: float = 0.25
    agnostic: bool = False


def find_dataset(data: Path, names: Sequence[str] | None = None) -> Dataset:
    """`data` holds images/ and labels/ (or labels_yolo/), YOLO layout; names come from `names`, else from
    data.yaml here or one level up."""
    data = Path(data)
    images_dir = data / "images"
    labels_dir = next((data / n for n in LABEL_DIRS if (data / n).is_dir()), None)
    if not images_dir.is_dir() or labels_dir is None:
        raise EvalError(f"{data}: expected images/ and labels/ (or labels_yolo/) folders (YOLO layout)")
    names = list(names) if names else None
    for yaml_path in (data / "data.yaml", data.parent / "data.yaml"):
        if names is None and yaml_path.is_file():
            try:
                raw = yaml.safe_load(yaml_path.read_text())["names"]
            except (yaml.YAMLError, KeyError, TypeError) as exc:
                raise EvalError(f"{yaml_path}: no readable 'names' ({exc})") from exc
            names = [str(raw[i]) for i in sorted(raw)] if isinstance(raw, dict) else [str(n) for n in raw]
            break
    if names is None:
        raise EvalError(f"{data}: no data.yaml with class names here or in {data.parent} (or give --names)")
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
    agnostic: bool = False,
) -> list[Group]:
    """Map each dataset class to detector classes (explicit > same name > `fallback`), then merge
    dataset classes that share the same targets into one group (`agnostic`: all into one group, "object",
    scored against the union of the targets)."""
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
    if agnostic:
        union = tuple(sorted({t for tgt in targets for t in tgt}))
        return [Group(name="object", dataset_ids=tuple(range(len(dataset_names))), detector_names=union)]
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


def _envelope(tp: np.ndarray, conf: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """(recall, interpolated precision) with the sentinels (0, 1) and (1, 0)."""
    order = np.argsort(-conf, kind="stable")
    ctp = np.cumsum(tp[order])
    recall = ctp / n_labels
    precision = ctp / np.arange(1, len(tp) + 1)
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[1.0], precision, [0.0]])
    return r, np.maximum.accumulate(p[::-1])[::-1]


def average_precision(tp: np.ndarray, conf: np.ndarray, n_labels: int) -> float:
    """Area under the interpolated precision/recall curve (all points)."""
    if n_labels == 0 or len(tp) == 0:
        return 0.0
    r, p = _envelope(tp, conf, n_labels)
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def pr_curve(tp: np.ndarray, conf: np.ndarray, n_labels: int, points: int = PR_CURVE_POINTS) -> list[float]:
    """Interpolated precision at `points` evenly spaced recalls 0..1 (0 beyond the highest recall reached)."""
    if n_labels == 0 or len(tp) == 0:
        return [0.0] * points
    r, p = _envelope(tp, conf, n_labels)
    grid = np.linspace(0.0, 1.0, points)
    # the precision envelope is non-increasing in recall: take the first point at or beyond each grid recall
    idx = np.searchsorted(r[1:-1], grid, side="left") + 1
    reached = grid <= r[-2] + 1e-12
    return [round(float(p[i]), 4) if ok else 0.0 for i, ok in zip(idx, reached, strict=True)]


def evaluate(
    detector: Detector,
    data: Path,
    *,
    mapping: Mapping[str, Sequence[str]] | None = None,
    iou: float = 0.5,
    pr_conf: float = 0.25,
    limit: int | None = None,
    progress: bool = True,
    agnostic: bool = False,
    images: Sequence[Path] | None = None,
    names: Sequence[str] | None = None,
) -> EvalResult:
    """Run `detector` over the folder (or the given `images` of it, e.g. one side of a split); AP per group
    at IoU `iou` and averaged over IoU 0.5:0.95, precision/recall at score `pr_conf`.
    Load the detector with a low conf (e.g. 0.01) so the precision/recall curve is complete."""
    ds = find_dataset(data, names)
    # a dataset class with no detector class of its name is scored against the goods: COCO's, and those a
    # fine-tuned model's card names (e.g. rubbish_bag: goods)
    goods = tuple(sorted({*GOODS, *(n for n, r in detector.class_roles.items() if r == "goods")}))
    groups = make_groups(ds.names, detector.class_names, mapping, fallback=goods, agnostic=agnostic)
    cmap = ClassMap(detector.class_names)
    thresholds = tuple(sorted({iou, *IOU_THRESHOLDS}))
    per_group: dict[str, dict[str, list]] = {
        g.name: {"tp": {t: [] for t in thresholds}, "conf": [], "n": [0]} for g in groups
    }
    chosen = list(images) if images is not None else ds.images
    chosen = chosen[:limit] if limit else chosen
    skipped: list[str] = []
    bar = tqdm(chosen, desc="evaluate", unit="img", disable=not progress, dynamic_ncols=True)
    for img_path in bar:
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
            for t in thresholds:
                acc["tp"][t].append(match(pred.xyxy, pred.confidence, gt, t))
            acc["conf"].append(pred.confidence)
            acc["n"][0] += len(gt)
    results = []
    for g in groups:
        acc = per_group[g.name]
        conf = np.concatenate(acc["conf"]) if acc["conf"] else np.zeros(0, np.float32)
        tps = {t: np.concatenate(v) if v else np.zeros(0, bool) for t, v in acc["tp"].items()}
        tp = tps[iou]
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
                ap50_95=float(np.mean([average_precision(tps[t], conf, n) for t in IOU_THRESHOLDS])),
                dataset_classes=[ds.names[i] for i in g.dataset_ids],
                detector_classes=list(g.detector_names),
                pr_curve=pr_curve(tp, conf, n),
            )
        )
    scored = [r for r in results if r.n_labels]
    mean = lambda xs: float(np.mean(xs)) if xs else 0.0  # noqa: E731
    return EvalResult(
        map50=mean([r.ap50 for r in scored]),
        precision=mean([r.precision for r in scored]),
        recall=mean([r.recall for r in scored]),
        n_images=len(chosen) - len(skipped),
        n_labels=sum(r.n_labels for r in results),
        groups=results,
        skipped=skipped,
        map50_95=mean([r.ap50_95 for r in scored]),
        pr_conf=pr_conf,
        agnostic=agnostic,
    )


def _parse_map(items: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, targets = item.partition("=")
        if not sep or not name.strip() or not targets.strip():
            raise EvalError(f"--map {item!r}: expected 'dataset_class=coco_class[,coco_class...]'")
        out[name.strip()] = [t.strip() for t in targets.split(",") if t.strip()]
    return out


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", required=True, help="model file or name in the models folder")
    ap.add_argument("--data", required=True, type=Path, help="folder with images/ and labels/")
    ap.add_argument("--models-dir", type=Path, default=None)
    ap.add_argument("--backend", default=None)
    ap.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="DATASET=COCO[,COCO]",
        help="map a dataset class to detector classes (repeatable), e.g. vendedor_ambulante=umbrella",
    )
    ap.add_argument("--names", default=None, help="class names, comma-separated, when there is no data.yaml")
    ap.add_argument("--agnostic", action="store_true", help="score all dataset classes as one 'object' class")
    ap.add_argument(
        "--split",
        choices=("all", "train", "val"),
        default="all",
        help="only one side of the by-tile split (models.splits): copies of a tile never cross it",
    )
    ap.add_argument("--val-fraction", type=float, default=0.2, help="share of tiles in the validation split")
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the by-tile split")
    ap.add_argument("--conf", type=float, default=0.01, help="detector score threshold for the PR curve")
    ap.add_argument("--pr-conf", type=float, default=0.25, help="operating score: precision/recall given there")
    ap.add_argument("--iou", type=float, default=0.5, help="IoU for a true positive")
    ap.add_argument("--limit", type=int, default=None, help="first N images only")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    ap.add_argument("--chart", type=Path, default=None, help="PR curve PNG (needs the [charts] extra)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from models.registry import load_detector
    from models.splits import select_split

    try:
        mapping = _parse_map(args.map)
        detector = load_detector(args.model, models_dir=args.models_dir, backend=args.backend, conf=args.conf)
        names = [n.strip() for n in args.names.split(",") if n.strip()] if args.names else None
        ds = find_dataset(args.data, names)
        images = select_split(ds.images, args.split, args.val_fraction, args.split_seed)
        if not images:
            raise EvalError(f"{args.data}: the {args.split} split holds no images")
        result = evaluate(
            detector,
            args.data,
            mapping=mapping,
            iou=args.iou,
            pr_conf=args.pr_conf,
            limit=args.limit,
            agnostic=args.agnostic,
            images=images,
            names=names,
            progress=not args.no_progress,
        )
        if args.chart:
            from models.pr_chart import write_pr_chart

            title = f"{Path(str(args.model)).name} on {args.data} ({args.split})"
            write_pr_chart(result, args.chart, title=title)
    except (ModelError, EvalError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max([5] + [len(g.name) for g in result.groups])
    print(f"{'group':<{width}} {'labels':>6} {'preds':>6} {'AP50':>6} {'AP50-95':>7} {'P':>6} {'R':>6}")
    for g in result.groups:
        print(
            f"{g.name:<{width}} {g.n_labels:>6} {g.n_predictions:>6} {g.ap50:>6.3f} {g.ap50_95:>7.3f} "
            f"{g.precision:>6.3f} {g.recall:>6.3f}"
        )
    print(
        f"images {result.n_images}, labels {result.n_labels}: mAP@0.5 {result.map50:.3f}, "
        f"mAP@0.5:0.95 {result.map50_95:.3f}, precision {result.precision:.3f}, recall {result.recall:.3f} "
        f"(at score {args.pr_conf})"
    )
    for s in result.skipped:
        print(f"skipped: {s}", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {"model": str(args.model), "data": str(args.data), "split": args.split, **asdict(result)}
        args.json.write_text(json.dumps(out, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.evaluate", description=__doc__.splitlines()[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
