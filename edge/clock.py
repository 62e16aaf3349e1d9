"""Wall-clock stamps that follow steps of the system clock, on top of monotonic stream time.

The edge measures every interval (dwell, clear and stall timers, receipt resends, reference saves) on the
monotonic clock, which never jumps. Messages need unix seconds, and a box without a real-time clock boots
with a wrong wall clock that NTP later steps (often by minutes or years). An offset monotonic → unix taken
once at start would stamp every later event with the boot-time error, so `WallClock.sync()` re-reads the
wall clock (the pipeline calls it for every analysed frame) and `to_unix()` always uses the latest offset.
A change of more than `step_s` is logged as a step; smaller ones (NTP slewing) are followed silently.

After a step, a monotonic instant from before the step is also stamped on the new time: NTP stepped the
clock because the old time was wrong, so the new offset is the better estimate of when that frame was taken.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("doorline.edge.clock")


class WallClock:
    """`to_unix(monotonic seconds)` → unix seconds; `now()` the (injectable) wall clock."""

    def __init__(
        self,
        time_fn: Callable[[], float] = time.time,
        monotonic_fn: Callable[[], float] = time.monotonic,
        *,
        step_s: float = 1.0,
    ) -> None:
        self._time, self._monotonic = time_fn, monotonic_fn
        self.step_s = step_s
        self._lock = threading.Lock()
        self._offset = time_fn() - monotonic_fn()
        self.steps = 0  # steps of more than `step_s` seen since start
        self.last_step_s = 0.0

    def now(self) -> float:
        return self._time()

    def monotonic(self) -> float:
        return self._monotonic()

    def sync(self) -> float:
        """Re-read the wall clock; returns the current offset (unix - monotonic)."""
        offset = self._time() - self._monotonic()
        with self._lock:
            change = offset - self._offset
            if abs(change) > self.step_s:
                self.steps += 1
                self.last_step_s = change
                log.warning("the system clock stepped by %+.1f s; messages are stamped on the new time from now on",
                            change)
            self._offset = offset
        return offset

    def to_unix(self, monotonic_s: float) -> float:
        return monotonic_s + self._offset


SYSTEM_CLOCK = WallClock()  # the default of sources that were not handed the pipeline's clock
