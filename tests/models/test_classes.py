from __future__ import annotations

import numpy as np
import pytest

from models.classes import COCO80, GOODS, PERSON, VEHICLE, ClassMap
from models.detections import Detections


def _dets(names: list[str], class_names: list[str]) -> Detections:
    ids = np.array([class_names.index(n) for n in names], dtype=np.int32)
    n = len(ids)
    return Detections(
        xyxy=np.tile(np.array([[0, 0, 10, 10]], np.float32), (n, 1)),
        confidence=np.full(n, 0.9, np.float32),
        class_id=ids,
    )


def test_coco80_is_complete_and_groups_are_coco_names() -> None:
    assert len(COCO80) == 80 and len(set(COCO80)) == 80
    assert COCO80[0] == "person" and COCO80[5] == "bus" and COCO80[79] == "toothbrush"
    for group in (PERSON, VEHICLE, GOODS):
        assert group <= set(COCO80)
    assert {"chair", "dining table", "umbrella", "suitcase", "bicycle"} <= GOODS
    assert {"car", "bus", "truck", "motorcycle", "bicycle"} <= VEHICLE


@pytest.mark.parametrize(
    ("names", "strict", "expected", "error"),
    [
        (["person", "bus"], False, [0, 5], None),
        (["bus", "person", "bus"], False, [0, 5], None),
        ("chair", False, [56], None),
        (["person", "garbage bag"], False, [0], None),
        (["person", "garbage bag"], True, None, KeyError),
        ([], False, [], None),
    ],
)
def test_ids(names, strict, expected, error) -> None:
    cmap = ClassMap(COCO80)
    if error:
        with pytest.raises(error, match="garbage bag"):
            cmap.ids(names, strict=strict)
    else:
        got = cmap.ids(names, strict=strict)
        assert got.dtype == np.int32 and got.tolist() == expected


@pytest.mark.parametrize(
    ("group", "expected", "error"),
    [
        ("person", [True, False, False, False, False], None),
        ("vehicle", [False, True, True, False, False], None),
        ("goods", [False, False, True, True, False], None),  # a bicycle is both
        ("stalls", None, KeyError),
    ],
)
def test_group_mask(group, expected, error) -> None:
    cmap = ClassMap(COCO80)
    dets = _dets(["person", "bus", "bicycle", "chair", "toothbrush"], list(COCO80))
    if error:
        with pytest.raises(error, match="unknown class group"):
            cmap.group_mask(dets, group)
    else:
        mask = cmap.group_mask(dets, group)
        assert mask.dtype == bool and mask.tolist() == expected


def test_custom_class_list_and_groups() -> None:
    names = ["bag", "person", "cart"]
    cmap = ClassMap(names, groups={"goods": ["bag", "cart"], "stalls": ["cart"]})
    dets = _dets(["cart", "person", "bag", "bag"], names)
    assert cmap.group_mask(dets, "goods").tolist() == [True, False, True, True]
    assert cmap.group_mask(dets, "stalls").tolist() == [True, False, False, False]
    assert cmap.group_mask(dets, "person").tolist() == [False, True, False, False]
    assert cmap.group_mask(dets, "vehicle").tolist() == [False] * 4
    assert cmap.mask(dets, ["bag"]).tolist() == [False, False, True, True]


def test_masks_of_empty_and_out_of_range_ids() -> None:
    cmap = ClassMap(["person"])
    assert cmap.group_mask(Detections.empty(), "person").shape == (0,)
    odd = Detections(np.zeros((2, 4), np.float32), np.ones(2, np.float32), np.array([0, 7], np.int32))
    assert cmap.group_mask(odd, "person").tolist() == [True, False]
