"""Per-camera analysis rate, decided from the stream's own timestamps (never from frame counts).

The decode thread grabs every frame (cheap) and asks `Sampler.want(ts)` whether to retrieve it; only the
frames it keeps are converted to BGR and sent on to detection. A 25 fps stream analysed at 2 fps thus
costs 25 grabs but only 2 conversions per second, which is what lets one worker carry many cameras.
"""

from __future__ import annotations

import threading


class Sampler:
    """Keeps one frame per `1 / fps` seconds of stream time. `fps=None` (or 0) keeps every frame.

    The grid is anchored at the first kept frame, so a stream at 10 fps sampled at 2 fps keeps exactly
    every fifth frame, and a stream with jittery or missing timestamps keeps the first frame at or after
    each grid point. A backwards jump (a file looped or a live stream restarted) re-anchors the grid."""

    def __init__(self, fps: float | None = None) -> None:
        self._lock = threading.Lock()
        self._next: float | None = None
        self._last: float | None = None
        self.kept = 0
        self.seen = 0
        self.set_fps(fps)

    @property
    def fps(self) -> float | None:
        return self._fps

    def set_fps(self, fps: float | None) -> None:
        if fps is not None and fps < 0:
            raise ValueError(f"analysis fps must be >= 0, got {fps}")
        with self._lock:
            self._fps = fps if fps else None
            self._period = 1.0 / fps if fps else 0.0
            if self._last is not None and self._next is not None:
                self._next = self._last + self._period

    def want(self, ts: float) -> bool:
        with self._lock:
            self.seen += 1
            if self._last is not None and ts < self._last:
                self._next = None  # time went backwards: start a new grid
            self._last = ts
            # 1 ms tolerance: millisecond-rounded timestamps (0.499 for 0.5) still land on the grid.
            if self._next is None or ts >= self._next - 1e-3:
                if self._period == 0.0:
                    self._next = ts
                elif self._next is None or ts - self._next >= self._period:
                    self._next = ts + self._period  # fell behind by more than a period: re-anchor
                else:
                    self._next += self._period
                self.kept += 1
                return True
            return False
