"""Ghosts: a static object where the reference holds something and the frame does not.

An object the model never saw as foreground (too faint for its thresholds, or hidden behind people for a
while) is slowly learned into the reference. When it is taken away, the bare ground differs from that
reference and would stand there as a "static object": a pile raised a dwell after the removal, or an episode
kept open. A frame cannot tell the two apart by itself (a smooth sack on rough asphalt hides texture as the
bare asphalt of its ghost shows texture), but memory can: beside the reference the model keeps a far slower
one (`StaticModelParams.ghost_tau_s`), which an object standing for a minute or two has barely touched. Where
a component that has just turned static is far closer to that older picture than to the reference, the ground
has come back: the component is a ghost, and the caller learns its pixels afresh from the frame.
"""

from __future__ import annotations

import cv2
import numpy as np

_TOUCH = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


def ghosts(static: np.ndarray, new: np.ndarray, cur: np.ndarray, ref: np.ndarray, old: np.ndarray,
           share: float) -> np.ndarray:
    """Pixels to learn afresh: the static components (8-connected in `static`, (h, w) bool, one zone's
    crop) that hold pixels turned static this step (`new`) and whose mean distance (grey levels) from the
    older reference `old` is below `share` of their mean distance from the reference `ref`, grown by a
    pixel. `cur`, `ref`, `old`: (h, w) float32 grey levels."""
    out = np.zeros(static.shape, bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(static.view(np.uint8), connectivity=8)
    if count < 2:
        return out
    h, w = static.shape
    for k in np.unique(labels[new]).tolist():
        x, y, bw, bh = stats[k, :4].tolist()
        y1, y2, x1, x2 = max(0, y - 1), min(h, y + bh + 1), max(0, x - 1), min(w, x + bw + 1)
        inside = labels[y1:y2, x1:x2] == k
        c = cur[y1:y2, x1:x2][inside]
        to_ref = float(np.abs(c - ref[y1:y2, x1:x2][inside]).mean())
        to_old = float(np.abs(c - old[y1:y2, x1:x2][inside]).mean())
        if to_old < share * to_ref:
            out[y1:y2, x1:x2] |= cv2.dilate(inside.view(np.uint8), _TOUCH).view(bool)
    return out
