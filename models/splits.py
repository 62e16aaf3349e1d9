"""A deterministic train / validation split by source TILE (or photo), not by file.

Roboflow exports keep each source image as several augmented files named
`<source stem>_png.rf.<hash>.jpg` (or `_jpg.rf.`): the copies of one tile must all land in the same split,
or the validation figure measures memory, not generalisation. A file's split depends only on its source
key's sha256 (never on the other files or on the order they are listed), so adding tiles later never
moves an old tile to the other side."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

_RF_SUFFIX = re.compile(r"_(png|jpg|jpeg|bmp|webp)\.rf\.[0-9a-f]+$", re.IGNORECASE)
DEFAULT_VAL_FRACTION = 0.2


def tile_key(path: Path | str) -> str:
    """The source tile of a file: its stem before `_png.rf.` (or `_jpg.rf.`), else the whole stem."""
    stem = Path(path).stem
    return _RF_SUFFIX.sub("", stem)


def in_validation(key: str, val_fraction: float = DEFAULT_VAL_FRACTION, seed: int = 0) -> bool:
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < val_fraction


def split_by_tile(
    paths: Iterable[Path], val_fraction: float = DEFAULT_VAL_FRACTION, seed: int = 0
) -> tuple[list[Path], list[Path]]:
    """(train, validation) lists, sorted; every copy of a tile on the same side."""
    train: list[Path] = []
    val: list[Path] = []
    for p in sorted(paths):
        (val if in_validation(tile_key(p), val_fraction, seed) else train).append(p)
    return train, val


def select_split(
    paths: Iterable[Path], split: str, val_fraction: float = DEFAULT_VAL_FRACTION, seed: int = 0
) -> list[Path]:
    """`split` is "all", "train" or "val"."""
    paths = sorted(paths)
    if split == "all":
        return paths
    train, val = split_by_tile(paths, val_fraction, seed)
    if split == "train":
        return train
    if split == "val":
        return val
    raise ValueError(f"split must be all, train or val, got {split!r}")
