"""Motion gate: run the detector on a camera's frame only when something in the view has changed.

Like Frigate's motion detector, the gate compares a cheap picture of each sampled frame (downscaled to
`width` px, grey, lightly blurred) with the picture of the last frame the detector saw. When fewer than
`min_changed_px` of its pixels differ by more than `pixel_threshold` grey levels, nothing has moved since
the detector last looked: the detector's last boxes still hold, and the pipeline hands them to the tracker
and the zone analysis again instead of running the model. The comparison is with the last *detected*
frame, not the previous one, so slow change adds up until it is seen.

Only motion where the rules look counts: the pipeline gives the gate the camera's zones (`watch`), and
pixels farther than `margin_px` from every zone's bounding box are not compared. The detector's boxes
matter to the zone analysis only there (the movers masked out of the static-object model, goods beyond a
door line); a car driving through the middle of a parking lot with no shop zone near it needs no detector.

The detector runs anyway
- every `detect_every_s` seconds of stream time, so that a scene the gate keeps calling still (static
  objects, a person standing) is confirmed by the model now and then, and drift is followed;
- for `hangover_s` after the last motion, so the detector sees the scene settle (where a person stopped,
  where something was set down);
- whenever the pipeline says the camera needs it (a recheck waiting, a cross-door trading condition being
  timed: those read the detector's boxes frame by frame), after a detector failure, and when the stream
  time runs backwards (a file looped or a live stream restarted).

The zone analysis (static-object model, rules, episode timers) runs on every sampled frame either way: the
gate saves only detector calls, and every camera keeps decoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MotionParams:
    width: int = 160  # the gate's picture is about this wide (px, at least), its height in proportion
    pixel_threshold: int = 20  # grey levels (0..255) a pixel must change by to count as moved
    min_changed_px: int = 6  # moved pixels (of the gate's picture) that make the frame one with motion
    detect_every_s: float = 5.0  # the detector looks at least this often, motion or not
    hangover_s: float = 0.5  # and keeps looking this long after the last motion
    margin_px: int = 48  # motion this close (frame px) to a zone's bounding box counts

    def __post_init__(self) -> None:
        if self.width < 16:
            raise ValueError(f"motion width must be >= 16 px, got {self.width}")
        if not 0 < self.pixel_threshold < 255:
            raise ValueError(f"motion pixel_threshold must be in 1..254, got {self.pixel_threshold}")
        if self.min_changed_px < 1:
            raise ValueError(f"motion min_changed_px must be >= 1, got {self.min_changed_px}")
        if self.detect_every_s <= 0 or self.hangover_s < 0 or self.margin_px < 0:
            raise ValueError("motion detect_every_s must be > 0, hangover_s and margin_px >= 0")


def gate_picture(image: np.ndarray, width: int) -> np.ndarray:
    """The frame as the gate sees it: grey, shrunk by a whole factor to about `width` px wide (a whole factor
    keeps OpenCV's area average on its fast path: ~0.2 ms for 768x576), blurred so compression noise averages
    out."""
    h, w = image.shape[:2]
    k = max(1, w // width)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if k > 1:
        grey = cv2.resize(grey[: h - h % k, : w - w % k], (w // k, h // k), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(grey, (3, 3), 0)


class MotionGate:
    """One camera's gate. `wants(image, ts, needed=...)` once per sampled frame, in stream order: True when
    the detector must run on it (and the frame becomes the gate's new reference), False when the last
    detections still hold. Counts what it decided in `detected` and `skipped`."""

    def __init__(self, params: MotionParams | None = None) -> None:
        self.params = params or MotionParams()
        self.detected = 0
        self.skipped = 0
        self.changed_px = 0  # moved pixels in the last frame judged (for tests and tuning)
        self._boxes: np.ndarray | None = None  # where motion counts (frame px), None: everywhere
        self._area: np.ndarray | None = None  # the same as a mask of the gate's picture, made on first use
        self.watching: object = None  # what the caller last passed to `watch` (its zones), to see a change
        self.forget()

    def watch(self, boxes: np.ndarray | None, key: object = None) -> None:
        """Count motion only within `margin_px` of these (n, 4) xyxy frame-px boxes (the zones' bounding
        boxes); None: everywhere. `key` is kept in `watching` (the caller's zones, to notice a reload)."""
        self._boxes = None if boxes is None else np.asarray(boxes, np.float64).reshape(-1, 4)
        self._area, self.watching = None, key

    def _mask(self, frame_shape: tuple[int, ...], picture_shape: tuple[int, ...]) -> np.ndarray | None:
        if self._boxes is None:
            return None
        if self._area is None or self._area.shape != picture_shape:
            (h, w), (ph, pw) = frame_shape[:2], picture_shape
            sx, sy, m = pw / w, ph / h, self.params.margin_px
            area = np.zeros(picture_shape, np.uint8)
            for x1, y1, x2, y2 in self._boxes:
                c1, r1 = max(0, int((x1 - m) * sx)), max(0, int((y1 - m) * sy))
                c2, r2 = min(pw, int(np.ceil((x2 + m) * sx))), min(ph, int(np.ceil((y2 + m) * sy)))
                area[r1:r2, c1:c2] = 255
            self._area = area
        return self._area

    def forget(self) -> None:
        """Start afresh: the next frame is detected (e.g. its last detections were lost to a failed batch)."""
        self._reference: np.ndarray | None = None
        self._last_detect = math.nan
        self._last_motion = math.nan

    def wants(self, image: np.ndarray, ts: float, *, needed: bool = False) -> bool:
        p = self.params
        picture = gate_picture(image, p.width)
        ref = self._reference
        fresh = ref is None or ref.shape != picture.shape or not ts >= self._last_detect
        if fresh:  # nothing to compare with: detected, but not motion (no hangover)
            self.changed_px, self._last_motion = picture.size, math.nan
        else:
            diff = cv2.absdiff(picture, ref)
            area = self._mask(image.shape, picture.shape)
            if area is not None:
                diff = cv2.bitwise_and(diff, area)
            self.changed_px = int(cv2.countNonZero(cv2.threshold(diff, p.pixel_threshold, 255,
                                                                 cv2.THRESH_BINARY)[1]))
        if self.changed_px >= p.min_changed_px and not fresh:
            self._last_motion = ts
        detect = (needed or fresh or self.changed_px >= p.min_changed_px
                  or not ts - self._last_detect < p.detect_every_s
                  or ts - self._last_motion < p.hangover_s)
        if detect:
            self._reference, self._last_detect = picture, ts
            self.detected += 1
        else:
            self.skipped += 1
        return detect
