"""ByteTrack-style multi-object tracker: one object keeps one id, through short occlusions.

Each update: predict every track to the frame time with a constant-velocity model, match confident
detections to tracks by IoU (Hungarian), then match the remaining *active* tracks to low-confidence
detections (a half-occluded person often scores low), start tentative tracks from unmatched confident
detections and confirm them after `minimum_consecutive_frames` hits. A track that goes unseen is kept
(and matched again) for `lost_track_buffer_s` seconds of stream time, so dwell timers that key on the id
survive a passer-by walking in front of the object. Ids come from a per-instance counter: two cameras in
one process never share or collide on ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from models.detections import Detections


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, 4) × (m, 4) xyxy → (n, m) IoU, vectorised."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    a = a.astype(np.float32, copy=False)
    b = b.astype(np.float32, copy=False)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


@dataclass
class _Track:
    box: np.ndarray  # xyxy at `last_ts`
    velocity: np.ndarray  # xyxy per second
    class_id: int
    first_ts: float
    last_ts: float
    hits: int = 1
    track_id: int = -1  # -1 until confirmed
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))

    def predict(self, ts: float, max_predict_s: float) -> None:
        dt = min(max(ts - self.last_ts, 0.0), max_predict_s)
        self.predicted = self.box + self.velocity * dt

    def update(self, box: np.ndarray, ts: float) -> None:
        dt = ts - self.last_ts
        if dt > 0:
            # Smoothed velocity: half the old estimate, half the latest displacement.
            self.velocity = 0.5 * self.velocity + 0.5 * (box - self.box) / dt
        self.box = box.astype(np.float32)
        self.last_ts = ts
        self.hits += 1


class ByteTracker:
    """`update(detections, ts) -> detections` with `tracker_id` set (-1 for detections not (yet) on a
    confirmed track) and `data["track_first_ts"]` (stream time the track was first seen; NaN for -1).
    The input is never mutated."""

    def __init__(
        self,
        *,
        track_activation_threshold: float = 0.45,
        low_threshold: float = 0.1,
        minimum_matching_threshold: float = 0.2,
        low_matching_threshold: float = 0.4,
        lost_track_buffer_s: float = 3.0,
        minimum_consecutive_frames: int = 2,
        max_predict_s: float | None = None,
        class_aware: bool = True,
    ) -> None:
        if minimum_consecutive_frames < 1:
            raise ValueError("minimum_consecutive_frames must be >= 1")
        if lost_track_buffer_s < 0:
            raise ValueError("lost_track_buffer_s must be >= 0")
        self.track_activation_threshold = track_activation_threshold
        self.low_threshold = low_threshold
        self.minimum_matching_threshold = minimum_matching_threshold  # IoU needed in the first stage
        self.low_matching_threshold = low_matching_threshold  # IoU needed for low-confidence matches
        self.lost_track_buffer_s = lost_track_buffer_s
        self.minimum_consecutive_frames = minimum_consecutive_frames
        # A lost track's predicted box stops moving after this long (default: the whole buffer).
        self.max_predict_s = lost_track_buffer_s if max_predict_s is None else max_predict_s
        self.class_aware = class_aware
        self.reset()

    def reset(self) -> None:
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._last_ts: float | None = None

    @property
    def tracks(self) -> int:
        return len(self._tracks)

    def _match(
        self, tracks: list[int], dets: np.ndarray, boxes: np.ndarray, classes: np.ndarray, min_iou: float
    ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        if not tracks or len(dets) == 0:
            return [], tracks, list(dets)
        pred = np.stack([self._tracks[t].predicted for t in tracks])
        iou = box_iou(pred, boxes[dets])
        if self.class_aware:
            tcls = np.array([self._tracks[t].class_id for t in tracks])
            iou = np.where(tcls[:, None] == classes[dets][None, :], iou, 0.0)
        rows, cols = linear_sum_assignment(-iou)
        ok = iou[rows, cols] >= min_iou
        pairs = [(tracks[r], int(dets[c])) for r, c in zip(rows[ok], cols[ok], strict=True)]
        matched_t = {p[0] for p in pairs}
        matched_d = {p[1] for p in pairs}
        return (
            pairs,
            [t for t in tracks if t not in matched_t],
            [int(d) for d in dets if int(d) not in matched_d],
        )

    def update(self, detections: Detections, ts: float) -> Detections:
        if self._last_ts is not None and ts < self._last_ts:
            self.reset()  # stream restarted: old tracks mean nothing now
        prev, self._last_ts = self._last_ts, ts
        n = len(detections)
        boxes = detections.xyxy.astype(np.float32, copy=False)
        conf = detections.confidence
        classes = detections.class_id
        # Tracks unseen for longer than the buffer are gone before matching starts.
        self._tracks = [t for t in self._tracks if ts - t.last_ts <= self.lost_track_buffer_s]
        for t in self._tracks:
            t.predict(ts, self.max_predict_s)

        high = np.flatnonzero(conf >= self.track_activation_threshold)
        low = np.flatnonzero((conf >= self.low_threshold) & (conf < self.track_activation_threshold))
        all_tracks = list(range(len(self._tracks)))
        pairs1, left_tracks, left_high = self._match(
            all_tracks, high, boxes, classes, self.minimum_matching_threshold
        )
        # Second stage: only tracks seen in the previous frame may take a weak detection.
        recent = [t for t in left_tracks if self._tracks[t].last_ts == prev]
        pairs2, _, _ = self._match(recent, low, boxes, classes, self.low_matching_threshold)

        out_ids = np.full(n, -1, np.int64)
        first_ts = np.full(n, np.nan, np.float64)
        for ti, di in pairs1 + pairs2:
            track = self._tracks[ti]
            track.update(boxes[di], ts)
            if track.track_id < 0 and track.hits >= self.minimum_consecutive_frames:
                track.track_id = self._new_id()
            if track.track_id >= 0:
                out_ids[di] = track.track_id
                first_ts[di] = track.first_ts
        matched = {ti for ti, _ in pairs1 + pairs2}
        keep: list[_Track] = []
        for i, track in enumerate(self._tracks):
            if i in matched:
                keep.append(track)
            elif track.track_id >= 0 and ts - track.last_ts <= self.lost_track_buffer_s:
                keep.append(track)  # lost, may come back
            # an unconfirmed track that missed a frame is dropped (ByteTrack does the same)
        for di in left_high:
            track = _Track(boxes[di].copy(), np.zeros(4, np.float32), int(classes[di]), ts, ts)
            if self.minimum_consecutive_frames <= 1:
                track.track_id = self._new_id()
                out_ids[di] = track.track_id
                first_ts[di] = ts
            keep.append(track)
        self._tracks = keep
        data = dict(detections.data)
        data["track_first_ts"] = first_ts
        return Detections(detections.xyxy, detections.confidence, detections.class_id, out_ids, data)

    def _new_id(self) -> int:
        tid = self._next_id
        self._next_id += 1
        return tid
