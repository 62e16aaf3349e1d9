"""Which person boxes are people standing (not walking past), whatever their tracks.

The static-object model has a second, lower threshold where the texture changed (`edge.background`), and a
person's clothes are texture. A person who stands still is missed by the detector now and then, for a second
or two at a time, and their track may come back under a new id: behind no box then, their pixels would count
as an object. So standing is read off the boxes themselves, not off track ids: a person box that lies in nearly
the same place as person boxes of `min_frames` earlier frames, `min_s` to `window_s` before it, stands. A walker
has moved a good part of their width by then, and on a busy pavement one walker following another along the
same line matches one earlier frame now and then, not several.
"""

from __future__ import annotations

import numpy as np

from edge.tracker import box_iou

MATCH_IOU = 0.5  # a person box overlapping an earlier one this much is in nearly the same place


class StandingPeople:
    """Per camera: the person boxes of the last `window_s` seconds."""

    def __init__(self, min_s: float = 1.0, window_s: float = 4.0, min_frames: int = 2) -> None:
        self.min_s = min_s
        self.window_s = window_s
        self.min_frames = min_frames
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
        standing = np.array([len(np.unique(times[row])) >= self.min_frames for row in match], bool)
        self.boxes = np.concatenate([self.boxes, boxes])
        self.seen = np.concatenate([self.seen, np.full(len(boxes), ts)])
        return standing
