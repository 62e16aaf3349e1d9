"""Static-object model for one zone: what has been set down in the zone and stays there.

The model keeps a reference image of the empty zone (a downscaled crop of the zone's bounding box plus a
margin) and, per pixel, how long it has differed from that reference. It is built to survive a pole
camera's conditions:

- lighting drift and sudden exposure steps: each frame's gain (per colour channel) is estimated as the
  median ratio frame/reference over pixels that are currently background, and the frame is divided by it
  before comparing;
- a few pixels of shake: a pixel is foreground only when it lies outside the [min, max] of the reference
  over a small neighbourhood (radius ~ the shake), so edges that move by a pixel or two do not count;
- people and vehicles: their boxes (expanded) are masked out; masked pixels neither count nor learn, and
  keep their state, so an object stays "static" while someone walks in front of it;
- sensor clipping: a channel expected near the clip level may not read darker than it, and a channel
  learned while clipped has no upper bound; strong edges (local contrast above `edge_knee`) get a higher
  threshold (compression ringing); the frame's outermost few pixels are never judged.

Foreground that persists `static_after_s` seconds becomes static. The reference learns only from pixels
that are background now and not next to foreground (else an object would creep into the reference from
its rim inwards); static pixels are never absorbed, so a stationary object does not fade out, and
when it is taken away the pixels match the reference again (no ghost) and are released after
`release_s` seconds. Pixels never seen without a person in front are "unknown" until they are seen.
All timers are in seconds of stream time, so any analysis frame rate works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from zones.membership import polygon_mask

_CLIP_LEVEL = 235.0  # grey level above which a frame channel may be clipped by the sensor
_SATURATED = 250.0  # a (blurred) frame channel this bright is clipped


def _cmax(a: np.ndarray) -> np.ndarray:
    """Per-pixel max over the colour channels (numpy's axis=2 reduction is slow on 3 channels)."""
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])


def _cmin(a: np.ndarray) -> np.ndarray:
    return np.minimum(np.minimum(a[..., 0], a[..., 1]), a[..., 2])


@dataclass(frozen=True)
class StaticState:
    """What the static-object model sees in a zone after one frame."""

    coverage: float  # fraction of the zone polygon covered by static objects
    boxes: np.ndarray  # (n, 4) float32 image px of static objects (connected components)
    known: float  # fraction of the zone whose empty appearance is known
    ready: bool  # warm-up finished
    onset_age_s: float  # how long ago the zone's static objects first showed (0 when none)
    gain: tuple[float, float, float]


@dataclass(frozen=True)
class StaticModelParams:
    margin_px: int = 24  # context around the zone (gain estimation, objects straddling the edge)
    max_side: int = 96  # the crop is downscaled so its longer side is at most this (160 cost 2x, same events)
    shake_px: float = 3.0  # neighbourhood radius (full-res px) for the min/max reference
    warmup_s: float = 4.0  # reference learns fast (everything not masked) for this long after a reset
    learn_tau_s: float = 60.0  # time constant of the slow reference update on background pixels
    static_after_s: float = 3.0
    release_s: float = 1.0  # a static pixel seen as background this long is released
    thr_abs: float = 16.0  # grey levels (0..255) beyond the reference min/max
    thr_rel: float = 0.12  # plus this fraction of the reference level
    thr_edge: float = 0.2  # plus this fraction of the reference's local contrast (max - min nearby) ...
    edge_knee: float = 64.0  # ... above this much, i.e. only on strong edges, not on textured ground
    min_blob_frac: float = 0.01  # static components smaller than this fraction of the zone are noise
    mover_pad: float = 0.12  # boxes of people/vehicles grow by this fraction of their size on each side
    mover_pad_px: float = 4.0
    max_fps: float = 2.0  # the model runs at most this often (its timers are seconds long); frames in between
    # reuse the last state, so a 10 fps analysis costs no more here than the default 2 fps


