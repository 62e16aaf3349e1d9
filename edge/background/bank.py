"""`StaticBank`: a camera's piled-goods zones, in sheets by parameters and mover group."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from edge.background.layout import StaticModelParams, StaticState, kernel_radius
from edge.background.sheet import _Sheet


class StaticBank:
    """The static-object model of every piled-goods zone of a camera. `update` once per analysed frame, in
    stream-time order; it returns each zone's `StaticState`.

    `zones`: zone id -> (polygon in frame px, parameters, mover group). Zones whose movers (people and
    vehicles that are masked out) come from different rule sets name different mover groups; `update`
    takes the mover boxes per group."""

    def __init__(self, zones: Mapping[str, tuple[np.ndarray, StaticModelParams, object]],
                 frame_size: tuple[int, int]) -> None:
        groups: dict[tuple, list[str]] = {}
        for zid, (_, params, movers) in zones.items():
            groups.setdefault((params, movers), []).append(zid)
        # zones of one shake radius next to each other: fewer runs of filters
        radius = {z: kernel_radius(zones[z][0], frame_size, zones[z][1]) for z in zones}
        self.sheets: list[tuple[_Sheet, list[str], object]] = []
        for (params, movers), ids in groups.items():
            ids = sorted(ids, key=radius.__getitem__)
            self.sheets.append((_Sheet([zones[z][0] for z in ids], frame_size, params, ids), ids, movers))
        self._where = {z: (k, i) for k, (_, ids, _) in enumerate(self.sheets) for i, z in enumerate(ids)}

    def update(self, frame_bgr: np.ndarray, ts: float, movers: Mapping[object, np.ndarray],
               standing: Mapping[object, np.ndarray] | None = None) -> dict[str, StaticState]:
        """`movers`, `standing`: per mover group, the boxes masked out and those of people standing still."""
        out: dict[str, StaticState] = {}
        for sheet, ids, group in self.sheets:
            still = None if standing is None else standing[group]
            out.update(zip(ids, sheet.update(frame_bgr, ts, movers[group], still), strict=True))
        return out

    def __contains__(self, zone_id: object) -> bool:
        return zone_id in self._where

    def snapshot(self) -> dict[str, dict[str, np.ndarray]]:
        """What the model has learned of the empty zones, per sheet key (see `_Sheet.snapshot`)."""
        return {sheet.key: sheet.snapshot() for sheet, _, _ in self.sheets}

    @property
    def view_changes(self) -> int:
        """Times a sheet of zones learned afresh because the camera's view had changed (`_Sheet._view_changed`)."""
        return sum(sheet.view_changes for sheet, _, _ in self.sheets)

    @property
    def restored_zones(self) -> list[str]:
        """Zones running on a restored reference (not those whose view turned out to have changed)."""
        return [z for sheet, ids, _ in self.sheets if sheet.restored for z in ids]

    def restore(self, saved: Mapping[str, Mapping[str, np.ndarray]]) -> list[str]:
        """Restore every sheet whose key `saved` holds (same frame size, parameters and zones); the ids of the
        zones restored. Sheets that changed start afresh, as they would without a snapshot."""
        done: list[str] = []
        for sheet, ids, _ in self.sheets:
            if sheet.key in saved:
                sheet.restore(saved[sheet.key])
                done += ids
        return done

    def reset(self, zone_id: str) -> None:
        k, i = self._where[zone_id]
        self.sheets[k][0].reset(i)

    def take_zones(self, old: StaticBank, zone_ids: Iterable[str]) -> list[str]:
        """Carry `zone_ids` over from `old`, the bank these zones ran in before a zones reload or a change of
        frame size (see `_Sheet.take_zone`); the ids carried (those both banks hold)."""
        done = []
        for zid in zone_ids:
            if zid in self._where and zid in old._where:
                k, i = self._where[zid]
                ok, oi = old._where[zid]
                self.sheets[k][0].take_zone(i, old.sheets[ok][0], oi)
                done.append(zid)
        return done
