"""`_Sheet`: the zones of one parameter set and shake radius, stacked in one canvas, stepped band by band."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from edge.background import regions
from edge.background.ghosts import ghosts
from edge.background.kernels import (
    _BIG,
    _BINOMIAL,
    _CLIP_LEVEL,
    _SATURATED,
    _X0,
    _cross,
    _EllipseFilter,
    _medians,
    _texture,
)
from edge.background.layout import (
    StaticModelParams,
    StaticState,
    _Band,
    _layout,
    _Tile,
)
from zones.membership import polygon_mask

log = logging.getLogger("doorline.edge.background")


class _Sheet:
    """Zones with the same parameters and shake radius, stacked vertically in one canvas.

    The arrays live in a canvas 2 r columns wider than `shape` (gap columns: room for the filters' flat
    shifts to run past a row's end) and images with colour channels are stored channels-first: numpy is slow
    on a 3-long innermost axis and on strided rows, fast on whole contiguous planes. The attributes (`ref`,
    `known`, `age`, ...) are (h, w[, 3]) views of them."""

    BAND_PX = 48_000  # canvas pixels per band: small reused scratch buffers (the size matters little)

    def __init__(self, polygons: Sequence[np.ndarray], frame_size: tuple[int, int], p: StaticModelParams,
                 names: Sequence[str] | None = None) -> None:
        self.p = p
        self.names = list(names) if names is not None else [str(i) for i in range(len(polygons))]
        self.view_changes = 0  # times the zones learned afresh because the view had changed
        fw, fh = int(frame_size[0]), int(frame_size[1])
        self.frame_size = (fw, fh)
        radii, tiles, (h, w) = _layout(polygons, (fw, fh), p)
        # what a saved reference must match to be restored here: the frame size, parameters and zones
        digest = hashlib.sha256(repr((fw, fh, p)).encode())
        for poly in polygons:
            digest.update(np.ascontiguousarray(poly, np.float64).tobytes())
        self.key = digest.hexdigest()
        self.tiles: list[_Tile] = tiles
        self.radii = radii
        self.shape = (h, w)
        # the canvas: 2 r more gap columns (r the largest shake radius), with the 2 left and 1 right of the zones:
        # the guard dilation (radius 2 r + 2) then never carries foreground past a row's end to a zone pixel of
        # the next row
        r = max(radii)
        self._w = wc = w + 2 * r
        self.row_tile = np.full(h, -1, np.int64)  # -1 (gap rows) indexes the extra last entry of per-zone arrays
        self._valid = np.zeros((h, wc), bool)
        self._zone_mask = np.zeros((h, wc), bool)
        self._inner = np.zeros((h, wc), bool)
        b = math.ceil(p.shake_px) + 1  # a shaking camera invents the frame's outermost pixels: never judged
        for i, (t, poly) in enumerate(zip(tiles, polygons, strict=True)):
            (x1, y1, _, _), tw, th = t.crop, t.size[0], t.size[1]
            self.row_tile[t.rows] = i
            self._valid[t.rows, t.cols] = True
            self._zone_mask[t.rows, t.cols] = polygon_mask(poly, t.size, offset=(x1, y1), scale=t.scale)
            fx = x1 + (np.arange(tw) + 0.5) / t.scale
            fy = y1 + (np.arange(th) + 0.5) / t.scale
            self._inner[t.rows, t.cols] = ((fy >= b) & (fy < fh - b))[:, None] & ((fx >= b) & (fx < fw - b))[None, :]
        self._gap = ~self._valid
        # the texture cue reads 5x5 windows of gradients: only where the window stays within the zone's crop
        self._tex_ok = cv2.erode(self._valid.view(np.uint8), np.ones((7, 7), np.uint8)).view(bool)
        self._ring = self._valid[:, :w] & ~self._zone_mask[:, :w]  # around the zones, within their crops
        self.valid, self.zone_mask, self.inner, self.gap = (
            a[:, :w] for a in (self._valid, self._zone_mask, self._inner, self._gap))
        # added to the reference before min filtering (the reference is 0 in the gaps), taken before max filtering
        self._gap_big = np.where(self._gap, _BIG, np.float32(0))
        self.zone_area = np.array([max(int(self.zone_mask[t.rows].sum()), 1) for t in tiles], np.int64)
        self.n_sample = np.array([((t.size[0] + 1) // 2) * ((t.size[1] + 1) // 2) for t in tiles], np.int64)
        self._gain_min = np.maximum(30, 0.05 * self.n_sample)  # fewer usable samples: keep the last gain
        self.min_blob = p.min_blob_frac * self.zone_area
        # the frame's crops; the gaps, never judged, hold a mid grey so that a band's extremes are its zones'
        self._u8 = np.full((h, wc, 3), 128, np.uint8)
        self._usable_buf = np.zeros((h, wc), bool)
        box = np.array([[t.crop[0], t.crop[1], t.crop[0], t.crop[1]] for t in tiles], np.float64)
        self._offset, self._scales = box, np.array([t.scale for t in tiles], np.float64)
        self._limits = np.array([[t.size[0] - 1, t.size[1] - 1] for t in tiles], np.int64)
        self._y0 = np.array([t.y0 for t in tiles], np.int64)

        self.bands = self._bands()
        self._runs = [run for band in self.bands for run in band.runs]
        hb = max(band.hi - band.lo for band in self.bands)
        self._shake: dict[int, _EllipseFilter] = {}  # per shake radius: the reference's neighbourhood min / max
        self._guard: dict[int, _EllipseFilter] = {}  # and the guard dilation (no learning near foreground)
        for k in sorted(set(radii)):
            hr = max(hi - lo for lo, hi, rr in self._runs if rr == k)
            self._shake[k] = _EllipseFilter(k, wc, hr, 3, np.float32)
            self._guard[k] = _EllipseFilter(2 * k + 2, wc, hr, 1, np.bool_)
        px, pad = hb * wc, (4 * r + 6) * wc  # a filter's input: its rows out and 2 g + 2 more, g = 2 r + 2
        self._scratch = {name: np.zeros(size, dtype) for name, size, dtype in (
            ("cur", 3 * px, np.float32), ("cur_n", 3 * px, np.float32), ("t1", 3 * px, np.float32),
            ("t2", 3 * px, np.float32), ("b3", 3 * px, bool), ("excess", px, np.float32), ("thr", px, np.float32),
            ("t2d", px, np.float32), ("raw", px, bool), ("busy", px, bool), ("pick", px, bool), ("seen", px, bool),
            ("eroded", px, bool),
            ("x", 3 * (px + pad), np.float32), ("src", px + pad, bool))}
        self.reset()

    def _bands(self) -> list[_Band]:
        """Cut the sheet into bands of about `BAND_PX` pixels, and bands into runs of one shake radius. A cut
        lies on an even row (the gain's grid stays aligned) r + 2 or r + 3 rows above the next tile, r the larger
        radius of the tiles on either side, so at least r + 1 rows below the last one (gaps are 2 r + 4 rows or
        more): what a band's (run's) shake filter, blur, foreground rim and static components read from beyond
        it is gap, and so is what its guard dilation reads there, as far as zone pixels are concerned."""
        h, w = self.shape
        bounds, first, cuts = [0], [0], [0]
        for i, t in enumerate(self.tiles[1:], start=1):
            r = max(self.radii[i - 1:i + 1])
            cut = (t.y0 - r - 2) & ~1
            prev = self.tiles[i - 1]
            assert cut - (prev.y0 + prev.size[1]) >= r + 1 and t.y0 - cut >= r + 2
            cuts.append(cut)
            if (t.y0 + t.size[1] - bounds[-1]) * w > self.BAND_PX:
                bounds.append(cut)
                first.append(i)
        bounds.append(h)
        first.append(len(self.tiles))
        bands = []
        for lo, hi, i, j in zip(bounds[:-1], bounds[1:], first[:-1], first[1:], strict=True):
            starts = [k for k in range(i, j) if k == i or self.radii[k] != self.radii[k - 1]]
            ends = [cuts[k] for k in starts[1:]] + [hi]
            runs = tuple((cuts[k] if k > i else lo, end, self.radii[k]) for k, end in zip(starts, ends, strict=True))
            grid = np.array([[(t.y0 - lo) // 2, (t.y0 + t.size[1] - lo + 1) // 2] for t in self.tiles[i:j]]).T
            bands.append(_Band(lo, hi, range(i, j), grid, runs))
        return bands

    def _buf(self, name: str, *shape: int) -> np.ndarray:
        """A C-contiguous scratch array of `shape` (at most a band's), reusing the flat buffer `name`."""
        return self._scratch[name][:math.prod(shape)].reshape(shape)

    # ------------------------------------------------------------------ state
    def reset(self, index: int | None = None) -> None:
        """Forget one zone (or all): the next frames rebuild its empty-zone reference."""
        (h, w), wc = self.shape, self._w
        if index is None:
            n = len(self.tiles)
            self._ref = np.zeros((3, h, wc), np.float32)
            self._known = np.zeros((h, wc), bool)
            self._ref_clipped = np.zeros((3, h, wc), bool)
            self._age = np.zeros((h, wc), np.float32)  # seconds of (held) foreground
            self._onset = np.zeros((h, wc), np.float64)  # stream time the current foreground run began
            self._released_at = np.full((h, wc), -np.inf)  # stream time the pixel was last released
            self._bg_age = np.zeros((h, wc), np.float32)  # seconds seen as background since last foreground
            self._static = np.zeros((h, wc), bool)
            self._fg = np.zeros((h, wc), bool)
            self.gain = np.ones((n + 1, 3), np.float32)  # the extra last row (gap rows) stays 1
            self.t0 = np.full(n, np.nan)
            self.last_ts = np.full(n, np.nan)
            self._last_step = math.nan
            # (the first and last r + 1 rows are far from any zone: constant, as the filters would make them)
            self._ref_min = np.full((3, h, wc), _BIG, np.float32)
            self._ref_max = np.full((3, h, wc), -_BIG, np.float32)
            self._ref_lum = np.zeros((h, wc), np.float32)
            self._ref_spread = np.zeros((h, wc), np.float32)
            self._tex_min = np.full((h, wc), _BIG, np.float32)  # the reference's texture, nearby min / max
            self._tex_max = np.full((h, wc), -_BIG, np.float32)
            self._since_stood = np.full((h, wc), _BIG, np.float32)  # seconds since a person stood still here
            self._held = np.zeros((h, wc), bool)  # weak foreground where a person stood: timers held
            self._lum = np.zeros((h, wc), np.float32)  # the frame's grey level (gain-corrected), this step
            self._ref_old = np.zeros((h, wc), np.float32)  # a far slower reference's grey level (ghosts)
            self._new_static = np.zeros((h, wc), bool)  # turned static this step
            # added to the reference before max filtering: -big in the gaps, +inf where learned while clipped
            self._max_offset = np.repeat(-self._gap_big[None], 3, axis=0)
            self.ref, self.ref_clipped, self.ref_min, self.ref_max = (
                a[:, :, :w].transpose(1, 2, 0) for a in (self._ref, self._ref_clipped, self._ref_min, self._ref_max))
            self.known, self.age, self.onset, self.bg_age, self.static, self.fg, self.ref_lum, self.ref_spread = (
                a[:, :w] for a in (self._known, self._age, self._onset, self._bg_age, self._static, self._fg,
                                   self._ref_lum, self._ref_spread))
            self.tex_min, self.tex_max, self.since_stood, self.held, self.ref_old, self.released_at = (
                a[:, :w] for a in (self._tex_min, self._tex_max, self._since_stood, self._held, self._ref_old,
                                   self._released_at))
        else:
            rows = self.tiles[index].rows
            for a in (self._known, self._age, self._onset, self._bg_age, self._static, self._fg, self._ref_old):
                a[rows] = 0
            self._released_at[rows] = -np.inf
            self._since_stood[rows] = _BIG
            for a in (self._ref, self._ref_clipped):
                a[:, rows] = 0
            self._max_offset[:, rows] = -self._gap_big[rows]
            self.gain[index] = 1.0
            self.t0[index] = self.last_ts[index] = np.nan
        self._last: list[StaticState] | None = None  # the last run's states, until the next run is due
        if index is None:
            self.restored = False  # from a saved reference (`restore`), and not found unlike the view since
            self._verify = False
            self._changed_since = math.nan  # since when the view has differed from the reference
            self._next_view_check = -math.inf
        self._known_px: np.ndarray | None = None  # known pixels per zone polygon, None when to be counted
        if index is None:
            for band in self.bands:
                self._refresh(band.lo, band.hi)
        else:  # the derived images change within the shake radius of the zone's rows
            r = self.radii[index]
            self._refresh(rows.start - r, rows.stop + r)

    # what one zone has learned and is timing, per pixel: `take_zone` carries these across a rebuild
    _PER_PIXEL = ("_ref", "_known", "_ref_clipped", "_max_offset", "_age", "_onset", "_bg_age", "_static", "_fg",
                  "_since_stood", "_ref_old", "_released_at")

    def take_zone(self, index: int, other: _Sheet, other_index: int) -> None:
        """Zone `index` continues where zone `other_index` of `other` left off: the same zone in the sheet built
        before a zones reload or a change of the frame size. Its learned empty zone, its static objects and
        their timers are carried over, each pixel from the nearest pixel of the other crop (mapped through the
        frames' sizes), so an object standing in the zone stays an object instead of being learned as empty
        street. Pixels the other crop did not hold start unknown."""
        t, o = self.tiles[index], other.tiles[other_index]
        sx = other.frame_size[0] / self.frame_size[0]
        sy = other.frame_size[1] / self.frame_size[1]
        fx = (t.crop[0] + (np.arange(t.size[0]) + 0.5) / t.scale) * sx  # pixel centres in the other frame
        fy = (t.crop[1] + (np.arange(t.size[1]) + 0.5) / t.scale) * sy
        cols = np.floor((fx - o.crop[0]) * o.scale).astype(np.int64)
        rows = np.floor((fy - o.crop[1]) * o.scale).astype(np.int64)
        missing = ~(((rows >= 0) & (rows < o.size[1]))[:, None] & ((cols >= 0) & (cols < o.size[0]))[None, :])
        src = (np.clip(rows, 0, o.size[1] - 1)[:, None] + o.y0, np.clip(cols, 0, o.size[0] - 1)[None, :] + _X0)
        for name in self._PER_PIXEL:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine.ndim == 3:  # channels first
                block = theirs[:, src[0], src[1]]
                block[:, missing] = 0
                mine[:, t.rows, t.cols] = block
            else:
                block = theirs[src]
                block[missing] = 0
                mine[t.rows, t.cols] = block
        self.gain[index] = other.gain[other_index]
        self.t0[index] = other.t0[other_index]
        self.last_ts[index] = other.last_ts[other_index]
        self._last = None
        self._known_px = None
        r = self.radii[index]
        self._refresh(t.rows.start - r, t.rows.stop + r)

    _SAVED = ("_ref", "_known", "_ref_clipped", "_max_offset", "gain", "_ref_old")

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of what the model has learned of the empty zones (not its timers): `restore` takes them."""
        return {name.lstrip("_"): getattr(self, name).copy() for name in self._SAVED}

    def restore(self, saved: Mapping[str, np.ndarray]) -> None:
        """Take a `snapshot` of a sheet with the same `key`: its zones skip the warm-up, so what stands in them
        now is judged against the saved empty zone instead of being learned as background. Timers start
        afresh (an object there becomes static `static_after_s` later)."""
        self.reset()
        for name in self._SAVED:
            value = np.asarray(saved[name.lstrip("_")])
            target = getattr(self, name)
            if value.shape != target.shape or value.dtype != target.dtype:
                raise ValueError(f"saved {name.lstrip('_')} is {value.dtype}{value.shape}, "
                                 f"not {target.dtype}{target.shape}")
            target[...] = value
        self.t0[:] = -np.inf  # warmed up long ago
        self._known_px = None
        for band in self.bands:
            self._refresh(band.lo, band.hi)
        self.restored = True
        self._verify = True  # the first step checks that the view is still the one saved

    VIEW_CHANGED = 0.2  # share of a zone's surroundings unlike the reference that means another view; once
    # seen, half of it keeps the timer going (a shifted view of plain pavement flickers around a third)

    def _view_changed(self, usable: np.ndarray, threshold: float) -> float | None:
        """When the view itself has changed, the share of the judged pixels around the zones that are foreground,
        else None. "Around" is within each zone's crop and outside its polygon, where goods rarely reach; the
        view has changed when the zones holding two thirds of those pixels each have more than `threshold`
        of theirs unlike the reference: a camera that was moved, zoomed or turned sees another street there,
        while a pile, even one spilling over its zone, changes the surroundings of one zone at most. (On the
        dev clips, with their exposure steps, shake and bags, a zone's share stays below 9 %.)"""
        ring = np.logical_and(self._ring, usable)
        ring &= self.known
        judged = np.add.reduceat(np.count_nonzero(ring, axis=1), self._y0)
        total = judged.sum()
        if total < 50:
            return None
        fg = np.add.reduceat(np.count_nonzero(ring & self.fg, axis=1), self._y0)
        changed = fg > threshold * judged
        if judged[changed].sum() < 2 / 3 * total:
            return None
        return float(fg[changed].sum() / judged[changed].sum())

    # ------------------------------------------------------------------ helpers
    def _prepare(self, frame_bgr: np.ndarray) -> None:
        for t in self.tiles:
            x1, y1, x2, y2 = t.crop
            crop = frame_bgr[y1:y2, x1:x2]
            if t.scale < 1.0:
                crop = cv2.resize(crop, t.size, interpolation=cv2.INTER_AREA)
            # a one-pixel mirrored rim: the blur then sees at each zone's edge what it would see alone
            self._u8[t.y0 - 1:t.y0 + t.size[1] + 1, _X0 - 1:_X0 + t.size[0] + 1] = cv2.copyMakeBorder(
                crop, 1, 1, 1, 1, cv2.BORDER_REFLECT_101)

    def _blur(self, band: _Band) -> np.ndarray:
        """The band's 3x3 Gaussian blur, (3, h, w) float32. On 8-bit input every partial sum of the
        [1 2 1] x [1 2 1] / 16 kernel is exact in float32, so this equals `cv2.GaussianBlur(float32(u8), (3, 3),
        0)` bit for bit."""
        n, wc = band.hi - band.lo, self._w
        blurred = cv2.sepFilter2D(self._u8[band.rows], cv2.CV_32F, _BINOMIAL, _BINOMIAL,
                                  dst=self._buf("t2", n, wc, 3))  # (one call for the 3 channels, then one copy)
        cur = self._buf("cur", 3, n, wc)
        np.copyto(cur, blurred.transpose(2, 0, 1))
        return cur

    def _usable(self, boxes: np.ndarray) -> np.ndarray:
        """Pixels judged away from the frame's edge and not behind a (grown) box of a person or vehicle."""
        usable = self._usable_buf
        np.copyto(usable, self._inner)
        self._paint(usable, boxes, False)
        return usable

    def _paint(self, image: np.ndarray, boxes: np.ndarray, value: float | bool) -> None:
        """Set `image` (sheet canvas) to `value` behind every (grown) box, in every zone's crop it reaches."""
        if len(boxes) == 0:
            return
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
        # (zone, box) pairs that overlap, a handful: as Python ints (numpy scalars index slowly)
        zone, box = np.nonzero(hits)
        y0 = self._y0[zone]
        for y1, y2, x1, x2 in zip((y0 + lo[zone, box, 1]).tolist(), (y0 + hi[zone, box, 1] + 1).tolist(),
                                  (lo[zone, box, 0] + _X0).tolist(), (hi[zone, box, 0] + _X0 + 1).tolist(),
                                  strict=True):
            image[y1:y2, x1:x2] = value

    def _refresh(self, lo: int, hi: int, runs: Sequence[tuple[int, int, int]] | None = None) -> None:
        """Derived reference images of rows [lo, hi) (held by `runs`, default all): neighbourhood min/max
        (shake tolerance) with each run's radius, per-pixel level."""
        h = self.shape[0]
        for run_lo, run_hi, r in self._runs if runs is None else runs:
            a, b = max(lo, run_lo, r + 1), min(hi, run_hi, h - r - 1)  # rows beyond stay far-from-zone constants
            if a >= b:
                continue
            shake = self._shake[r]
            top, bottom = shake.rows_in(a, b)
            ref = self._ref[:, top:bottom].reshape(3, -1)
            x = self._buf("x", 3, ref.shape[1])
            np.add(ref, self._gap_big[top:bottom].reshape(-1), out=x)
            shake.apply(x, np.minimum, self._ref_min[:, a:b].reshape(3, -1))
            # a channel learned while clipped only bounds the truth from below: its +inf leaves no upper bound
            np.add(ref, self._max_offset[:, top:bottom].reshape(3, -1), out=x)
            shake.apply(x, np.maximum, self._ref_max[:, a:b].reshape(3, -1))
            # the reference's texture, and its min / max within the shake radius
            t0, t1 = max(top - 3, 0), min(bottom + 3, h)
            above = self._ref[:, t0:t1]
            tex = _texture((above[0] + above[1] + above[2]) * np.float32(1 / 3))[top - t0:bottom - t0]
            x = self._buf("x", 1, tex.size)
            np.add(tex.reshape(1, -1), self._gap_big[top:bottom].reshape(1, -1), out=x)
            shake.apply(x, np.minimum, self._tex_min[a:b].reshape(1, -1))
            np.subtract(tex.reshape(1, -1), self._gap_big[top:bottom].reshape(1, -1), out=x)
            shake.apply(x, np.maximum, self._tex_max[a:b].reshape(1, -1))
        wc = self._w
        ref = self._ref[:, lo:hi]
        lum = np.add(ref[0], ref[1], out=self._ref_lum[lo:hi])
        lum += ref[2]
        lum *= np.float32(1 / 3)
        # local contrast: compression ringing and sub-pixel shake are largest on strong edges
        t = np.minimum(self._ref_max[:, lo:hi], 255.0, out=self._buf("t2", 3, hi - lo, wc))
        t -= self._ref_min[:, lo:hi]
        spread = np.maximum(t[0], t[1], out=self._ref_spread[lo:hi])
        np.maximum(spread, t[2], out=spread)
        spread -= self.p.edge_knee
        np.maximum(spread, 0.0, out=spread)

    def _estimate_gain(self, band: _Band, cur: np.ndarray, usable: np.ndarray, bright: bool, dark: bool) -> None:
        """Each tile's gain: the median ratio frame / reference per channel over background pixels on every
        other pixel of every other row (the band starts on an even row). `bright`, `dark`: the band may hold
        pixels clipped at the top, at the bottom."""
        rows = band.rows
        sub = (slice(None, None, 2), slice(None, None, 2))
        cs = cur[:, ::2, ::2]
        seen = np.logical_and(usable[sub], self._known[rows][sub], out=self._buf("seen", *usable[sub].shape))
        seen &= self._ref_lum[rows][sub] > 12.0
        if dark:  # a clipped channel says nothing
            seen &= np.minimum(np.minimum(cs[0], cs[1]), cs[2]) > 2.0
        if bright:
            seen &= np.maximum(np.maximum(cs[0], cs[1]), cs[2]) < _SATURATED
        pick = np.logical_and(seen, ~self._static[rows][sub], out=self._buf("pick", *seen.shape))
        pick &= ~self._fg[rows][sub]
        spans = band.tile_grid.T.tolist()
        counts = np.array([np.count_nonzero(pick[a:b]) for a, b in spans])
        # a zone all foreground with nothing in front of it: its gain went wrong (read off a big object that no
        # box covered, a car the detector missed) and every pixel now reads too bright or too dark, so no
        # background is left to correct it by. Estimate it from every pixel seen, or the zone is a pile for good
        gain_min = self._gain_min[band.tiles.start:band.tiles.stop]
        for i in np.flatnonzero(counts < gain_min):
            a, b = spans[i]
            n_seen = np.count_nonzero(seen[a:b])
            if n_seen >= 4 * gain_min[i]:
                pick[a:b] = seen[a:b]
                counts[i] = n_seen
        enough = np.flatnonzero(counts >= gain_min)
        if len(enough) == 0:  # keep the last gain
            return
        ratio = np.divide(cs, np.maximum(self._ref[:, rows][:, ::2, ::2], 1.0), out=self._buf("t1", 3, *pick.shape))
        ratio += np.where(pick, np.float32(0), np.float32(np.inf))  # the others sort last (x + 0 is x)
        med = _medians([ratio[:, a:b].reshape(3, -1) for a, b in (spans[i] for i in enough)], counts[enough])
        self.gain[band.tiles.start + enough] = np.clip(med, 0.2, 5.0)

    def _at(self, band: _Band, px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices (3, n) of the band's pixels `px` (flat within the band) in a (3, h, w) canvas image and
        in a (3, band h, w) scratch image."""
        h, wc = self.shape[0], self._w
        planes = np.arange(3)[:, None]
        return px + band.lo * wc + planes * (h * wc), px + planes * ((band.hi - band.lo) * wc)

    # ------------------------------------------------------------------ main step
    def update(self, frame_bgr: np.ndarray, ts: float, mover_boxes: np.ndarray,
               standing: np.ndarray | None = None) -> list[StaticState]:
        """Each zone's state after `frame_bgr`: a new run once about 1 / `max_fps` seconds have passed since
        the last one (or after a reset), else the last run's states unchanged."""
        if self._last is None or not 0.0 <= ts - self._last_step < 0.75 / self.p.max_fps:
            self._last = self.step(frame_bgr, ts, mover_boxes, standing)
            self._last_step = ts
        return self._last

    def step(self, frame_bgr: np.ndarray, ts: float, mover_boxes: np.ndarray,
             standing: np.ndarray | None = None) -> list[StaticState]:
        """`mover_boxes`: people and vehicles, never judged behind; `standing`: those of people standing still."""
        p = self.p
        standing = np.zeros((0, 4)) if standing is None else standing
        self._prepare(frame_bgr)
        usable = self._usable(mover_boxes)
        self.t0[np.isnan(self.t0)] = ts
        self.last_ts[np.isnan(self.last_ts)] = ts  # a fresh zone, or one whose reference was restored
        dt = np.clip(ts - self.last_ts, 0.0, 5.0)
        self.last_ts[:] = ts
        warming = ts - self.t0 < p.warmup_s
        alpha = np.where(dt > 0, 1.0 - np.exp(-dt / np.where(warming, 0.5, p.learn_tau_s)), 0.0)
        # per row: the zone's value, gap rows (index -1) get the appended neutral one
        warm_rows = np.append(warming, False)[self.row_tile]
        dt_rows = np.append(dt, 0.0).astype(np.float32)[self.row_tile][:, None]
        alpha_rows = np.append(alpha, 0.0).astype(np.float32)[self.row_tile]
        slow = np.where(dt > 0, 1.0 - np.exp(-dt / np.where(warming, 0.5, p.ghost_tau_s)), 0.0)
        slow_rows = np.append(slow, 0.0).astype(np.float32)[self.row_tile]
        self._since_stood += dt_rows
        self._paint(self._since_stood, standing, 0.0)
        for band in self.bands:  # each row belongs to one band, and bands do not interact
            rows = band.rows
            self._step_band(band, ts, usable[rows], warm_rows[rows, None], dt_rows[rows], alpha_rows[rows],
                            slow_rows[rows])
        if self._new_static.any():
            self._drop_ghosts()
        if self._view_is_new(usable, ts):
            self.view_changes += 1
            self.reset()
            return self.step(frame_bgr, ts, mover_boxes, standing)
        return regions.states(self, ts, ~warming)

    def _drop_ghosts(self) -> None:
        """Objects that just turned static but stand in the reference, not in the frame (`edge.background.ghosts`:
        what was learned as ground, then taken away) are forgotten: their pixels are unknown again, so the next
        step learns them from the frame, and their timers start afresh."""
        tiles = np.logical_or.reduceat(self._new_static.any(axis=1), self._y0)
        for i in np.flatnonzero(tiles).tolist():
            t = self.tiles[i]
            at = (t.rows, t.cols)
            drop = ghosts(self._static[at], self._new_static[at], self._lum[at], self._ref_lum[at], self._ref_old[at],
                          self.p.ghost_share)
            if drop.any():
                for a in (self._known, self._static, self._fg, self._age, self._bg_age):
                    a[at][drop] = 0
                self._known_px = None
                log.debug("zone %s: a ghost of %d px (something learned as ground was taken away) is learned "
                          "afresh", self.names[i], int(drop.sum()))

    def _view_is_new(self, usable: np.ndarray, ts: float) -> bool:
        """True (and logged) when the zones must learn afresh: their surroundings have differed from the
        reference for `view_change_s`, or right after a restore, on its first frame. Checked once a second."""
        verify, self._verify = self._verify, False
        if not (verify or ts >= self._next_view_check or ts < self._next_view_check - 1.0):
            return False
        self._next_view_check = ts + 1.0
        seen = not math.isnan(self._changed_since)
        share = self._view_changed(usable[:, :self.shape[1]], self.VIEW_CHANGED / (2 if seen else 1))
        if share is None:
            self._changed_since = math.nan
            return False
        if not seen:
            self._changed_since = ts
        lasted = ts - self._changed_since
        if not (verify or lasted >= self.p.view_change_s):
            return False
        what = "the saved reference" if verify else f"their reference for {lasted:.0f} s"
        log.warning("zones %s: %.0f %% of their surroundings differ from %s (the camera moved or its view "
                    "changed); learning them afresh", ", ".join(self.names), 100 * share, what)
        return True

    def _step_band(self, band: _Band, ts: float, usable: np.ndarray, warm: np.ndarray, dt: np.ndarray,
                   alpha: np.ndarray, slow: np.ndarray) -> None:
        """`alpha`, `slow`: per row, the reference's and the older reference's learning rates this step."""
        rows = band.rows
        cur = self._blur(band)
        # a blurred pixel lies within the range of the pixels around it (the gaps hold a mid grey): most bands
        # have nothing clipped
        u8 = self._u8[rows]
        bright, dark = bool(u8.max() >= _SATURATED), bool(u8.min() <= 2)
        self._estimate_gain(band, cur, usable, bright, dark)
        gain = self.gain[self.row_tile[rows]].T[:, :, None]  # (3, h, 1)
        cur_n = np.divide(cur, gain, out=self._buf("cur_n", *cur.shape))
        lum = np.add(cur_n[0], cur_n[1], out=self._lum[rows])
        lum += cur_n[2]
        lum *= np.float32(1 / 3)

        # pixels seen for the first time without anything in front of them define the reference
        known = self._known[rows]
        new = usable & ~known
        if new.any():
            self._define(band, cur, cur_n, new)
        observed = usable & known
        judged = observed & ~warm  # zones warming up only learn

        fg = self._foreground(band, cur_n, gain, judged)
        bg = judged & ~fg
        bg &= ~self._held[rows]  # weakly unlike the reference where a mover stood: neither object nor ground
        self._advance_timers(band, ts, dt, fg, bg)

        learn = ((observed & warm) | (bg & ~self._busy(band) & ~warm)) & (alpha > 0)[:, None]
        if learn.any():
            self._learn(band, cur, cur_n, learn, alpha, slow, bright)

    def _define(self, band: _Band, cur: np.ndarray, cur_n: np.ndarray, new: np.ndarray) -> None:
        px = np.flatnonzero(new)
        in_sheet, in_band = self._at(band, px)
        self._ref.reshape(-1)[in_sheet] = cur_n.reshape(-1)[in_band]
        self._ref_old[band.rows].reshape(-1)[px] = self._lum[band.rows].reshape(-1)[px]
        clipped = cur.reshape(-1)[in_band] >= _SATURATED
        self._ref_clipped.reshape(-1)[in_sheet] = clipped
        self._max_offset.reshape(-1)[in_sheet] = np.where(clipped, np.float32(np.inf), np.float32(0))
        self._known[band.rows] |= new
        self._known_px = None
        r = max(run[2] for run in band.runs)
        y = band.lo + px[[0, -1]] // self._w  # first and last row with new pixels
        self._refresh(y[0] - r, y[1] + r + 1, band.runs)

    def _foreground(self, band: _Band, cur_n: np.ndarray, gain: np.ndarray, judged: np.ndarray) -> np.ndarray:
        p, rows, (_, n, wc) = self.p, band.rows, cur_n.shape
        # a channel whose expected value is near the sensor's clip level cannot read darker-than-expected
        # when it is clipped: cap the lower bound below the clip level (normalised by the gain)
        low = np.minimum(self._ref_min[:, rows], (_CLIP_LEVEL / np.maximum(gain, 1e-3)).astype(np.float32),
                         out=self._buf("t1", 3, n, wc))
        below = np.subtract(low, cur_n, out=low)
        above = np.subtract(cur_n, self._ref_max[:, rows], out=self._buf("t2", 3, n, wc))
        worst = np.maximum(above, below, out=above)
        excess = np.maximum(worst[0], worst[1], out=self._buf("excess", n, wc))
        np.maximum(excess, worst[2], out=excess)
        thr = np.minimum(self._ref_lum[rows], p.thr_rel_cap, out=self._buf("thr", n, wc))
        # the texture cue's lower threshold, of the same capped level
        weak_thr = thr * np.float32(p.weak_rel) + np.float32(p.weak_abs) if math.isfinite(p.texture_rise) else None
        thr *= p.thr_rel
        thr += p.thr_abs  # thr_abs + thr_rel * lum + thr_edge * spread, in that order
        thr += np.multiply(self._ref_spread[rows], p.thr_edge, out=self._buf("t2d", n, wc))
        # opening = erode then dilate; outside a zone counts as "ignore" there, as at an image edge
        raw = np.greater(excess, thr, out=self._buf("raw", n, wc))
        if weak_thr is not None:
            raw |= self._weak(band, cur_n, excess, weak_thr)
        raw &= judged
        raw |= self._gap[rows]
        fg = _cross(raw, np.logical_and, self._buf("eroded", n, wc))
        fg &= self._valid[rows]
        return _cross(fg, np.logical_or, self._fg[rows])

    def _weak(self, band: _Band, cur_n: np.ndarray, excess: np.ndarray, thr: np.ndarray) -> np.ndarray:
        """Pixels beyond the lower threshold `thr` (`weak_abs` + `weak_rel` of the level) whose texture changed by more
        than `texture_rise` beyond the reference's within the shake radius (a pixel already foreground: at
        `weak_keep` of both), away from where a person stood still (there they are `_held`: their timers wait,
        as behind a box)."""
        p, rows = self.p, band.rows
        tex = _texture(self._lum[rows])
        # a held pixel keeps the hysteresis too: a faint object a passer-by lingered by would otherwise lose its
        # pixels one by one while they are held, and be released
        keep = np.where(self._fg[rows] | self._held[rows], np.float32(p.weak_keep), np.float32(1.0))
        rise = keep * np.float32(p.texture_rise)
        changed = (tex - self._tex_max[rows] > rise) | (self._tex_min[rows] - tex > rise)
        changed &= self._tex_ok[rows]
        changed &= excess > thr * keep
        stood = self._since_stood[rows] < p.weak_hold_s
        np.logical_and(changed, stood, out=self._held[rows])
        changed &= ~stood
        return changed

    def _advance_timers(self, band: _Band, ts: float, dt: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> None:
        # bool images enter float arithmetic as uint8 views (numpy casts those faster): x * 0 is 0, x * 1 is x
        p, rows = self.p, band.rows
        age, bg_age, static = self._age[rows], self._bg_age[rows], self._static[rows]
        tmp = self._buf("t2d", *age.shape)
        onset = fg & (age == 0)
        if onset.any():
            # a pixel released moments ago goes on with its run (a faint object flickering), else starts one
            onset &= ts - self._released_at[rows] > p.onset_memory_s
            self._onset[rows].reshape(-1)[np.flatnonzero(onset)] = ts
        age += np.multiply(fg.view(np.uint8), dt, out=tmp)
        np.logical_not(fg, out=onset)
        bg_age *= onset.view(np.uint8)
        bg_age += np.multiply(bg.view(np.uint8), dt, out=tmp)
        released = np.greater_equal(bg_age, p.release_s, out=onset)
        released &= bg
        if released.any():
            age *= np.logical_not(released).view(np.uint8)
            self._released_at[rows][released & static] = ts  # (only an object's pixels are remembered)
            static &= ~released
        new = np.greater_equal(age, p.static_after_s, out=self._new_static[rows])
        new &= ~static
        static |= new

    def _busy(self, band: _Band) -> np.ndarray:
        """Pixels near (held) foreground or static objects: they do not learn (rows near the band's ends, all
        gap, are left unset)."""
        h, wc = self.shape[0], self._w
        busy = self._buf("busy", band.hi - band.lo, wc)
        for lo, hi, r in band.runs:
            guard = self._guard[r]
            g = guard.radius
            a, b = max(lo, g + 1), min(hi, h - g - 1)
            if a < b:
                top, bottom = guard.rows_in(a, b)
                src = np.greater(self._age[top:bottom].reshape(1, -1), 0,
                                 out=self._buf("src", 1, (bottom - top) * wc))
                src |= self._static[top:bottom].reshape(-1)
                src |= self._fg[top:bottom].reshape(-1)
                guard.apply(src, np.logical_or, busy[a - band.lo:b - band.lo].reshape(1, -1))
        return busy

    def _learn(self, band: _Band, cur: np.ndarray, cur_n: np.ndarray, where: np.ndarray, alpha: np.ndarray,
               slow: np.ndarray, bright: bool) -> None:
        rows, (_, n, wc) = band.rows, cur.shape
        ref = self._ref[:, rows]
        delta = np.subtract(cur_n, ref, out=self._buf("t1", 3, n, wc))
        delta *= np.multiply(where.view(np.uint8), alpha[:, None], out=self._buf("t2d", n, wc))
        ref += delta
        old = self._ref_old[rows]
        step = np.subtract(self._lum[rows], old, out=self._buf("t2d", n, wc))
        step *= where.view(np.uint8)
        step *= slow[:, None]
        old += step
        ref_clipped = self._ref_clipped[:, rows]
        if ref_clipped.any():
            # a channel learned while clipped gets its upper bound back once it reads below the clip level
            # again (the exposure came back down), re-learned from that reading as a new pixel would be:
            # else an object brighter than the ground would stay invisible there for good
            back = np.less(cur, _CLIP_LEVEL) & where & ref_clipped
            if back.any():
                ref[back] = cur_n[back]
                ref_clipped &= ~back
                self._max_offset[:, rows][back] = 0.0
        if bright:
            clipped = np.greater_equal(cur, _SATURATED, out=self._buf("b3", 3, n, wc))
            clipped &= where
            clipped &= ~ref_clipped
            if clipped.any():
                ref_clipped |= clipped
                self._max_offset[:, rows][clipped] = np.inf
        self._refresh(band.lo, band.hi, band.runs)

    # ------------------------------------------------------------------ results