class ZoneStaticModel:
    """Per-zone static-object model. `update` once per analysed frame, in stream-time order."""

    def __init__(self, polygon: np.ndarray, frame_size: tuple[int, int],
                 params: StaticModelParams | None = None) -> None:
        self.p = params or StaticModelParams()
        fw, fh = int(frame_size[0]), int(frame_size[1])
        self.frame_size = (fw, fh)
        poly = np.asarray(polygon, np.float64)
        m = self.p.margin_px
        x1 = max(0, int(math.floor(poly[:, 0].min())) - m)
        y1 = max(0, int(math.floor(poly[:, 1].min())) - m)
        x2 = min(fw, int(math.ceil(poly[:, 0].max())) + m + 1)
        y2 = min(fh, int(math.ceil(poly[:, 1].max())) + m + 1)
        if x2 - x1 < 2 or y2 - y1 < 2:
            raise ValueError(f"zone polygon lies outside the {fw}x{fh} frame")
        self.crop = (x1, y1, x2, y2)
        self.scale = min(1.0, self.p.max_side / max(x2 - x1, y2 - y1))
        self.size = (max(2, round((x2 - x1) * self.scale)), max(2, round((y2 - y1) * self.scale)))
        w, h = self.size
        self.zone_mask = polygon_mask(poly, (w, h), offset=(x1, y1), scale=self.scale)
        self.zone_area = max(int(self.zone_mask.sum()), 1)
        r = max(1, math.ceil(self.p.shake_px * self.scale))
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        # a shaking camera fills the frame's outermost pixels with whatever its stabiliser or encoder
        # invents: never judge them
        b = math.ceil(self.p.shake_px) + 1
        fx = x1 + (np.arange(w) + 0.5) / self.scale
        fy = y1 + (np.arange(h) + 0.5) / self.scale
        self._inner = ((fy >= b) & (fy < fh - b))[:, None] & ((fx >= b) & (fx < fw - b))[None, :]
        self._sample = np.zeros((h, w), bool)  # gain is estimated on every other pixel of every other row
        self._sample[::2, ::2] = True
        self._n_sample = int(np.count_nonzero(self._sample))
        g = 2 * r + 2  # no learning this close to foreground, or objects would creep into the reference
        self._guard = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1))
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything: the next frames rebuild the empty-zone reference."""
        w, h = self.size
        self.ref = np.zeros((h, w, 3), np.float32)
        self.known = np.zeros((h, w), bool)
        self.ref_clipped = np.zeros((h, w, 3), bool)
        self._refresh()
        self.age = np.zeros((h, w), np.float32)  # seconds of (held) foreground
        self.onset = np.zeros((h, w), np.float64)  # stream time the current foreground run began
        self.bg_age = np.zeros((h, w), np.float32)  # seconds seen as background since last foreground
        self.static = np.zeros((h, w), bool)
        self.fg = np.zeros((h, w), bool)
        self.gain = np.ones(3, np.float32)
        self.t0: float | None = None
        self.last_ts: float | None = None
        self._last_state: StaticState | None = None

    @property
    def static_mask(self) -> np.ndarray:
        """Bool (h, w) static pixels of the crop (read-only view)."""
        v = self.static.view()
        v.setflags(write=False)
        return v

    # ------------------------------------------------------------------ helpers
    def _prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        x1, y1, x2, y2 = self.crop
        crop = frame_bgr[y1:y2, x1:x2]
        if self.scale < 1.0:
            crop = cv2.resize(crop, self.size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(crop.astype(np.float32), (3, 3), 0)

    def _mover_mask(self, boxes: np.ndarray) -> np.ndarray:
        w, h = self.size
        mask = np.zeros((h, w), np.uint8)
        if len(boxes) == 0:
            return mask.view(bool)
        b = np.asarray(boxes, np.float64)
        bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        pad_x = self.p.mover_pad * bw + self.p.mover_pad_px
        pad_y = self.p.mover_pad * bh + self.p.mover_pad_px
        x1, y1 = self.crop[0], self.crop[1]
        grown = np.stack([b[:, 0] - pad_x - x1, b[:, 1] - pad_y - y1, b[:, 2] + pad_x - x1,
                          b[:, 3] + pad_y - y1], axis=1) * self.scale
        grown = np.round(grown).astype(np.int32)
        for gx1, gy1, gx2, gy2 in grown:  # loop over boxes (a handful), not pixels
            cv2.rectangle(mask, (int(gx1), int(gy1)), (int(gx2), int(gy2)), 1, thickness=-1)
        return mask.view(bool)

    def _refresh(self) -> None:
        """Derived reference images: neighbourhood min/max (shake tolerance) and per-pixel level."""
        self.ref_min = cv2.erode(self.ref, self._kernel)
        self.ref_max = cv2.dilate(self.ref, self._kernel)
        # a channel learned while clipped only bounds the truth from below: no upper bound there
        if self.ref_clipped.any():
            sat = cv2.dilate(self.ref_clipped.view(np.uint8), self._kernel).view(bool)
            self.ref_max[sat] = np.inf
        self.ref_lum = (self.ref[..., 0] + self.ref[..., 1] + self.ref[..., 2]) * np.float32(1 / 3)
        # local contrast: compression ringing and sub-pixel shake are largest on strong edges
        spread = np.minimum(self.ref_max, 255.0) - self.ref_min
        spread = np.maximum(np.maximum(spread[..., 0], spread[..., 1]), spread[..., 2])
        self.ref_spread = np.maximum(spread - self.p.edge_knee, 0.0)

    def _learn(self, cur: np.ndarray, cur_n: np.ndarray, where: np.ndarray, alpha: float) -> None:
        if alpha <= 0 or not where.any():
            return
        a = np.where(where, np.float32(alpha), np.float32(0.0))[..., None]
        delta = np.subtract(cur_n, self.ref)
        delta *= a
        self.ref += delta
        self.ref_clipped |= where[..., None] & (cur >= _SATURATED)
        self._refresh()

    def _estimate_gain(self, cur: np.ndarray, usable: np.ndarray) -> None:
        sub = (slice(None, None, 2), slice(None, None, 2))  # the `_sample` grid, as a view
        cs = cur[sub]
        clipped = (_cmax(cs) >= _SATURATED) | (_cmin(cs) <= 2.0)  # no use for measuring the gain
        pick = (usable[sub] & ~clipped & self.known[sub] & ~self.static[sub] & ~self.fg[sub]
                & (self.ref_lum[sub] > 12.0))
        n = int(np.count_nonzero(pick))
        if n < max(30, 0.05 * self._n_sample):
            return  # too little background in view: keep the last gain
        ratio = cs[pick] / np.maximum(self.ref[sub][pick], 1.0)
        # median per channel over a contiguous (3, n) copy: partitioning along axis 0 is strided and slow
        self.gain = np.clip(np.median(np.ascontiguousarray(ratio.T), axis=1), 0.2, 5.0).astype(np.float32)

    # ------------------------------------------------------------------ main step
    def update(self, frame_bgr: np.ndarray, ts: float, mover_boxes: np.ndarray) -> StaticState:
        """Advance the model by one frame at stream time `ts` (s); `mover_boxes` (n, 4) image px of people
        and vehicles, whose (expanded) boxes are neither judged nor learned from. Called again sooner than
        about 1 / `max_fps` seconds after its last run, it returns that run's state unchanged."""
        if (self._last_state is not None and self.last_ts is not None
                and 0.0 <= ts - self.last_ts < 0.75 / self.p.max_fps):
            return self._last_state
        self._last_state = state = self._step(frame_bgr, ts, mover_boxes)
        return state

    def _step(self, frame_bgr: np.ndarray, ts: float, mover_boxes: np.ndarray) -> StaticState:
        cur = self._prepare(frame_bgr)
        movers = self._mover_mask(mover_boxes)
        usable = ~movers & self._inner
        if self.t0 is None:
            self.t0 = ts
            self.last_ts = ts
        dt = float(np.clip(ts - (self.last_ts if self.last_ts is not None else ts), 0.0, 5.0))
        self.last_ts = ts
        warming = ts - self.t0 < self.p.warmup_s

        if self.known.any():
            self._estimate_gain(cur, usable)
        cur_n = cur / self.gain

        # pixels seen for the first time without anything in front of them define the reference
        new = usable & ~self.known
        if new.any():
            self.ref[new] = cur_n[new]
            self.ref_clipped[new] = cur[new] >= _SATURATED
            self.known |= new
            self._refresh()

        observed = usable & self.known
        if warming:
            self._learn(cur, cur_n, observed, 1.0 - math.exp(-dt / 0.5) if dt > 0 else 0.0)
            self.fg = np.zeros_like(self.fg)
            return self._state(ts, ready=False)

        # a channel whose expected value is near the sensor's clip level cannot read darker-than-expected
        # when it is clipped: cap the lower bound below the clip level (normalised by the gain)
        low = np.minimum(self.ref_min, (_CLIP_LEVEL / np.maximum(self.gain, 1e-3)).astype(np.float32))
        excess = _cmax(np.maximum(np.subtract(cur_n, self.ref_max), np.subtract(low, cur_n)))
        thr = self.p.thr_abs + self.p.thr_rel * self.ref_lum + self.p.thr_edge * self.ref_spread
        fg = (excess > thr) & observed
        fg = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, self._open).astype(bool)
        self.fg = fg
        bg = observed & ~fg

        self.onset[fg & (self.age == 0)] = ts
        self.age[fg] += dt
        self.bg_age[fg] = 0.0
        self.bg_age[bg] += dt
        released = bg & (self.bg_age >= self.p.release_s)
        self.age[released] = 0.0
        self.static[released] = False
        self.static |= self.age >= self.p.static_after_s

        alpha = 1.0 - math.exp(-dt / self.p.learn_tau_s) if dt > 0 else 0.0
        busy = cv2.dilate((self.static | fg | (self.age > 0)).astype(np.uint8), self._guard).astype(bool)
        self._learn(cur, cur_n, bg & ~busy, alpha)
        return self._state(ts, ready=True)

    def _state(self, ts: float, ready: bool) -> StaticState:
        inside = self.static & self.zone_mask
        boxes = np.zeros((0, 4), np.float32)
        coverage = 0.0
        onset_age = 0.0
        if ready and inside.any():
            n, labels, stats, _ = cv2.connectedComponentsWithStats(self.static.astype(np.uint8),
                                                                   connectivity=8)
            # pixels of each component inside the zone
            in_zone = np.bincount(labels[self.zone_mask], minlength=n)
            keep = np.flatnonzero(in_zone >= self.p.min_blob_frac * self.zone_area)
            keep = keep[keep > 0]
            if len(keep):
                coverage = float(in_zone[keep].sum() / self.zone_area)
                # when most of the object first appeared (a low percentile ignores stray early pixels)
                onsets = self.onset[inside & np.isin(labels, keep)]
                onset_age = float(max(0.0, ts - np.percentile(onsets, 30)))
                st = stats[keep].astype(np.float32)
                xywh = st[:, :4] / self.scale
                boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:4]], axis=1)
                boxes += np.array([self.crop[0], self.crop[1], self.crop[0], self.crop[1]], np.float32)
        known = float((self.known & self.zone_mask).sum() / self.zone_area)
        return StaticState(coverage, boxes.astype(np.float32), known, ready, onset_age,
                           (float(self.gain[0]), float(self.gain[1]), float(self.gain[2])))
