"""Fine-tuning (ultralytics, the optional `[train]` extra) and registration of the resulting ONNX model.

`register()` needs only onnxruntime: it loads the model with the Doorline back-end (the same check the edge
runs at start-up), evaluates it if given data, and writes `<stem>.card.yaml` beside the file in the models
folder, so `load_detector("<stem>.onnx")` (and an edge camera's `model:`) finds the file by name and decodes
it from the card. `train()` runs ultralytics and then `register()`."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from models.base import ModelError
from models.model_card import ModelCard, load_card, sha256_of, sidecar_path
from models.registry import ENV_MODELS_DIR, load_detector, resolve_model_path

TRAIN_EXTRA_HINT = "training needs the [train] extra (torch + ultralytics): pip install 'doorline[train]'"


class TrainError(RuntimeError):
    """Training or registration that cannot go on; one line saying why."""


def models_folder(out: Path | None) -> Path:
    if out is not None:
        return Path(out)
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env)
    raise TrainError(f"no models folder: pass --out or set {ENV_MODELS_DIR}")


def _eval_figures(model: Path, data: Path, split: str, agnostic: bool) -> dict[str, Any]:
    from models.evaluate import evaluate, find_dataset
    from models.splits import select_split

    ds = find_dataset(data)
    images = select_split(ds.images, split)
    detector = load_detector(model, conf=0.01)
    result = evaluate(detector, data, images=images, agnostic=agnostic, progress=sys.stderr.isatty())
    return {
        "data": str(data),
        "split": f"{split} (by tile, models.splits, val_fraction 0.2, seed 0)" if split != "all" else "all",
        "agnostic": agnostic,
        "images": result.n_images,
        "labels": result.n_labels,
        "map50": round(result.map50, 4),
        "map50_95": round(result.map50_95, 4),
        "precision": round(result.precision, 4),
        "recall": round(result.recall, 4),
        "operating_score": result.pr_conf,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def register(
    model: Path | str,
    *,
    out: Path | None = None,
    name: str | None = None,
    data: Path | None = None,
    roles: dict[str, str] | None = None,
    licence: str = "AGPL-3.0",
    source: str = "",
    eval_split: str = "val",
    training: dict[str, Any] | None = None,
    agnostic: bool = False,
    models_dir: Path | None = None,
) -> Path:
    """Copy `model` (an ONNX file) into the models folder as `<name>.onnx` and write its card; returns the
    card's path. The model must load with the Doorline ONNX back-end."""
    src = resolve_model_path(model, models_dir)
    if src.suffix.lower() != ".onnx":
        raise TrainError(f"{src}: only ONNX models are registered (the edge's default back-end)")
    folder = models_folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / f"{name or src.stem}.onnx"
    if dst.resolve() != src.resolve():
        shutil.copyfile(src, dst)
    card_path = sidecar_path(dst)
    card_path.unlink(missing_ok=True)  # an old card must not describe the new file while it is checked
    detector = load_detector(dst)  # decodes from its own metadata and output shape, as with no card
    spec = detector.spec
    names = [str(n) for n in detector.class_names]
    roles = dict(roles or {})
    unknown = sorted(set(roles) - set(names))
    if unknown:
        raise TrainError(f"--role names classes the model does not have: {unknown} (it has {names})")
    figures = _eval_figures(dst, Path(data), eval_split, agnostic) if data is not None else None
    card = {
        "file": dst.name,
        "family": spec.family,
        "backend": "onnx",
        "description": f"{spec.family} detector, {len(names)} classes ({', '.join(names[:8])}"
        + ("…" if len(names) > 8 else "")
        + f"), {spec.width}x{spec.height}",
        "classes": names,
        "input": {
            "shape": [1, 3, spec.height, spec.width],
            "layout": "NCHW",
            "dtype": "float32",
            "color": "rgb" if spec.rgb else "bgr",
            "normalise": spec.normalise,
            "letterbox": "center" if spec.center else "top_left",
            "pad_value": spec.pad_value,
        },
        "output": {"shape": None, "layout": f"{spec.family} head, decoded by models.families"},
        "sha256": sha256_of(dst),
        "size_bytes": dst.stat().st_size,
        "licence": licence,
        "source": source or str(src),
        "roles": roles,
        "training": training,
        "evaluation": figures,
        "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    ModelCard.model_validate(card)
    card_path.write_text(yaml.safe_dump(card, sort_keys=False, allow_unicode=True))
    load_card(card_path)
    try:
        load_detector(dst)  # the card now decides the preprocessing: the model must still load with it
    except ModelError:
        card_path.unlink(missing_ok=True)
        raise
    return card_path


def _ultralytics() -> Any:
    try:
        from ultralytics import YOLO  # type: ignore[import-not-found]
    except ImportError:
        raise TrainError(TRAIN_EXTRA_HINT) from None
    return YOLO


def train(
    *,
    data: Path,
    base: str,
    epochs: int,
    imgsz: int,
    device: str = "cpu",
    seed: int = 0,
    out: Path | None = None,
    name: str | None = None,
    freeze: int = 10,
    patience: int = 10,
    resume: bool = False,
    roles: dict[str, str] | None = None,
    licence: str = "AGPL-3.0",
) -> Path:
    """Fine-tune `base` on the YOLO dataset `data` (a data.yaml with train/ and val/, e.g. from
    `doorline-models split`), export ONNX (fp32, static input `imgsz`), register it with its card.
    Deterministic for a given seed on CPU; early stopping on the val split (`patience`)."""
    yolo_cls = _ultralytics()  # before anything else: a missing extra is a one-line error, not a traceback
    data = Path(data)
    if not data.is_file():
        raise TrainError(f"{data}: no such data.yaml (make one with `doorline-models split`)")
    spec = yaml.safe_load(data.read_text()) or {}
    folder = models_folder(out)
    name = name or f"{Path(base).stem}-{data.parent.name}"
    runs = folder / "runs"
    os.environ.setdefault("YOLO_OFFLINE", "1")
    last = runs / name / "weights" / "last.pt"
    model = yolo_cls(str(last) if resume and last.is_file() else base)
    settings = {
        "data": str(data), "base": str(base), "epochs": epochs, "imgsz": imgsz, "device": device, "seed": seed,
        "freeze": freeze, "patience": patience, "deterministic": True,
    }
    model.train(
        data=str(data), epochs=epochs, imgsz=imgsz, device=device, seed=seed, deterministic=True,
        freeze=freeze, patience=patience, project=str(runs), name=name, exist_ok=True, resume=resume and last.is_file(),
        workers=min(2, os.cpu_count() or 1), plots=False, verbose=False,
    )
    best = runs / name / "weights" / "best.pt"
    onnx = Path(yolo_cls(str(best)).export(format="onnx", imgsz=imgsz, dynamic=False, simplify=False))
    val_dir = Path(spec.get("path", data.parent)) / str(spec.get("val", "val/images"))
    return register(
        onnx, out=folder, name=name, data=val_dir.parent, eval_split="all", roles=roles, licence=licence,
        source=f"fine-tuned from {base} by doorline-models train", training=settings,
    )
