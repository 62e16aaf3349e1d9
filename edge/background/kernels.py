"""The static-object model's per-pixel building blocks: constants, medians, and the neighbourhood min/max
filters as flat shifted slices (bit-identical to OpenCV's ellipse erode/dilate, several times cheaper)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

_CLIP_LEVEL = 235.0  # grey level above which a frame channel may be clipped by the sensor
_SATURATED = 250.0  # a (blurred) frame channel this bright is clipped
_BIG = np.float32(1e30)  # fills the gaps between zones so that min/max filters ignore them
_X0 = 2  # column where every zone starts (room for the blur's rim, and even)
_BINOMIAL = np.float32([0.25, 0.5, 0.25])  # the 3x3 Gaussian blur's kernel, separated


def _texture(lum: np.ndarray) -> np.ndarray:
    """(h, w) float32 texture: the 5x5 mean of |dx| + |dy| (the first row and column get no dx / dy)."""
    g = np.zeros_like(lum)
    np.abs(lum[:, 1:] - lum[:, :-1], out=g[:, 1:])
    g[1:] += np.abs(lum[1:] - lum[:-1])
    return cv2.boxFilter(g, -1, (5, 5), normalize=True, borderType=cv2.BORDER_REPLICATE)


def _medians(samples: Sequence[np.ndarray], counts: np.ndarray) -> np.ndarray:
    """(k, 3): the median of the `count` smallest values of each row of each (3, n) `x` of `samples` (the others
    are +inf), as `np.median` gives it bit for bit: the mean of the two middle values, the lower one the
    largest value left of the upper one after a partition (for an odd count, (x + x) / 2 is x)."""
    out = np.empty((len(samples), 3), np.float32)
    for j, (x, count) in enumerate(zip(samples, counts.tolist(), strict=True)):
        h = count // 2
        part = np.partition(x, h, axis=1)
        upper = part[:, h]
        lower = part[:, :h].max(axis=1) if count % 2 == 0 else upper
        out[j] = (lower + upper) / 2
    return out


def _percentile(a: np.ndarray, q: float) -> float:
    """`np.percentile(a, 100 q)` (linear interpolation) of a 1-D float64 array, bit for bit: the same
    interpolation steps as numpy's `_lerp`, without its overhead."""
    n = len(a)
    if n == 0:
        raise IndexError("percentile of no values")
    v = (n - 1) * q
    lo = min(int(math.floor(v)), n - 1)
    hi = min(lo + 1, n - 1)
    part = np.partition(a, (lo, hi))
    below, above = float(part[lo]), float(part[hi])
    gamma = v - lo if v < n - 1 else 0.0
    diff = above - below
    return above - diff * (1 - gamma) if gamma >= 0.5 else below + diff * gamma


class _EllipseFilter:
    """`cv2.erode` / `cv2.dilate` with a `MORPH_ELLIPSE` kernel of `radius`, as shifted slices of flat rows.

    Min, max and or are exact whatever the order, so the result is bit-identical to OpenCV's, which visits
    every kernel point per pixel (37 at radius 3) and is several times slower on float images. Each kernel
    row is a centred run of half-width `half[dy]`: the running reductions along image rows over the
    half-widths needed are built from those over powers of two, then the kernel's rows are combined.

    The image rows are concatenated (flat slices are much faster than strided ones), so a shift past a row's
    end reads the neighbouring row: a pixel's result is exact when what it reaches there is neutral, e.g. for
    every pixel when each row ends with 2 `radius` neutral columns."""

    def __init__(self, radius: int, width: int, max_rows: int, planes: int, dtype: type) -> None:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        self.half: list[int] = []
        for row in kernel:
            on = np.flatnonzero(row)
            if len(on) != on[-1] - on[0] + 1 or on[0] + on[-1] != 2 * radius:
                raise ValueError("kernel rows must be centred runs")
            self.half.append(radius - int(on[0]))
        self.radius, self.width = radius, width
        # (k, j): the run of half-width k from the one of half-width j, j > k / 2, shifted by -(k - j) and k - j
        self.plan: list[tuple[int, int]] = []
        built = [1]
        while 2 * built[-1] <= max(self.half):
            self.plan.append((2 * built[-1], built[-1]))
            built.append(2 * built[-1])
        for k in sorted(set(self.half) - set(built) - {0}):
            self.plan.append((k, max(b for b in built if b <= k)))
            built.append(k)
        self._runs = {k: np.empty((planes, (max_rows + 2 * radius + 2) * width), dtype) for k in built}

    def rows_in(self, lo: int, hi: int) -> tuple[int, int]:
        """The input rows `apply` needs for output rows [lo, hi): `radius` + 1 more on each side (one spare
        row: the flat runs are wrong in the first and last entries of the array)."""
        return lo - self.radius - 1, hi + self.radius + 1

    def apply(self, x: np.ndarray, reduce: np.ufunc, out: np.ndarray) -> None:
        """`out` (planes, n * width) = `reduce` over each pixel's neighbourhood, for the n image rows that
        `x` (planes, (n + 2 radius + 2) * width) holds with `rows_in` around them."""
        w, size = self.width, x.shape[1]
        n = size // w - 2 * self.radius - 2
        # along rows: runs[k][i] = reduce(x[i - k .. i + k]) over the concatenated rows
        runs = {0: x, 1: self._runs[1][:len(x), :size]}
        reduce(x[:, :-2], x[:, 2:], out=runs[1][:, 1:-1])
        reduce(runs[1][:, 1:-1], x[:, 1:-1], out=runs[1][:, 1:-1])
        for k, j in self.plan:
            s, src = k - j, runs[j]
            runs[k] = self._runs[k][:len(x), :size]
            reduce(src[:, :size - 2 * s], src[:, 2 * s:], out=runs[k][:, s:size - s])
        # across rows: kernel row dy takes the run of its half-width from dy - radius rows away
        terms = [runs[k][:, (1 + dy) * w:(1 + dy + n) * w] for dy, k in enumerate(self.half)]
        reduce(terms[0], terms[1], out=out)
        for t in terms[2:]:
            reduce(out, t, out=out)


def _cross(x: np.ndarray, reduce: np.ufunc, out: np.ndarray) -> np.ndarray:
    """`out` = `reduce` (and / or) of each pixel of the bool image `x` (h, w) with its 4 neighbours: OpenCV's
    erode / dilate with the 3x3 `MORPH_ELLIPSE` (a cross), bit for bit, where the pixels in the first and last
    column are neutral (true for and, false for or) as OpenCV's border is: the flat shifts past a row's end
    then read those."""
    w, f, o = x.shape[1], x.reshape(-1), out.reshape(-1)
    reduce(f[:-1], f[1:], out=o[:-1])
    o[-1] = f[-1]
    reduce(o[1:], f[:-1], out=o[1:])
    reduce(o[:-w], f[w:], out=o[:-w])
    reduce(o[w:], f[:-w], out=o[w:])
    return out
