"""The by-tile split: a tile's augmented copies never straddle train and validation, and it never moves."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from models.datasets import DatasetError, check_yolo_dataset, write_split
from models.splits import in_validation, select_split, split_by_tile, tile_key


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("girardot_reample_chip_14_32_png.rf.4664138e8e9dbfa4cd27d239690e9473.jpg", "girardot_reample_chip_14_32"),
        ("bag_12_jpg.rf.00ff.jpg", "bag_12"),
        ("plain_photo.jpg", "plain_photo"),
        ("chip_png_rf.jpg", "chip_png_rf"),  # not the Roboflow pattern: the whole stem
    ],
)
def test_tile_key(name: str, key: str) -> None:
    assert tile_key(name) == key


def test_real_drone_vendors_split_keeps_tiles_whole(data_dir: Path) -> None:
    images = sorted((data_dir / "drone-vendors" / "train" / "images").iterdir())
    train, val = split_by_tile(images)
    assert len(train) + len(val) == len(images) == 963
    side: dict[str, set[str]] = defaultdict(set)
    for name, part in [(p, "train") for p in train] + [(p, "val") for p in val]:
        side[tile_key(name)].add(part)
    assert len(side) == 321 and all(len(s) == 1 for s in side.values())
    val_tiles = {tile_key(p) for p in val}
    assert 0.15 < len(val_tiles) / 321 < 0.25  # about the asked 20 % of tiles
    assert all(len([p for p in val if tile_key(p) == k]) == 3 for k in val_tiles)
    # deterministic and independent of the listing: the reversed list and a subset give the same sides
    assert split_by_tile(list(reversed(images)))[1] == val
    assert split_by_tile(images[:300])[1] == [p for p in val if p in images[:300]]
    assert select_split(images, "val") == val and select_split(images, "all") == images
    assert split_by_tile(images, seed=1)[1] != val


def test_fraction_checked() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        in_validation("x", 1.5)
    with pytest.raises(ValueError, match="split must be"):
        select_split([], "test")


def test_write_split_makes_a_valid_dataset(data_dir: Path, tmp_path: Path) -> None:
    yaml_path, counts = write_split(data_dir / "sidewalk-bags" / "valid", tmp_path / "ds", val_fraction=0.3)
    assert yaml_path.is_file() and counts["train"] + counts["val"] == 45
    assert (tmp_path / "ds" / "val" / "images").is_dir()
    got = check_yolo_dataset(tmp_path / "ds" / "val")
    assert got["images"] == counts["val"] and got["classes"] == 4 and got["boxes"] > 0
    with pytest.raises(DatasetError, match="one side empty"):
        write_split(data_dir / "sidewalk-bags" / "valid", tmp_path / "none", val_fraction=0.0001)
