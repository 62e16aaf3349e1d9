"""The static-object model's parameters and state, and where each zone's crop lies in a sheet (tiles, bands,
the gaps that keep filters from reaching across zones)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edge.background.kernels import (
    _X0,
)


@dataclass(frozen=True)
class StaticState:
    """What the static-object model sees in a zone after one frame."""

    coverage: float  # fraction of the zone polygon covered by static objects
    boxes: np.ndarray  # (n, 4) float32 image px of static objects (connected components)
    known: float  # fraction of the zone whose empty appearance is known
    ready: bool  # warm-up finished
    onset_age_s: float  # how long ago the zone's static objects first showed (0 when none)
    gain: tuple[float, float, float]
    pixel: float = 1.0  # frame px per model pixel in this zone (its crop is downscaled to at most max_side)


@dataclass(frozen=True)
class StaticModelParams:
    margin_px: int = 24  # context around the zone (gain estimation, objects straddling the edge)
    max_side: int = 96  # the crop is downscaled so its longer side is at most this (160 cost 2x, same events)
    shake_px: float = 3.0  # neighbourhood radius (full-res px) for the min/max reference
    warmup_s: float = 4.0  # reference learns fast (everything not masked) for this long after a reset
    learn_tau_s: float = 60.0  # time constant of the slow reference update on background pixels
    static_after_s: float = 3.0
    release_s: float = 1.0  # a static pixel seen as background this long is released
    onset_memory_s: float = 10.0  # ... but foreground again within this long, it keeps the onset it had
    thr_abs: float = 12.0  # grey levels (0..255) beyond the reference min/max
    thr_rel: float = 0.10  # plus this fraction of the reference level (16 + 0.12 missed faint bags)
    thr_rel_cap: float = 255.0  # ... of at most this level (90 found dull objects on pale ground, but raised a
    # false episode on a road zone of the bag clip: off until a cap passes every set, see docs/ACCURACY.md)
    thr_edge: float = 0.2  # plus this fraction of the reference's local contrast (max - min nearby) ...
    edge_knee: float = 64.0  # ... above this much, i.e. only on strong edges, not on textured ground
    # a second, lower threshold where the texture changed: objects of nearly the ground's grey (a dull sack
    # on pale paving) differ from it by less than the threshold above, but bring texture the ground lacks (or
    # hide the ground's). Light drift and exposure steps change levels, not texture, so they keep the full one
    texture_rise: float = 6.0  # grey levels: 5x5 mean of |dx| + |dy| beyond the reference's nearby min/max
    weak_abs: float = 4.0  # the lower threshold where it did: grey levels ...
    weak_rel: float = 0.02  # ... plus this fraction of the reference level
    weak_keep: float = 0.5  # a pixel already foreground stays so at this share of the rise and threshold
    # a person who stands still is sometimes missed by the detector for a second or two: where a person stood
    # (edge.standing) within the last `weak_hold_s`, only the full threshold counts, so those misses cannot
    # turn the person's clothes into a pile
    weak_hold_s: float = 10.0
    # an object learned as ground (too faint to be seen, or hidden for a while), then taken away, leaves a ghost:
    # a far slower reference (time constant `ghost_tau_s`) still holds the ground, and a component that has just
    # turned static and lies within `ghost_share` of the distance to it that it lies from the reference is the
    # ground come back (edge.background.ghosts)
    ghost_tau_s: float = 600.0
    ghost_share: float = 0.5
    min_blob_frac: float = 0.01  # static components smaller than this fraction of the zone are noise
    min_inside: float = 0.3  # ... and ones with less than this share of their pixels in the zone are the next
    # shop's, reaching across the edge (objects set across the edge stand 40-70 % inside: docs/ACCURACY.md)
    mover_pad: float = 0.12  # boxes of people/vehicles grow by this fraction of their size on each side
    mover_pad_px: float = 4.0
    max_fps: float = 2.0  # the model runs at most this often (its timers are seconds long); frames in between
    # reuse the last state, so a 10 fps analysis costs no more here than the default 2 fps
    view_change_s: float = 5.0  # the zones' surroundings unlike the reference this long: the view
    # itself changed (camera bumped, turned or zoomed), so the zones learn afresh instead of turning
    # every pixel into a pile that never goes away; shorter than any dwell time, longer than a glitch


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


@dataclass(frozen=True)
class _Band:
    """Consecutive sheet rows holding whole tiles, cut in the middle of gaps: a step runs band by band, so that
    its arrays stay in the CPU cache; no filter reaches across a cut (see `_Sheet._bands`)."""

    lo: int
    hi: int
    tiles: range
    tile_grid: np.ndarray = field(repr=False)  # (2, tiles) first and end row of each tile on the gain's grid
    runs: tuple[tuple[int, int, int], ...] = ()  # (lo, hi, shake radius): the band's rows, cut where it changes

    @property
    def rows(self) -> slice:
        return slice(self.lo, self.hi)


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
    """Radius (sheet px) of the zone's shake neighbourhood."""
    return max(1, math.ceil(p.shake_px * _tile_geometry(polygon, frame_size, p)[1]))


def _gap(r: int) -> int:
    """Rows between two zones of shake radius at most r: wider than any filter reaches (the guard dilation,
    radius 2 r + 2, and one more), and even, so is every zone's first row, like its first column: the gain's
    every-other-pixel grid lines up per zone."""
    g = 2 * r + 2
    return g + 1 + (g + 1) % 2


def _layout(
    polygons: Sequence[np.ndarray], frame_size: tuple[int, int], p: StaticModelParams
) -> tuple[list[int], list[_Tile], tuple[int, int]]:
    """The layout of a sheet: each zone's shake radius, the zones' tiles stacked one under the other (a gap
    wide enough for the larger radius of its two neighbours), and the canvas (h, w)."""
    geoms = [_tile_geometry(poly, frame_size, p) for poly in polygons]
    radii = [max(1, math.ceil(p.shake_px * scale)) for _, scale, _ in geoms]
    tiles, y = [], _gap(radii[0])
    for i, (crop, scale, size) in enumerate(geoms):
        tiles.append(_Tile(crop, scale, size, y))
        y += size[1] + _gap(max(radii[i:i + 2])) + (size[1] % 2)
    w = _X0 + max(t.size[0] for t in tiles) + 1  # nothing to the right: room for the blur's rim
    return radii, tiles, (y, w)


def _stack(
    polygons: Sequence[np.ndarray], frame_size: tuple[int, int], p: StaticModelParams
) -> tuple[int, int, list[_Tile], tuple[int, int]]:
    """The layout of a sheet of zones of one shake radius: that radius r, the guard radius g (no learning this
    close to foreground, or objects would creep into the reference), the tiles and the canvas (h, w)."""
    radii, tiles, shape = _layout(polygons, frame_size, p)
    if len(set(radii)) != 1:
        raise ValueError("a sheet holds zones of one shake radius")
    return radii[0], 2 * radii[0] + 2, tiles, shape
