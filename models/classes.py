"""COCO-80 class names, the class groups Doorline reasons about, and `ClassMap` (names → a detector's ids).

Groups:
- PERSON: people (traders, customers).
- VEHICLE: road vehicles (a bicycle is both a vehicle and a goods-like object: a parked cart or bike rack).
- GOODS: COCO classes that stand in for goods, racks, tables and stalls placed outside a shop door
  (no public detector knows "piled goods"; these are the nearest COCO classes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from models.detections import Detections

COCO80: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

PERSON: frozenset[str] = frozenset({"person"})
VEHICLE: frozenset[str] = frozenset({"bicycle", "car", "motorcycle", "bus", "truck", "train", "boat"})
GOODS: frozenset[str] = frozenset(
    {
        "chair", "dining table", "bench", "couch", "umbrella", "potted plant", "suitcase", "backpack",
        "handbag", "bottle", "bicycle", "bowl", "cup", "vase", "book", "refrigerator", "tv",
        "sports ball", "teddy bear", "banana", "apple", "orange", "broccoli", "carrot",
        "microwave", "oven", "toaster",
    }
)  # fmt: skip

DEFAULT_GROUPS: dict[str, frozenset[str]] = {"person": PERSON, "vehicle": VEHICLE, "goods": GOODS}


class ClassMap:
    """Resolves class names to one detector's class ids and gives per-group boolean masks.

    `groups` overrides or extends the default groups (name → class names); names a detector does not
    know are ignored for masks, but `ids(..., strict=True)` reports them."""

    def __init__(
        self,
        class_names: Sequence[str],
        groups: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.class_names: list[str] = list(class_names)
        self._index = {name: i for i, name in enumerate(self.class_names)}
        merged = {k: frozenset(v) for k, v in DEFAULT_GROUPS.items()}
        for key, names in (groups or {}).items():
            merged[key] = frozenset(names)
        self.groups: dict[str, frozenset[str]] = merged
        self._group_lut = {key: self._lut(names) for key, names in merged.items()}

    def _lut(self, names: Iterable[str]) -> np.ndarray:
        lut = np.zeros(len(self.class_names), dtype=bool)
        lut[self.ids(names)] = True
        return lut

    def ids(self, names: Iterable[str], *, strict: bool = False) -> np.ndarray:
        """int32 ids of `names` in this detector's class list (unknown names skipped unless strict)."""
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in self._index]
        if strict and unknown:
            raise KeyError(f"classes not known to this detector: {unknown}")
        return np.array(sorted({self._index[n] for n in names if n in self._index}), dtype=np.int32)

    def mask(self, detections: Detections, names: Iterable[str]) -> np.ndarray:
        """Boolean mask of detections whose class is one of `names`."""
        return self._mask_from_lut(detections, self._lut(names))

    def group_mask(self, detections: Detections, group: str) -> np.ndarray:
        """Boolean mask of detections in `group` ("person", "vehicle", "goods" or a configured group)."""
        try:
            lut = self._group_lut[group]
        except KeyError:
            raise KeyError(f"unknown class group {group!r}; known: {sorted(self._group_lut)}") from None
        return self._mask_from_lut(detections, lut)

    @staticmethod
    def _mask_from_lut(detections: Detections, lut: np.ndarray) -> np.ndarray:
        cid = detections.class_id
        valid = (cid >= 0) & (cid < len(lut))
        out = np.zeros(len(cid), dtype=bool)
        out[valid] = lut[cid[valid]]
        return out
