"""Static-object model: what has been set down in a camera's zones and stays there.

For each zone the model keeps a reference image of the empty zone (a downscaled crop of the zone's bounding
box plus a margin) and, per pixel, how long it has differed from that reference. It is built to survive a
pole camera's conditions:

- lighting drift and sudden exposure steps: each frame's gain (per zone and colour channel) is estimated as
  the median ratio frame/reference over pixels that are currently background, and the frame is divided by
  it before comparing;
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

Cost: a camera's zones are stacked one under the other in one canvas per shake-kernel size (a `_Sheet`),
with gaps wide enough that no filter reaches from one zone into the next, so every per-pixel step is one
numpy/OpenCV call for all zones at once. Each canvas row belongs to at most one zone, so per-zone values
(gain, time step, warm-up) are per-row vectors that broadcast. `StaticBank` holds a camera's sheets;
`ZoneStaticModel` is the same model for a single zone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from zones.membership import polygon_mask

_CLIP_LEVEL = 235.0  # grey level above which a frame channel may be clipped by the sensor
_SATURATED = 250.0  # a (blurred) frame channel this bright is clipped
_BIG = np.float32(1e30)  # fills the gaps between zones so that min/max filters ignore them
_X0 = 2  # column where every zone starts (room for the blur's rim, and even)


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


@dataclass(frozen=True)
class _Tile:
    """Where one zone's crop comes from in the frame and where it lies in its sheet."""

    crop: tuple[int, int, int, int]  # x1, y1, x2, y2 frame px
    scale: float
    size: tuple[int, int]  # w, h in the sheet
    y0: int  # first sheet row

    @property
    def rows(self) -> slice:
        return slice(self.y0, self.y0 + self.size[1])

    @property
    def cols(self) -> slice:
        return slice(_X0, _X0 + self.size[0])


def _tile_geometry(polygon: np.ndarray, frame_size: tuple[int, int], p: StaticModelParams
                   ) -> tuple[tuple[int, int, int, int], float, tuple[int, int]]:
    fw, fh = frame_size
    poly = np.asarray(polygon, np.float64)
    m = p.margin_px
    x1 = max(0, int(math.floor(poly[:, 0].min())) - m)
    y1 = max(0, int(math.floor(poly[:, 1].min())) - m)
    x2 = min(fw, int(math.ceil(poly[:, 0].max())) + m + 1)
    y2 = min(fh, int(math.ceil(poly[:, 1].max())) + m + 1)
    if x2 - x1 < 2 or y2 - y1 < 2:
        raise ValueError(f"zone polygon lies outside the {fw}x{fh} frame")
    scale = min(1.0, p.max_side / max(x2 - x1, y2 - y1))
    size = (max(2, round((x2 - x1) * scale)), max(2, round((y2 - y1) * scale)))
    return (x1, y1, x2, y2), scale, size


def kernel_radius(polygon: np.ndarray, frame_size: tuple[int, int], p: StaticModelParams) -> int:
    """Radius (sheet px) of the zone's shake neighbourhood: zones with the same radius share a sheet."""
    return max(1, math.ceil(p.shake_px * _tile_geometry(polygon, frame_size, p)[1]))


