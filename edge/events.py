"""What the zone analysis hands to the rest of the edge pipeline (plain data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ZoneEvent:
    """One phase of one violation episode in one zone.

    `event_id` (UUIDv7, from `wire.ids.new_id`) is the same for the start, updates and end of an episode;
    `seq` orders those phases. `ts` is the stream time of the frame (for files: seconds from the start).
    `boxes` (n, 4) are image pixels of the offending objects. `reason` is set on an `end`: "cleared" (the
    zone was clear for `clear_s`) or why the edge stopped watching the zone (`edge.lifecycle` names them).
    """

    event_id: str
    seq: int
    zone_id: str | None  # None for a drone's sighting, placed on a shop by its ground point
    shop_id: str | None
    violation: str  # "cross_door_trading" | "piled_goods"
    phase: str  # "start" | "update" | "end"
    ts: float
    score: float
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    reason: str | None = None
