"""`doorline-models`: evaluate detectors, score events, split datasets by tile, train and register models.

    doorline-models eval --model yolox_nano.onnx --data ../shared/data/sidewalk-bags/valid --agnostic
    doorline-models eval-events CLIP.json EVENTS.jsonl [CLIP2.json EVENTS2.jsonl ...]
    doorline-models split --data ../shared/data/drone-vendors/train --out var/datasets/vendors
    doorline-models train --data var/datasets/vendors/data.yaml --base yolov8n.pt --epochs 30 --imgsz 416
    doorline-models register --model var/models/vendors.onnx --data ... (a card for an ONNX made elsewhere)
    doorline-models variants --model var/models/vendors.onnx --calibration var/datasets/vendors/train (fp16, int8)

`export-reviews` (central's verdicts as a dataset) is added by central.models_cli, which is the installed
script: this module never imports central."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from models import evaluate

Handler = Callable[[argparse.Namespace], int]


def _eval_events(args: argparse.Namespace) -> int:
    from models.event_scoring import EventScoreError, score_files

    if len(args.files) % 2:
        print("error: give CLIP.json EVENTS.jsonl pairs", file=sys.stderr)
        return 2
    pairs = [(Path(a), Path(b)) for a, b in zip(args.files[::2], args.files[1::2], strict=True)]
    try:
        result = score_files(pairs)
    except EventScoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for c in result.clips:
        print(json.dumps({"clip": c.clip, "truth": c.truth, "found": c.found, "starts": c.starts,
                          "false_starts": c.false_starts, "tta": c.tta, "ends_ok": c.ends_ok,
                          "ends_due": c.ends_due}))
    summary = {k: v for k, v in result.to_dict().items() if k != "clips"}
    print(json.dumps(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_dict(), indent=2))
    return 0 if result.ok else 1


def _split(args: argparse.Namespace) -> int:
    from models.datasets import DatasetError, write_split

    try:
        names = [n.strip() for n in args.names.split(",") if n.strip()] if args.names else None
        yaml_path, counts = write_split(args.data, args.out, val_fraction=args.val_fraction, seed=args.seed,
                                        names=names)
    except (DatasetError, evaluate.EvalError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{yaml_path}: train {counts['train']} images ({counts['train_tiles']} tiles), "
          f"val {counts['val']} images ({counts['val_tiles']} tiles)")
    return 0


def _train(args: argparse.Namespace) -> int:
    from models.base import ModelError
    from models.training import TrainError, train

    try:
        card_path = train(
            data=args.data, base=args.base, epochs=args.epochs, imgsz=args.imgsz, device=args.device,
            seed=args.seed, out=args.out, name=args.name, freeze=args.freeze, patience=args.patience,
            resume=args.resume, roles=_parse_roles(args.role), licence=args.licence,
            single_class=args.single_class, batch=args.batch, workers=args.workers, cache=args.cache,
            hours=args.hours,
        )
    except (TrainError, ModelError, evaluate.EvalError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model card: {card_path}")
    return 0


def _register(args: argparse.Namespace) -> int:
    from models.base import ModelError
    from models.training import TrainError, register

    try:
        card_path = register(
            args.model, out=args.out, name=args.name, data=args.data, roles=_parse_roles(args.role),
            licence=args.licence, source=args.source, eval_split=args.split, training=None,
            agnostic=args.agnostic, models_dir=args.models_dir,
        )
    except (TrainError, ModelError, evaluate.EvalError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"model card: {card_path}")
    return 0


def _variants(args: argparse.Namespace) -> int:
    from models.base import ModelError
    from models.variants import export_variants

    try:
        cards = export_variants(args.model, args.calibration, kinds=tuple(args.kinds.split(",")),
                                n_images=args.calibration_images, data=args.data, agnostic=args.agnostic,
                                models_dir=args.models_dir)
    except (ModelError, evaluate.EvalError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for kind, card in cards.items():
        print(f"{kind}: model card {card}")
    return 0


def _parse_roles(items: Sequence[str]) -> dict[str, str]:
    roles: dict[str, str] = {}
    for item in items:
        name, sep, role = item.partition("=")
        if not sep or not name.strip() or role.strip() not in ("person", "vehicle", "goods"):
            raise SystemExit(f"error: --role {item!r}: expected CLASS=person|vehicle|goods")
        roles[name.strip()] = role.strip()
    return roles


def build_parser(prog: str = "doorline-models") -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("eval", help="mAP@0.5, mAP@0.5:0.95, P/R at the operating score, PR chart, JSON")
    evaluate.add_arguments(p)
    p.set_defaults(handler=evaluate.run)

    p = sub.add_parser("eval-events", help="score an edge worker's events on labelled clips (dev-events format)")
    p.add_argument("files", nargs="+", metavar="CLIP.json EVENTS.jsonl")
    p.add_argument("--json", type=Path, default=None)
    p.set_defaults(handler=_eval_events)

    p = sub.add_parser("split", help="a YOLO dataset split by tile (train/ and val/ links, data.yaml)")
    p.add_argument("--data", required=True, type=Path, help="folder with images/ and labels/")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--names", default=None, help="class names, comma-separated, when there is no data.yaml")
    p.set_defaults(handler=_split)

    for name in ("train", "register"):
        p = sub.add_parser(
            name,
            help="fine-tune with ultralytics ([train] extra), export ONNX, write its card"
            if name == "train"
            else "write the card of an ONNX model (sha256, classes, eval figures) so the edge loads it by name",
        )
        if name == "train":
            p.add_argument("--data", required=True, type=Path, help="data.yaml of a YOLO dataset (see split)")
            p.add_argument("--base", required=True,
                           help="yolov5n.pt (../shared/models, converted offline), an ultralytics .pt, "
                           "or a model .yaml (random init)")
            p.add_argument("--epochs", type=int, default=30)
            p.add_argument("--imgsz", type=int, default=416)
            p.add_argument("--device", default="cpu", help="cpu, cuda or a cuda index")
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--freeze", type=int, default=10, help="first N layers frozen (the backbone)")
            p.add_argument("--patience", type=int, default=10, help="early stop after N epochs without gain")
            p.add_argument("--resume", action="store_true", help="resume the run's last checkpoint")
            p.add_argument("--single-class", default=None, metavar="NAME",
                           help="class-agnostic: every label becomes one class called NAME")
            p.add_argument("--batch", type=int, default=16)
            p.add_argument("--workers", type=int, default=None, help="data-loading processes (default 2)")
            p.add_argument("--cache", action="store_true", help="keep decoded images in RAM")
            p.add_argument("--hours", type=float, default=None,
                           help="time budget: the number of epochs is re-planned to end within it")
        else:
            p.add_argument("--model", required=True, help="the ONNX file (path or name in the models folder)")
            p.add_argument("--data", type=Path, default=None, help="evaluate on this folder for the card")
            p.add_argument("--split", choices=("all", "train", "val"), default="val")
            p.add_argument("--agnostic", action="store_true")
            p.add_argument("--source", default="", help="where the weights came from")
            p.add_argument("--models-dir", type=Path, default=None)
        p.add_argument("--out", type=Path, default=None, help="models folder (default $DOORLINE_MODELS_DIR)")
        p.add_argument("--name", default=None, help="model name (file stem)")
        p.add_argument("--role", action="append", default=[], metavar="CLASS=ROLE",
                       help="class role for the rules: person, vehicle or goods (repeatable)")
        p.add_argument("--licence", default="AGPL-3.0", help="licence of the weights")
        p.set_defaults(handler=_train if name == "train" else _register)

    p = sub.add_parser("variants", help="fp16 and int8 (static, calibrated) copies of a registered ONNX model")
    p.add_argument("--model", required=True, help="the registered fp32 ONNX (path or name in the models folder)")
    p.add_argument("--calibration", required=True, type=Path, help="images for int8 calibration (train side)")
    p.add_argument("--calibration-images", type=int, default=64)
    p.add_argument("--kinds", default="fp16,int8")
    p.add_argument("--data", type=Path, default=None, help="evaluate each variant on this folder for its card")
    p.add_argument("--agnostic", action="store_true")
    p.add_argument("--models-dir", type=Path, default=None)
    p.set_defaults(handler=_variants)
    return ap, sub


def run(args: argparse.Namespace) -> int:
    handler: Handler = args.handler
    return handler(args)


def main(argv: Sequence[str] | None = None) -> int:
    ap, _ = build_parser()
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