class _Sheet:
    """Zones with the same parameters and shake radius, stacked vertically in one canvas."""

    def __init__(self, polygons: Sequence[np.ndarray], frame_size: tuple[int, int], p: StaticModelParams) -> None:
        self.p = p
        fw, fh = int(frame_size[0]), int(frame_size[1])
        geoms = [_tile_geometry(poly, (fw, fh), p) for poly in polygons]
        r = {max(1, math.ceil(p.shake_px * scale)) for _, scale, _ in geoms}
        if len(r) != 1:
            raise ValueError("a sheet holds zones of one shake radius")
        r = r.pop()
        g = 2 * r + 2  # no learning this close to foreground, or objects would creep into the reference
        gap = g + 1 + (g + 1) % 2  # rows between zones: wider than any filter reaches, and even (so is every
        # zone's first row, like its first column: the gain's every-other-pixel grid lines up per zone)
        tiles, y = [], gap
        for crop, scale, size in geoms:
            tiles.append(_Tile(crop, scale, size, y))
            y += size[1] + gap + (size[1] % 2)
        self.tiles: list[_Tile] = tiles
        h, w = y, _X0 + max(t.size[0] for t in tiles) + 1  # nothing to the right: room for the blur's rim
        self.shape = (h, w)
        self.row_tile = np.full(h, -1, np.int64)  # -1 (gap rows) indexes the extra last entry of per-zone arrays
        self.valid = np.zeros((h, w), bool)
        self.zone_mask = np.zeros((h, w), bool)
        self.inner = np.zeros((h, w), bool)
        b = math.ceil(p.shake_px) + 1  # a shaking camera invents the frame's outermost pixels: never judged
        for i, (t, poly) in enumerate(zip(tiles, polygons, strict=True)):
            (x1, y1, _, _), tw, th = t.crop, t.size[0], t.size[1]
            self.row_tile[t.rows] = i
            self.valid[t.rows, t.cols] = True
            self.zone_mask[t.rows, t.cols] = polygon_mask(poly, t.size, offset=(x1, y1), scale=t.scale)
            fx = x1 + (np.arange(tw) + 0.5) / t.scale
            fy = y1 + (np.arange(th) + 0.5) / t.scale
            self.inner[t.rows, t.cols] = ((fy >= b) & (fy < fh - b))[:, None] & ((fx >= b) & (fx < fw - b))[None, :]
        self.gap = ~self.valid
        # added to / taken from the reference before min / max filtering (the reference is 0 in the gaps)
        self._gap_big = np.repeat(np.where(self.gap, _BIG, np.float32(0))[..., None], 3, axis=2)
        self.zone_area = np.array([max(int(self.zone_mask[t.rows].sum()), 1) for t in tiles], np.int64)
        self.n_sample = np.array([((t.size[0] + 1) // 2) * ((t.size[1] + 1) // 2) for t in tiles], np.int64)
        self.min_blob = p.min_blob_frac * self.zone_area
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._guard = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1))
        self._u8 = np.zeros((h, w, 3), np.uint8)
        box = np.array([[t.crop[0], t.crop[1], t.crop[0], t.crop[1]] for t in tiles], np.float64)
        self._offset, self._scales = box, np.array([t.scale for t in tiles], np.float64)
        self._limits = np.array([[t.size[0] - 1, t.size[1] - 1] for t in tiles], np.int64)
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self, index: int | None = None) -> None:
        """Forget one zone (or all): the next frames rebuild its empty-zone reference."""
        h, w = self.shape
        if index is None:
            n = len(self.tiles)
            self.ref = np.zeros((h, w, 3), np.float32)
            self.known = np.zeros((h, w), bool)
            self.ref_clipped = np.zeros((h, w, 3), bool)
            self.age = np.zeros((h, w), np.float32)  # seconds of (held) foreground
            self.onset = np.zeros((h, w), np.float64)  # stream time the current foreground run began
            self.bg_age = np.zeros((h, w), np.float32)  # seconds seen as background since last foreground
            self.static = np.zeros((h, w), bool)
            self.fg = np.zeros((h, w), bool)
            self.gain = np.ones((n + 1, 3), np.float32)  # the extra last row (gap rows) stays 1
            self.t0 = np.full(n, np.nan)
            self.last_ts = np.full(n, np.nan)
            self._last_step = math.nan
        else:
            rows = self.tiles[index].rows
            for a in (self.ref, self.known, self.ref_clipped, self.age, self.onset, self.bg_age, self.static,
                      self.fg):
                a[rows] = 0
            self.gain[index] = 1.0
            self.t0[index] = self.last_ts[index] = np.nan
        self._last: list[StaticState] | None = None  # the last run's states, until the next run is due
        self._refresh()

    # ------------------------------------------------------------------ helpers
    def _prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        for t in self.tiles:
            x1, y1, x2, y2 = t.crop
            crop = frame_bgr[y1:y2, x1:x2]
            if t.scale < 1.0:
                crop = cv2.resize(crop, t.size, interpolation=cv2.INTER_AREA)
            # a one-pixel mirrored rim: the blur below then sees at each zone's edge what it would see alone
            self._u8[t.y0 - 1:t.y0 + t.size[1] + 1, _X0 - 1:_X0 + t.size[0] + 1] = cv2.copyMakeBorder(
                crop, 1, 1, 1, 1, cv2.BORDER_REFLECT_101)
        return cv2.GaussianBlur(self._u8.astype(np.float32), (3, 3), 0)

    def _mover_mask(self, boxes: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.shape, bool)
        if len(boxes) == 0:
            return mask
        b = np.asarray(boxes, np.float64)
        pad_x = self.p.mover_pad * (b[:, 2] - b[:, 0]) + self.p.mover_pad_px
        pad_y = self.p.mover_pad * (b[:, 3] - b[:, 1]) + self.p.mover_pad_px
        grown = np.stack([b[:, 0] - pad_x, b[:, 1] - pad_y, b[:, 2] + pad_x, b[:, 3] + pad_y], axis=1)
        # every box in every zone's sheet coordinates: (zones, boxes, 4)
        g = np.round((grown[None] - self._offset[:, None]) * self._scales[:, None, None]).astype(np.int64)
        lo, hi = np.minimum(g[..., :2], g[..., 2:]), np.maximum(g[..., :2], g[..., 2:])
        lim = self._limits[:, None]
        hits = np.all((hi >= 0) & (lo <= lim), axis=2)
        lo, hi = np.maximum(lo, 0), np.minimum(hi, lim)
        for i, k in zip(*np.nonzero(hits), strict=True):  # (zone, box) pairs that overlap: a handful
            y0 = self.tiles[i].y0
            mask[y0 + lo[i, k, 1]:y0 + hi[i, k, 1] + 1, _X0 + lo[i, k, 0]:_X0 + hi[i, k, 0] + 1] = True
        return mask

    def _refresh(self) -> None:
        """Derived reference images: neighbourhood min/max (shake tolerance) and per-pixel level."""
        self.ref_min = cv2.erode(self.ref + self._gap_big, self._kernel)
        self.ref_max = cv2.dilate(self.ref - self._gap_big, self._kernel)
        # a channel learned while clipped only bounds the truth from below: no upper bound there
        if self.ref_clipped.any():
            sat = cv2.dilate(self.ref_clipped.view(np.uint8), self._kernel).view(bool)
            self.ref_max[sat] = np.inf
        self.ref_lum = (self.ref[..., 0] + self.ref[..., 1] + self.ref[..., 2]) * np.float32(1 / 3)
        # local contrast: compression ringing and sub-pixel shake are largest on strong edges
        spread = np.minimum(self.ref_max, 255.0) - self.ref_min
        spread = np.maximum(np.maximum(spread[..., 0], spread[..., 1]), spread[..., 2])
        self.ref_spread = np.maximum(spread - self.p.edge_knee, 0.0)

    def _learn(self, cur: np.ndarray, cur_n: np.ndarray, where: np.ndarray, alpha_rows: np.ndarray) -> None:
        if not where.any():
            return
        a = (where * alpha_rows[:, None])[..., None]
        delta = np.subtract(cur_n, self.ref)
        delta *= a
        self.ref += delta
        self.ref_clipped |= where[..., None] & (cur >= _SATURATED)
        self._refresh()

    def _estimate_gain(self, cur: np.ndarray, usable: np.ndarray) -> None:
        sub = (slice(None, None, 2), slice(None, None, 2))  # every other pixel of every other row
        cs = cur[sub]
        clipped = (_cmax(cs) >= _SATURATED) | (_cmin(cs) <= 2.0)  # no use for measuring the gain
        pick = (usable[sub] & ~clipped & self.known[sub] & ~self.static[sub] & ~self.fg[sub]
                & (self.ref_lum[sub] > 12.0))
        rows, cols = np.nonzero(pick)  # row-major, so grouped by zone (zones are stacked)
        if len(rows) == 0:
            return
        zone = self.row_tile[::2][rows]
        counts = np.bincount(zone, minlength=len(self.tiles))
        ratio = cs[rows, cols] / np.maximum(self.ref[sub][rows, cols], 1.0)
        ends = np.cumsum(counts)
        for i in np.flatnonzero(counts >= np.maximum(30, 0.05 * self.n_sample)):  # else keep the last gain
            # median per channel over a contiguous (3, n) copy: partitioning along axis 0 is strided and slow
            part = np.ascontiguousarray(ratio[ends[i] - counts[i]:ends[i]].T)
            self.gain[i] = np.clip(np.median(part, axis=1), 0.2, 5.0)

    # ------------------------------------------------------------------ main step
    def update(self, frame_bgr: np.ndarray, ts: float, mover_boxes: np.ndarray) -> list[StaticState]:
        """Each zone's state after `frame_bgr`: a new run once about 1 / `max_fps` seconds have passed since
        the last one (or after a reset), else the last run's states unchanged."""
        if self._last is None or not 0.0 <= ts - self._last_step < 0.75 / self.p.max_fps:
            self._last = self.step(frame_bgr, ts, mover_boxes)
            self._last_step = ts
        return self._last

    def step(self, frame_bgr: np.ndarray, ts: float, mover_boxes: np.ndarray) -> list[StaticState]:
        p = self.p
        cur = self._prepare(frame_bgr)
        usable = ~self._mover_mask(mover_boxes) & self.inner
        fresh = np.isnan(self.t0)
        self.t0[fresh] = ts
        self.last_ts[fresh] = ts
        dt = np.clip(ts - self.last_ts, 0.0, 5.0)
        self.last_ts[:] = ts
        warming = ts - self.t0 < p.warmup_s
        alpha = np.where(dt > 0, 1.0 - np.exp(-dt / np.where(warming, 0.5, p.learn_tau_s)), 0.0)
        # per row: the zone's value, gap rows (index -1) get the appended neutral one
        warm_rows = np.append(warming, False)[self.row_tile]
        dt_rows = np.append(dt, 0.0).astype(np.float32)[self.row_tile][:, None]
        alpha_rows = np.append(alpha, 0.0).astype(np.float32)[self.row_tile]

        if self.known.any():
            self._estimate_gain(cur, usable)
        gain_rows = self.gain[self.row_tile][:, None, :]
        cur_n = cur / gain_rows

        # pixels seen for the first time without anything in front of them define the reference
        new = usable & ~self.known
        if new.any():
            self.ref[new] = cur_n[new]
            self.ref_clipped[new] = cur[new] >= _SATURATED
            self.known |= new
            self._refresh()
        observed = usable & self.known
        judged = observed & ~warm_rows[:, None]  # zones warming up only learn

        # a channel whose expected value is near the sensor's clip level cannot read darker-than-expected
        # when it is clipped: cap the lower bound below the clip level (normalised by the gain)
        low = np.minimum(self.ref_min, (_CLIP_LEVEL / np.maximum(gain_rows, 1e-3)).astype(np.float32))
        excess = _cmax(np.maximum(np.subtract(cur_n, self.ref_max), np.subtract(low, cur_n)))
        thr = p.thr_abs + p.thr_rel * self.ref_lum + p.thr_edge * self.ref_spread
        # opening = erode then dilate; outside a zone counts as "ignore" there, as at an image edge
        fg = cv2.erode(((excess > thr) & judged | self.gap).view(np.uint8), self._open).view(bool)
        fg = cv2.dilate((fg & self.valid).view(np.uint8), self._open).view(bool)
        self.fg = fg
        bg = judged & ~fg

        self.onset[fg & (self.age == 0)] = ts
        self.age += fg * dt_rows
        self.bg_age[fg] = 0.0
        self.bg_age += bg * dt_rows
        released = bg & (self.bg_age >= p.release_s)
        self.age[released] = 0.0
        self.static[released] = False
        self.static |= self.age >= p.static_after_s

        busy = cv2.dilate((self.static | fg | (self.age > 0)).view(np.uint8), self._guard).view(bool)
        warm = warm_rows[:, None]
        learn = ((observed & warm) | (bg & ~busy & ~warm)) & (alpha_rows > 0)[:, None]
        self._learn(cur, cur_n, learn, alpha_rows)
        return self._states(ts, ~warming)

    def _states(self, ts: float, ready: np.ndarray) -> list[StaticState]:
        n = len(self.tiles)
        inside = self.static & self.zone_mask
        rows = self.row_tile >= 0
        zone_of_row = self.row_tile[rows]
        known = np.bincount(zone_of_row, weights=(self.known & self.zone_mask).sum(axis=1)[rows], minlength=n)
        known = known / self.zone_area
        has = (np.bincount(zone_of_row, weights=inside.sum(axis=1)[rows], minlength=n) > 0) & ready
        cover = np.zeros(n)
        onset_age = np.zeros(n)
        boxes: list[np.ndarray] = [np.zeros((0, 4), np.float32)] * n
        if has.any():
            count, labels, stats, _ = cv2.connectedComponentsWithStats(self.static.view(np.uint8), connectivity=8)
            in_zone = np.bincount(labels[self.zone_mask], minlength=count)  # pixels of each component in its zone
            owner = self.row_tile[stats[:, cv2.CC_STAT_TOP]]
            keep = np.flatnonzero((in_zone >= self.min_blob[owner]) & has[owner])
            keep = keep[keep > 0]
            for i in np.unique(owner[keep]):
                mine = keep[owner[keep] == i]
                t = self.tiles[i]
                cover[i] = in_zone[mine].sum() / self.zone_area[i]
                # when most of the object first appeared (a low percentile ignores stray early pixels)
                r = t.rows
                onsets = self.onset[r][inside[r] & np.isin(labels[r], mine)]
                onset_age[i] = max(0.0, ts - np.percentile(onsets, 30))
                st = stats[mine].astype(np.float32)
                xywh = (st[:, :4] - np.array([_X0, t.y0, 0, 0], np.float32)) / t.scale
                b = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:4]], axis=1)
                b += np.array([t.crop[0], t.crop[1], t.crop[0], t.crop[1]], np.float32)
                boxes[i] = b.astype(np.float32)
        g = self.gain
        return [
            StaticState(float(cover[i]), boxes[i], float(known[i]), bool(ready[i]), float(onset_age[i]),
                        (float(g[i, 0]), float(g[i, 1]), float(g[i, 2])))
            for i in range(n)
        ]


