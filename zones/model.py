"""Zones of one camera: the shop-front areas where trading or piled goods are looked for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wire.schema import VIOLATIONS
from zones.rules import RuleConfig


@dataclass(frozen=True, eq=False)
class Zone:
    """`polygon` (k, 2) float image pixels; `door_line` (2, 2) the shop's door threshold, or None.

    `rules` holds this zone's overrides of the camera's RuleConfig fields (validated when loaded)."""

    zone_id: str
    shop_id: str | None
    polygon: np.ndarray
    door_line: np.ndarray | None = None
    violations: tuple[str, ...] = VIOLATIONS
    rules: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        poly = np.asarray(self.polygon, dtype=np.float64)
        if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
            raise ValueError(f"zone {self.zone_id!r}: polygon must have shape (k>=3, 2), got {poly.shape}")
        poly.setflags(write=False)
        object.__setattr__(self, "polygon", poly)
        if self.door_line is not None:
            line = np.asarray(self.door_line, dtype=np.float64)
            if line.shape != (2, 2):
                raise ValueError(f"zone {self.zone_id!r}: door_line must have shape (2, 2), got {line.shape}")
            line.setflags(write=False)
            object.__setattr__(self, "door_line", line)
        object.__setattr__(self, "violations", tuple(self.violations))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(x1, y1, x2, y2) of the polygon."""
        x1, y1 = self.polygon.min(axis=0)
        x2, y2 = self.polygon.max(axis=0)
        return float(x1), float(y1), float(x2), float(y2)


@dataclass(frozen=True, eq=False)
class CameraZones:
    camera_id: str
    site_id: str | None
    frame_size: tuple[int, int] | None  # (width, height) the polygons are drawn for
    zones: list[Zone]
    rules: RuleConfig = field(default_factory=RuleConfig)

    def zone(self, zone_id: str) -> Zone:
        for z in self.zones:
            if z.zone_id == zone_id:
                return z
        raise KeyError(f"no zone {zone_id!r} on camera {self.camera_id!r}")

    def rules_for(self, zone_id: str) -> RuleConfig:
        return self.rules.merged(self.zone(zone_id).rules)
