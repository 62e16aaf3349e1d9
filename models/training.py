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


def _eval_figures(model: Path, data: Path, split: str, agnostic: bool, roles: dict[str, str]) -> dict[str, Any]:
    from models.evaluate import evaluate, find_dataset
    from models.splits import select_split

    ds = find_dataset(data)
    images = select_split(ds.images, split)
    detector = load_detector(model, conf=0.01)
    detector.class_roles = roles  # the card that will carry them is written after these figures
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
    figures = _eval_figures(dst, Path(data), eval_split, agnostic, roles) if data is not None else None
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


def _ultralytics(config_dir: Path | None = None) -> Any:
    from models.offline import offline_ultralytics, quiet_settings, restore_pillow

    offline_ultralytics(config_dir)  # before the first import: ultralytics reads its environment then
    try:
        from ultralytics import YOLO  # type: ignore[import-not-found]
    except ImportError:
        raise TrainError(TRAIN_EXTRA_HINT) from None
    restore_pillow()
    quiet_settings()
    return YOLO


def resolve_base(base: str, folder: Path) -> str:
    """What ultralytics is given: a `.yaml` (random init, e.g. yolov8n.yaml), an ultralytics `.pt`, or the
    official yolov5 checkpoint (`yolov5n.pt` in ../shared/models), converted offline (models.v5_base)."""
    if base.endswith((".yaml", ".yml")) and not Path(base).is_file():
        return base  # a model definition shipped inside the ultralytics package: random init
    try:
        path = resolve_model_path(base)
    except ModelError as exc:
        raise TrainError(str(exc)) from None
    from models.v5_base import convert, is_v5_checkpoint

    if is_v5_checkpoint(path):
        converted, copied, total = convert(path, folder / "bases")
        print(f"base: {path.name} → {converted} ({copied}/{total} tensors from COCO; the head starts fresh)",
              file=sys.stderr)
        return str(converted)
    return str(path)


def _progress_callback(epochs: int) -> Any:
    """One line per epoch with the whole run's ETA (ultralytics' own bars show one epoch at a time)."""
    import time

    started = time.monotonic()

    def on_fit_epoch_end(trainer: Any) -> None:
        done, total = trainer.epoch + 1, trainer.epochs  # a time budget re-plans the number of epochs
        if done > total or getattr(trainer, "_doorline_reported", -1) == done:
            return  # the final validation of best.pt fires the callback once more
        trainer._doorline_reported = done
        elapsed = time.monotonic() - started
        eta = elapsed / max(done - trainer.start_epoch, 1) * (total - done)
        fit = trainer.metrics.get("metrics/mAP50(B)", float("nan"))
        print(f"[doorline-train] epoch {done}/{total} val mAP@0.5 {fit:.3f} elapsed {elapsed / 60:.1f} min "
              f"ETA {eta / 60:.1f} min (early stop may end it sooner)", file=sys.stderr, flush=True)

    return on_fit_epoch_end


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
    single_class: str | None = None,
    batch: int = 16,
    workers: int | None = None,
    cache: bool = False,
    config_dir: Path | None = None,
    hours: float | None = None,
) -> Path:
    """Fine-tune `base` on the YOLO dataset `data` (a data.yaml with train/ and val/, e.g. from
    `doorline-models split`), export ONNX (fp32, static input `imgsz`), register it with its card.
    Deterministic for a given seed on CPU; early stopping on the val split (`patience`). `single_class`
    trains class-agnostic: every label is one class of that name. `hours` is a time budget: ultralytics
    re-plans the number of epochs (and the learning-rate schedule) to end within it."""
    data = Path(data)
    folder = models_folder(out)
    yolo_cls = _ultralytics(config_dir or folder / ".ultralytics")  # a missing extra: one line, first
    if not data.is_file():
        raise TrainError(f"{data}: no such data.yaml (make one with `doorline-models split`)")
    spec = yaml.safe_load(data.read_text()) or {}
    name = name or f"{Path(base).stem}-{data.parent.name}"
    runs = folder / "runs"
    last = runs / name / "weights" / "last.pt"
    resuming = resume and last.is_file()
    start = str(last) if resuming else resolve_base(base, folder)
    model = yolo_cls(start, task="detect")
    settings = {
        "data": str(data), "base": str(base), "epochs": epochs, "imgsz": imgsz, "device": device, "seed": seed,
        "freeze": freeze, "patience": patience, "deterministic": True, "batch": batch,
        "single_class": single_class, "split": spec.get("split"), "hours": hours,
    }
    model.add_callback("on_fit_epoch_end", _progress_callback(epochs))
    model.train(
        data=str(data), epochs=epochs, imgsz=imgsz, device=device, seed=seed, deterministic=True,
        freeze=freeze, patience=patience, project=str(runs.resolve()), name=name, exist_ok=True, resume=resuming,
        workers=workers if workers is not None else min(2, os.cpu_count() or 1), plots=False, verbose=False,
        batch=batch, single_cls=single_class is not None, cache=cache, amp=False,
        **({"time": hours} if hours else {}),
    )
    best = runs / name / "weights" / "best.pt"
    if not best.is_file():
        raise TrainError(f"{best}: training ended without a checkpoint")
    trained = yolo_cls(str(best), task="detect")
    if single_class:
        trained.model.names = {0: single_class}
    onnx = Path(trained.export(format="onnx", imgsz=imgsz, dynamic=False, simplify=False, opset=17))
    settings["best_epoch"] = _best_epoch(runs / name / "results.csv")
    val_dir = Path(spec.get("path", data.parent)) / str(spec.get("val", "val/images"))
    return register(
        onnx, out=folder, name=name, data=val_dir.parent, eval_split="all", roles=roles, licence=licence,
        source=f"fine-tuned from {base} by doorline-models train", training=settings,
        agnostic=single_class is not None,
    )


def _best_epoch(results_csv: Path) -> int | None:
    """The epoch whose checkpoint is best.pt (highest fitness = 0.9 mAP@0.5:0.95 + 0.1 mAP@0.5)."""
    import csv

    if not results_csv.is_file():
        return None
    rows = list(csv.DictReader(results_csv.open()))
    best, best_fit = None, -1.0
    for row in rows:
        row = {k.strip(): v for k, v in row.items()}
        try:
            fit = 0.1 * float(row["metrics/mAP50(B)"]) + 0.9 * float(row["metrics/mAP50-95(B)"])
        except (KeyError, ValueError):
            continue
        if fit > best_fit:
            best, best_fit = int(float(row["epoch"])), fit
    return best
