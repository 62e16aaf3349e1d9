"""What a sheet's static pixels mean for each zone: connected components (boxes), when they first showed,
coverage and how much of the zone is known."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from edge.background.kernels import _X0, _percentile
from edge.background.layout import StaticState

if TYPE_CHECKING:
    from edge.background.sheet import _Sheet


def known_fraction(sheet: _Sheet) -> np.ndarray:
    if sheet._known_px is None:
        per_row = np.count_nonzero(sheet._known & sheet._zone_mask, axis=1)
        sheet._known_px = np.add.reduceat(per_row, sheet._y0).astype(np.float64)
    return sheet._known_px / sheet.zone_area

def components(sheet: _Sheet, tiles: Sequence[int]) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    """The static connected components of `tiles`, in the order, and with the stats, that
    `cv2.connectedComponentsWithStats` gives on the whole sheet: stats (k, 5) (top in sheet rows) and pixels
    in the zone polygon (k,); and per tile (tile, its first component, sheet rows and columns of its static
    pixels, their component). A component stays within its tile's rows and one-pixel rim; labels follow
    the raster order of 2x2 blocks, which an even first row keeps; OpenCV's stats, not its labelling, are
    what cost."""
    stats, in_zone, pixels = [], [], []
    done = 0
    for i in tiles:
        t = sheet.tiles[i]
        top = t.y0 - 2
        img = sheet._static[top:t.y0 + t.size[1] + 2]
        count, labels = cv2.connectedComponents(img.view(np.uint8), connectivity=8)
        if count < 2:
            continue
        at = np.flatnonzero(img)  # raster order
        comp = labels.reshape(-1)[at] - 1
        ys, xs = np.divmod(at, img.shape[1])
        ys += top
        order = np.argsort(comp, kind="stable")  # by component, each in raster order
        starts = np.searchsorted(comp[order], np.arange(count))
        first, last = order[starts[:-1]], order[starts[1:] - 1]
        left = np.minimum.reduceat(xs[order], starts[:-1])
        right = np.maximum.reduceat(xs[order], starts[:-1])
        stats.append(np.stack([left, ys[first], right - left + 1, ys[last] - ys[first] + 1, np.diff(starts)],
                              axis=1).astype(np.int32))
        in_zone.append(np.bincount(comp[sheet._zone_mask[ys, xs]], minlength=count - 1))
        pixels.append((i, done, ys, xs, comp))
        done += count - 1
    if not stats:
        return np.zeros((0, 5), np.int32), np.zeros(0, np.int64), pixels
    return np.concatenate(stats), np.concatenate(in_zone), pixels

def onsets(sheet: _Sheet, pixels: list[tuple], tile: int, mine: np.ndarray) -> np.ndarray:
    """Onsets of the pixels of `tile`'s zone polygon in the components `mine` (indices into the stats)."""
    for i, first, ys, xs, comp in pixels:
        if i == tile:
            ours = np.zeros(len(comp), bool)  # (np.isin is slow on small arrays)
            ours[mine - first] = True
            sel = ours[comp] & sheet._zone_mask[ys, xs]
            return sheet._onset[ys[sel], xs[sel]]
    return np.zeros(0)

def states(sheet: _Sheet, ts: float, ready: np.ndarray) -> list[StaticState]:
    n = len(sheet.tiles)
    has = np.logical_or.reduceat((sheet._static & sheet._zone_mask).any(axis=1), sheet._y0) & ready
    known = known_fraction(sheet)
    cover = np.zeros(n)
    onset_age = np.zeros(n)
    boxes: list[np.ndarray] = [np.zeros((0, 4), np.float32)] * n
    if has.any():
        # a component whose top is in the rim row above its tile has row_tile -1, i.e. counts for the last
        # zone: only the tiles holding static pixels of a zone that can keep a component are labelled
        held = np.logical_or.reduceat(sheet._static.any(axis=1), sheet._y0 - 1)
        stats, in_zone, pixels = components(sheet, np.flatnonzero(held & (has | has[-1])))
        owner = sheet.row_tile[stats[:, cv2.CC_STAT_TOP]]
        # an object counts for a zone when enough of it stands in the zone: the next shop's goods reaching a few
        # pixels across the edge are the next shop's, and must neither raise this zone nor keep it open
        mostly = in_zone >= sheet.p.min_inside * stats[:, cv2.CC_STAT_AREA]
        keep = np.flatnonzero((in_zone >= sheet.min_blob[owner]) & mostly & has[owner])
        for i in np.unique(owner[keep]):
            mine = keep[owner[keep] == i]
            t = sheet.tiles[i]
            cover[i] = in_zone[mine].sum() / sheet.zone_area[i]
            # when most of the object first appeared (a low percentile ignores stray early pixels)
            onset_age[i] = max(0.0, ts - _percentile(onsets(sheet, pixels, i % n, mine), 0.3))
            st = stats[mine].astype(np.float32)
            xywh = (st[:, :4] - np.array([_X0, t.y0, 0, 0], np.float32)) / t.scale
            b = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:4]], axis=1)
            b += np.array([t.crop[0], t.crop[1], t.crop[0], t.crop[1]], np.float32)
            boxes[i] = b.astype(np.float32)
    g = sheet.gain.tolist()
    return [
        StaticState(c, boxes[i], k, rd, o, (g[i][0], g[i][1], g[i][2]), 1.0 / sheet.tiles[i].scale)
        for i, (c, k, rd, o) in enumerate(zip(cover.tolist(), known.tolist(), ready.tolist(),
                                              onset_age.tolist(), strict=True))
    ]
