"""Finds detector back-ends (one module each under models/backends/), resolves model files, loads them.

Adding a model family or runtime = adding one module to models/backends/ with a `Detector` subclass
that sets `type_key`, `suffixes` and `from_file`."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
from functools import lru_cache
from pathlib import Path

from models import backends as _backends_pkg
from models.base import Detector, ModelError
from models.model_card import card_for
from models.options import DetectorOptions

REPO = Path(__file__).resolve().parents[1]
ENV_MODELS_DIR = "DOORLINE_MODELS_DIR"
HOW_TO_CONFIGURE = (
    "pass --model with a path to the file, set DOORLINE_MODELS_DIR to the folder holding it, "
    "or set models_dir / model in the settings file"
)


@lru_cache(maxsize=1)
def backends() -> dict[str, type[Detector]]:
    """type_key → back-end class, for every module in models/backends/ (names starting with _ skipped)."""
    found: dict[str, type[Detector]] = {}
    for info in pkgutil.iter_modules(_backends_pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_backends_pkg.__name__}.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, Detector)
                and obj.__module__ == module.__name__
                and not inspect.isabstract(obj)
            ):
                key = obj.type_key
                if key in found and found[key] is not obj:
                    raise ModelError(f"two back-ends claim type_key {key!r}: {found[key]} and {obj}")
                found[key] = obj
    return found


def default_models_dirs(models_dir: Path | str | None = None) -> list[Path]:
    """Where a bare model file name is looked up, in order."""
    dirs: list[Path] = []
    if models_dir is not None:
        dirs.append(Path(models_dir).expanduser())
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(Path.cwd().parent / "shared" / "models")
    dirs.append(REPO.parent / "shared" / "models")
    unique: list[Path] = []
    for d in dirs:
        if d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def resolve_model_path(name_or_path: str | Path, models_dir: Path | str | None = None) -> Path:
    """An existing model file: an absolute path, a path relative to the working directory, or a file name
    (or relative path) found in `models_dir`, $DOORLINE_MODELS_DIR, ../shared/models. ModelError otherwise,
    listing every place looked."""
    raw = str(name_or_path).strip()
    if not raw:
        raise ModelError(f"no model given; {HOW_TO_CONFIGURE}")
    given = Path(raw).expanduser()
    if given.is_absolute():
        candidates = [given]
    else:
        candidates = [Path.cwd() / given] + [d / given for d in default_models_dirs(models_dir)]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    looked = "\n  ".join(f"{c} (a directory, not a model file)" if c.is_dir() else str(c) for c in candidates)
    raise ModelError(f"model {raw!r} not found; looked in:\n  {looked}\n{HOW_TO_CONFIGURE}")


def backend_for(path: Path, backend: str | None = None) -> type[Detector]:
    known = backends()
    if backend is not None:
        try:
            return known[backend]
        except KeyError:
            raise ModelError(f"unknown back-end {backend!r}; known: {sorted(known)}") from None
    suffix = path.suffix.lower()
    for cls in known.values():
        if suffix in cls.suffixes:
            return cls
    handled = sorted({s for cls in known.values() for s in cls.suffixes})
    raise ModelError(f"{path}: no back-end loads {suffix or 'files without a suffix'} (known: {handled})")


def load_detector(
    model: str | Path,
    *,
    models_dir: Path | str | None = None,
    backend: str | None = None,
    conf: float = 0.25,
    iou: float = 0.45,
    device: str = "auto",
    threads: int = 2,
    max_batch: int = 8,
) -> Detector:
    """Resolve `model`, pick its back-end (explicit `backend`, else by file suffix), check it against
    its model card if one names the file (see models.model_card), load it and run one test inference.
    Every failure is a ModelError raised here, at start-up."""
    path = resolve_model_path(model, models_dir)
    try:
        options = DetectorOptions(conf=conf, iou=iou, device=device, threads=threads, max_batch=max_batch)
    except ValueError as exc:
        raise ModelError(f"invalid detector options: {exc}") from exc
    cls = backend_for(path, backend)
    card = card_for(path)
    return cls.from_file(path, options, card)
