"""`ZoneStaticModel`: the static-object model of a single zone, with its arrays as views (for tests)."""

from __future__ import annotations

import math

import numpy as np

from edge.background.layout import StaticModelParams, StaticState
from edge.background.sheet import _Sheet


class ZoneStaticModel:
    """The static-object model of a single zone (`StaticBank` with one zone), with its arrays as views."""

    def __init__(self, polygon: np.ndarray, frame_size: tuple[int, int],
                 params: StaticModelParams | None = None) -> None:
        self.p = params or StaticModelParams()
        self._sheet = _Sheet([polygon], frame_size, self.p)
        t = self._sheet.tiles[0]
        self.crop, self.scale, self.size = t.crop, t.scale, t.size
        self._area = (t.rows, t.cols)

    def _view(self, a: np.ndarray) -> np.ndarray:
        return a[self._area]

    zone_mask = property(lambda self: self._view(self._sheet.zone_mask))
    ref = property(lambda self: self._view(self._sheet.ref))
    known = property(lambda self: self._view(self._sheet.known))
    fg = property(lambda self: self._view(self._sheet.fg))
    static = property(lambda self: self._view(self._sheet.static))

    @property
    def static_mask(self) -> np.ndarray:
        """Bool (h, w) static pixels of the crop (read-only view)."""
        v = self._view(self._sheet.static).view()
        v.setflags(write=False)
        return v

    @property
    def t0(self) -> float | None:
        t0 = float(self._sheet.t0[0])
        return None if math.isnan(t0) else t0

    def reset(self) -> None:
        self._sheet.reset()

    def update(self, frame_bgr: np.ndarray, ts: float, mover_boxes: np.ndarray,
               standing: np.ndarray | None = None) -> StaticState:
        """Advance the model by one frame at stream time `ts` (s); `mover_boxes` (n, 4) image px of people
        and vehicles, whose (expanded) boxes are neither judged nor learned from; `standing`: those of people
        standing still (the texture cue waits there). Called again sooner than about 1 / `max_fps` seconds
        after its last run, it returns that run's state unchanged."""
        return self._sheet.update(frame_bgr, ts, mover_boxes, standing)[0]

    def at(self, box: tuple[float, float, float, float]) -> tuple[slice, slice]:
        """Rows and columns of the crop's arrays (`static`, `fg`, ...) where the frame box `box` (x1, y1, x2, y2
        image px) lies."""
        (x0, y0, _, _), f = self.crop, self.scale
        return (slice(round((box[1] - y0) * f), round((box[3] - y0) * f)),
                slice(round((box[0] - x0) * f), round((box[2] - x0) * f)))
