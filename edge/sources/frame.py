"""What a source hands to the pipeline: one decoded frame with its stream time, and the source's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from wire.schema import GeoPoint


class SourceState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    STALLED = "stalled"  # connected, but no frame for `stall_timeout_s`
    RECONNECTING = "reconnecting"
    ENDED = "ended"  # a file (or image folder) was read to its end
    FAILED = "failed"  # gave up: unreadable file, or reconnect attempts exhausted


class SourceError(RuntimeError):
    """A source that cannot be opened or read (missing file, not a video, bad URL, bad telemetry)."""


@dataclass(frozen=True, eq=False)
class Frame:
    """`ts` is stream seconds: the file position (CAP_PROP_POS_MSEC) for files, the monotonic arrival time
    for live sources. `index` counts decoded frames (sampled or not) since the source started."""

    camera_id: str
    index: int
    ts: float
    image: np.ndarray
    geo: GeoPoint | None = None
    telemetry: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return w, h
