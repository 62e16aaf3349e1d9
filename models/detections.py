"""One detections type for every stage: parallel numpy arrays, never mutated in place."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Detections:
    """`xyxy` (n, 4) float32 image pixels; `confidence` (n,) float32; `class_id` (n,) int32;
    `tracker_id` (n,) int64 or None before tracking; `data` holds extra per-row arrays (e.g. "class_name")."""

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    tracker_id: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (n, 4), got {self.xyxy.shape}")
        for name in ("confidence", "class_id"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {getattr(self, name).shape}")
        if self.tracker_id is not None and self.tracker_id.shape != (n,):
            raise ValueError(f"tracker_id must have shape ({n},), got {self.tracker_id.shape}")
        for key, value in self.data.items():
            if len(value) != n:
                raise ValueError(f"data[{key!r}] has {len(value)} rows, expected {n}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros(0, np.float32),
            class_id=np.zeros(0, np.int32),
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice | int | list[int]) -> Detections:
        if isinstance(index, int):
            index = [index]
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
            data={k: v[index] for k, v in self.data.items()},
        )

    def with_tracker_id(self, tracker_id: np.ndarray) -> Detections:
        return replace(self, tracker_id=np.asarray(tracker_id, dtype=np.int64))

    def anchors(self, anchor: str = "bottom_center") -> np.ndarray:
        """(n, 2) points: `bottom_center` (where an object stands on the ground) or `center`."""
        x1, y1, x2, y2 = self.xyxy.T
        if anchor == "bottom_center":
            return np.stack([(x1 + x2) / 2, y2], axis=1)
        if anchor == "center":
            return np.stack([(x1 + x2) / 2, (y1 + y2) / 2], axis=1)
        raise ValueError(f"unknown anchor {anchor!r}: use bottom_center or center")

    @property
    def area(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])

    @classmethod
    def merge(cls, parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        keys = set.intersection(*(set(p.data) for p in parts))
        tids = [p.tracker_id for p in parts]
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=None if any(t is None for t in tids) else np.concatenate(tids),
            data={k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )
