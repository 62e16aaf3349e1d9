"""Which vehicle detections hide their box from the static-object model.

People and vehicles pass in front of goods, so the static-object model (`edge.background`) does not judge the
pixels under their boxes. But a detector also calls a small object far from the camera a "car" (a sack on far
grass, scored 0.3–0.5 as `car` on nearly every frame: docs/ACCURACY.md), and masking that box hides the very
object the zone is watched for. A vehicle earns its mask by moving: it drove (or was wheeled) in, or it stands
where such a vehicle stood; one that only ever stood where nothing came, after the camera's first seconds,
is judged like any other object. Vehicles seen in the first `settle_s` were there before the zones' empty
look was known and keep their mask: a car parked at start-up must not be learned as empty street and then
leave a "pile" of bare asphalt behind it.
"""

from __future__ import annotations

import numpy as np

from edge.tracker import box_iou

MATCH_IOU = 0.5  # a vehicle box overlapping a remembered masked one this much stands in its place


class VehicleMasks:
    """Per camera: remembers where masked vehicles stood, so a parked car whose track was lost and found
    again (a new id that never moved) keeps its mask. Places unseen for `forget_s` are forgotten."""

    def __init__(self, settle_s: float = 10.0, forget_s: float = 30.0) -> None:
        self.settle_s = settle_s
        self.forget_s = forget_s
        self.t0: float | None = None
        self.places = np.zeros((0, 4))
        self.seen = np.zeros(0)

    def update(self, xyxy: np.ndarray, moved: np.ndarray, ts: float) -> np.ndarray:
        """Bool per vehicle box (`xyxy` (n, 4), `moved`: its track has moved): it masks the static-object
        model."""
        if self.t0 is None or ts < self.t0:
            self.t0 = ts
        boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
        live = ts - self.seen <= self.forget_s
        self.places, self.seen = self.places[live], self.seen[live]
        mask = np.asarray(moved, bool).copy()
        if ts - self.t0 < self.settle_s:
            mask[:] = True
        match = box_iou(boxes, self.places)  # (n, 0) while no place is remembered
        if match.shape[1]:
            mask |= match.max(axis=1) >= MATCH_IOU
        for i in np.flatnonzero(mask):  # the place follows the vehicle's latest box
            j = int(match[i].argmax()) if match.shape[1] else -1
            if j >= 0 and match[i, j] >= MATCH_IOU:
                self.places[j], self.seen[j] = boxes[i], ts
            else:
                self.places = np.vstack([self.places, boxes[i]])
                self.seen = np.append(self.seen, ts)
        return mask
