"""Scenes made on real footage for trading tests and clips: people cut out of the footage itself (a detected
person's box, its pixels where the frame differs from the footage's median background) and objects, pasted
back at the size the scene's perspective gives them, under the footage's real pedestrians.

`scripts/synth_trading_clips.py` makes labelled clips with them; `tests/edge/test_trading.py` plays short
scenes through the real detector, tracker and analyser.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Sprite:
    rgb: np.ndarray
    alpha: np.ndarray  # float32 [0, 1]


@dataclass
class Actor:
    """A sprite whose bottom-centre follows `keys` [(t, x, y)] (linear between them), hidden during `gaps`."""

    sprite: Sprite
    keys: list[tuple[float, float, float]]
    gaps: tuple[tuple[float, float], ...] = ()
    front: bool = False  # drawn after the goods (people)

    def at(self, t: float) -> tuple[int, int] | None:
        if not self.keys[0][0] <= t < self.keys[-1][0] or any(a <= t < b for a, b in self.gaps):
            return None
        ts = [k[0] for k in self.keys]
        x = float(np.interp(t, ts, [k[1] for k in self.keys]))
        y = float(np.interp(t, ts, [k[2] for k in self.keys]))
        h, w = self.sprite.alpha.shape
        return int(round(x - w / 2)), int(round(y - h))

    def box_at(self, t: float) -> list[int]:
        pos = self.at(t)
        h, w = self.sprite.alpha.shape
        return [] if pos is None else [pos[0], pos[1], pos[0] + w, pos[1] + h]


def detect(detector: object, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from edge.analyzer import class_names

    d = detector.detect([frame])[0]  # type: ignore[attr-defined]
    return d.xyxy, d.confidence, list(class_names(d))


def cut_library(detector: object, frames: list[np.ndarray], background: np.ndarray | None, classes: set[str],
                min_h: int, min_conf: float = 0.6) -> list[tuple[Sprite, float]]:
    """(sprite, bottom row) of every well-separated detection of `classes`; pixels: where the frame differs
    from `background` (people), or the whole box with soft edges (vehicles, when `background` is None)."""
    out = []
    for frame in frames:
        xyxy, conf, names = detect(detector, frame)
        for i, (box, c, name) in enumerate(zip(xyxy, conf, names, strict=True)):
            x1, y1, x2, y2 = box.round().astype(int)
            if name not in classes or c < min_conf or y2 - y1 < min_h or x1 < 2 or y1 < 2:
                continue
            others = np.delete(xyxy, i, axis=0)
            if len(others) and ((others[:, 0] < x2 + 4) & (others[:, 2] > x1 - 4) & (others[:, 1] < y2 + 4)
                                & (others[:, 3] > y1 - 4)).any():
                continue
            crop = frame[y1:y2, x1:x2].copy()
            if background is None:
                fg = np.ones(crop.shape[:2], np.float32)
                fg[:2], fg[-2:], fg[:, :2], fg[:, -2:] = 0.5, 0.5, 0.5, 0.5
            else:
                diff = cv2.absdiff(crop, background[y1:y2, x1:x2]).max(2) > 28
                diff = cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
                n, lab, stats, _ = cv2.connectedComponentsWithStats(diff)
                if n < 2:
                    continue
                fg = (lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.float32)
                if not 0.3 <= fg.mean() <= 0.85:
                    continue
            out.append((Sprite(crop, cv2.GaussianBlur(fg, (3, 3), 0)), float(y2)))
    return out


def height_at(people: list[tuple[Sprite, float]]) -> np.poly1d:
    """A person's height in px as a function of their feet's row (perspective), fitted on the cut-outs."""
    ys = np.array([y for _, y in people])
    hs = np.array([s.alpha.shape[0] for s, _ in people])
    return np.poly1d(np.polyfit(ys, hs, 1))


def scaled(s: Sprite, h: float) -> Sprite:
    h = max(int(round(h)), 8)
    w = max(int(round(s.alpha.shape[1] * h / s.alpha.shape[0])), 4)
    return Sprite(cv2.resize(s.rgb, (w, h), interpolation=cv2.INTER_AREA),
                  cv2.resize(s.alpha, (w, h), interpolation=cv2.INTER_LINEAR))


def with_bag(person: Sprite, bag: Sprite, share: float) -> Sprite:
    """`person` carrying `bag` (about `share` of their height) at hand height, on their right side."""
    ph, pw = person.alpha.shape
    b = scaled(bag, ph * share)
    bh, bw = b.alpha.shape
    w = pw + bw // 2
    rgb = np.zeros((ph, w, 3), np.uint8)
    alpha = np.zeros((ph, w), np.float32)
    rgb[:, :pw], alpha[:, :pw] = person.rgb, person.alpha
    y0 = int(ph * 0.45)
    y1 = min(ph, y0 + bh)
    region = (slice(y0, y1), slice(w - bw, w))
    a = b.alpha[: y1 - y0, :, None]
    rgb[region] = (rgb[region] * (1 - a) + b.rgb[: y1 - y0] * a).astype(np.uint8)
    alpha[region] = np.maximum(alpha[region], b.alpha[: y1 - y0])
    return Sprite(rgb, alpha)


def composite(frame: np.ndarray, actor: Actor, t: float, background: np.ndarray) -> None:
    """Paste `actor` under the footage's real pedestrians (pixels that differ from its background)."""
    pos = actor.at(t)
    if pos is None:
        return
    x, y = pos
    h, w = actor.sprite.alpha.shape
    fx1, fy1, fx2, fy2 = max(x, 0), max(y, 0), min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if fx2 <= fx1 or fy2 <= fy1:
        return
    sx, sy = fx1 - x, fy1 - y
    region = frame[fy1:fy2, fx1:fx2]
    people = cv2.absdiff(region, background[fy1:fy2, fx1:fx2]).max(2) > 35
    people = cv2.dilate(people.astype(np.uint8), np.ones((3, 3), np.uint8))
    a = (actor.sprite.alpha[sy:sy + fy2 - fy1, sx:sx + fx2 - fx1] * (1 - people))[..., None]
    region[:] = (region * (1 - a) + actor.sprite.rgb[sy:sy + fy2 - fy1, sx:sx + fx2 - fx1] * a).astype(np.uint8)
