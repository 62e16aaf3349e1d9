"""Which person boxes are people standing (not walking past), whatever their tracks.

The static-object model has a second, lower threshold where the texture changed (`edge.background`), and a
person's clothes are texture. A person who stands still is missed by the detector now and then, for a second
or two at a time, and their track may come back under a new id: behind no box then, their pixels would count
as an object. So standing is read off the boxes themselves, not off track ids: a person box that lies in nearly
the same place as person boxes of earlier frames `min_s` to `window_s` before it, frames at least `span_s`
apart, stands. A walker has moved a good part of their width by then, and on a busy pavement one walker
following another along the same line matches an earlier frame now and then, not a second one a second away.
The span, not a count of frames: far from the camera a walker crosses a few pixels a second and matched two
frames half a second apart often enough to keep a faint object beside their path held for good (the hold of
the static-object model's texture cue), as did a person pausing to set a bag down; and a count means another
thing at each analysis rate.
"""

from __future__ import annotations

import numpy as np

from edge.tracker import box_iou

MATCH_IOU = 0.5  # a person box overlapping an earlier one this much is in nearly the same place


class StandingPeople:
    """Per camera: the person boxes of the last `window_s` seconds."""

    def __init__(self, min_s: float = 1.0, window_s: float = 4.0, span_s: float = 1.0) -> None:
        self.min_s = min_s
        self.window_s = window_s
        self.span_s = span_s
        self.boxes = np.zeros((0, 4))
        self.seen = np.zeros(0)

    def update(self, xyxy: np.ndarray, ts: float) -> np.ndarray:
        """Bool per person box (`xyxy` (n, 4)): the person stands."""
        boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
        keep = (ts - self.seen <= self.window_s) & (self.seen <= ts)  # (a clip played backwards starts over)
        self.boxes, self.seen = self.boxes[keep], self.seen[keep]
        earlier = ts - self.seen >= self.min_s
        match = box_iou(boxes, self.boxes[earlier]) >= MATCH_IOU
        times = self.seen[earlier]
        standing = np.array([row.any() and np.ptp(times[row]) >= self.span_s for row in match], bool)
        self.boxes = np.concatenate([self.boxes, boxes])
        self.seen = np.concatenate([self.seen, np.full(len(boxes), ts)])
        return standing