class StaticBank:
    """The static-object model of every piled-goods zone of a camera. `update` once per analysed frame, in
    stream-time order; it returns each zone's `StaticState`.

    `zones`: zone id -> (polygon in frame px, parameters, mover group). Zones whose movers (people and
    vehicles that are masked out) come from different rule sets name different mover groups; `update`
    takes the mover boxes per group."""

    def __init__(self, zones: Mapping[str, tuple[np.ndarray, StaticModelParams, object]],
                 frame_size: tuple[int, int]) -> None:
        groups: dict[tuple, list[str]] = {}
        for zid, (poly, params, movers) in zones.items():
            groups.setdefault((params, movers, kernel_radius(poly, frame_size, params)), []).append(zid)
        self.sheets: list[tuple[_Sheet, list[str], object]] = [
            (_Sheet([zones[z][0] for z in ids], frame_size, params), ids, movers)
            for (params, movers, _), ids in groups.items()
        ]
        self._where = {z: (k, i) for k, (_, ids, _) in enumerate(self.sheets) for i, z in enumerate(ids)}

    def update(self, frame_bgr: np.ndarray, ts: float, movers: Mapping[object, np.ndarray]) -> dict[str, StaticState]:
        out: dict[str, StaticState] = {}
        for sheet, ids, group in self.sheets:
            out.update(zip(ids, sheet.update(frame_bgr, ts, movers[group]), strict=True))
        return out

    def __contains__(self, zone_id: object) -> bool:
        return zone_id in self._where

    def reset(self, zone_id: str) -> None:
        k, i = self._where[zone_id]
        self.sheets[k][0].reset(i)


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

    def update(self, frame_bgr: np.ndarray, ts: float, mover_boxes: np.ndarray) -> StaticState:
        """Advance the model by one frame at stream time `ts` (s); `mover_boxes` (n, 4) image px of people
        and vehicles, whose (expanded) boxes are neither judged nor learned from. Called again sooner than
        about 1 / `max_fps` seconds after its last run, it returns that run's state unchanged."""
        return self._sheet.update(frame_bgr, ts, mover_boxes)[0]
