"""YOLO-format datasets on disk: a by-tile split written as links, and a validity check."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from models.evaluate import EvalError, find_dataset, read_labels
from models.splits import split_by_tile, tile_key


class DatasetError(ValueError):
    """A dataset that cannot be written or is not a valid YOLO dataset."""


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(src.resolve(), dst)


def write_split(
    data: Path, out: Path, *, val_fraction: float = 0.2, seed: int = 0, names: list[str] | None = None
) -> tuple[Path, dict[str, int]]:
    """`out/train` and `out/val` (images/ and labels/ as symlinks to `data`'s files) and `out/data.yaml`;
    every copy of a tile on one side (models.splits). Returns the data.yaml path and the counts."""
    ds = find_dataset(data, names)
    train, val = split_by_tile(ds.images, val_fraction, seed)
    if not train or not val:
        raise DatasetError(f"{data}: a {val_fraction} split of {len(ds.images)} images leaves one side empty")
    out = Path(out)
    for side, images in (("train", train), ("val", val)):
        for img in images:
            _link(img, out / side / "images" / img.name)
            label = ds.labels_dir / f"{img.stem}.txt"
            if label.is_file():
                _link(label, out / side / "labels" / label.name)
    yaml_path = out / "data.yaml"
    yaml_path.write_text(
        yaml.safe_dump(
            {
                "path": str(out.resolve()),
                "train": "train/images",
                "val": "val/images",
                "nc": len(ds.names),
                "names": ds.names,
                "split": {"by": "tile", "val_fraction": val_fraction, "seed": seed, "source": str(Path(data))},
            },
            sort_keys=False,
            allow_unicode=True,
        )
    )
    counts = {
        "train": len(train),
        "val": len(val),
        "train_tiles": len({tile_key(p) for p in train}),
        "val_tiles": len({tile_key(p) for p in val}),
    }
    return yaml_path, counts


def check_yolo_dataset(split_dir: Path) -> dict[str, int]:
    """Reads every label of a YOLO folder (images/, labels/, data.yaml here or one up) and checks that each
    box lies inside its image; returns counts. DatasetError names the first problem."""
    import cv2

    try:
        ds = find_dataset(split_dir)
    except EvalError as exc:
        raise DatasetError(str(exc)) from exc
    boxes = negatives = 0
    for img in ds.images:
        frame = cv2.imread(str(img))
        if frame is None:
            raise DatasetError(f"{img}: unreadable image")
        h, w = frame.shape[:2]
        try:
            cls, xyxy = read_labels(ds.labels_dir / f"{img.stem}.txt", w, h, len(ds.names))
        except EvalError as exc:
            raise DatasetError(str(exc)) from exc
        if len(cls) == 0:
            negatives += 1
        if len(xyxy) and (xyxy.min() < -1 or xyxy[:, 2].max() > w + 1 or xyxy[:, 3].max() > h + 1):
            raise DatasetError(f"{img}: a box lies outside the {w}x{h} image")
        boxes += len(cls)
    return {"images": len(ds.images), "boxes": boxes, "negatives": negatives, "classes": len(ds.names)}
