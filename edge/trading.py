"""Cross-door trading told apart from piled goods, on tracks that stand still.

The rule (docs/ACCURACY.md, "Trading or piled goods"):
- Only detections on a track that has stood still for `trading_still_s` count (`StillTracks`): passers-by,
  people stopping briefly and anything carried never do. A goods-class box mostly inside a person's box is
  carried (a handbag, a bag at someone's feet) and never counts either.
- In the zone (the street side of the door line), there is **trading** when
  1. a static object (the static-object model's, `edge.background`) has goods-class detections on it, or a
     still person within `tend_reach` of their own height of it, standing in the zone or in its doorway
     (the vendor; not the next shop's),
     or a parked vehicle next to it (a tricycle stall with its goods around it); once claimed, the object
     stays trading for as long as it stands, even while its vendor steps away;
  2. a still, goods-class track scores `goods_min_confidence` on average (a table or rack learned as part
     of the empty street still counts; a scrap of litter scoring 0.3 as "sports ball" does not);
  3. a parked vehicle has such goods or a static object next to it (a parked bicycle alone is not trading).
- A static object that is not claimed is **piled goods** (`unclaimed_share` feeds `edge.rules.piled_goods`),
  so one object raises one violation. A static object mostly under a person's box is that person, not goods.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.rules import Condition
from models.detections import Detections
from zones.rules import RuleConfig

CARRIED_SHARE = 0.5  # a goods box this much inside a person's box is carried by that person
PERSON_SHARE = 0.5  # a static object this much inside a person's box is the person
STALL_PAD = 0.25  # a parked vehicle's box grows by this fraction of its longer side to find goods around it
KEEP_IOU = 0.3  # a claimed object is the same object while a box overlaps it this much


def _inside_share(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m): share of each box of `a` lying inside each box of `b`."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = np.maximum((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), 1e-9)
    return inter / area[:, None]


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    share = _inside_share(a, b)
    if share.size == 0:
        return share
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inter = share * area_a[:, None]
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _grow(boxes: np.ndarray, pad: np.ndarray) -> np.ndarray:
    p = np.asarray(pad, np.float64).reshape(-1, 1)
    return boxes + np.hstack([-p, -p, p, p])


def _touches(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m): boxes of `a` and `b` overlap at all."""
    return _inside_share(a, b) > 0


@dataclass
class _Spell:
    anchor: np.ndarray  # bottom-centre where the track came to rest
    since: float
    last: float
    conf_sum: float = 0.0
    n: int = 0
    moved: bool = False  # the track had moved away from where it was first seen before this spell


class StillTracks:
    """For every confirmed track of one camera: how long it has stood still, and its mean score meanwhile.

    A track stands still while its bottom-centre stays within `0.3 × its box's longer side + 3 px` of where
    it came to rest; moving further starts a new spell. Tracks unseen for `forget_s` are forgotten."""

    def __init__(self, forget_s: float = 10.0) -> None:
        self.forget_s = forget_s
        self._spells: dict[int, _Spell] = {}

    def update(self, detections: Detections, ts: float) -> tuple[np.ndarray, np.ndarray]:
        """(still_s, mean_confidence) per detection; 0 for detections on no confirmed track."""
        n = len(detections)
        still, mean = np.zeros(n), np.zeros(n)
        ids = detections.tracker_id if detections.tracker_id is not None else np.full(n, -1)
        xyxy = detections.xyxy.astype(np.float64)
        for i in np.flatnonzero(ids >= 0):
            tid = int(ids[i])
            x1, y1, x2, y2 = xyxy[i]
            foot = np.array([(x1 + x2) / 2, y2])
            reach = 0.3 * max(x2 - x1, y2 - y1) + 3.0
            s = self._spells.get(tid)
            if s is None or float(np.hypot(*(foot - s.anchor))) > reach or ts < s.last:
                moved = s is not None and (s.moved or ts >= s.last)
                s = self._spells[tid] = _Spell(foot, ts, ts, moved=moved)
            s.last = ts
            s.conf_sum += float(detections.confidence[i])
            s.n += 1
            still[i], mean[i] = ts - s.since, s.conf_sum / s.n
        self._spells = {k: v for k, v in self._spells.items() if ts - v.last <= self.forget_s}
        return still, mean

    def moved(self, track_ids: np.ndarray) -> np.ndarray:
        """Per track id (after `update`): the track has moved away from where it was first seen (a vehicle that
        drove in, not one that only ever stood there); False for -1 (no confirmed track)."""
        return np.array([(s := self._spells.get(int(t))) is not None and s.moved for t in track_ids], bool)


@dataclass(frozen=True)
class TradingFrame:
    """One analysed frame, camera-wide, as the trading rule sees it (masks already apply the score floor)."""

    xyxy: np.ndarray  # (n, 4)
    person: np.ndarray  # bool (n,): upright person boxes
    goods: np.ndarray  # bool (n,): goods classes that are not vehicles
    vehicle: np.ndarray  # bool (n,)
    still_s: np.ndarray  # (n,)
    mean_conf: np.ndarray  # (n,)


@dataclass
class TradingJudge:
    """The trading condition of one zone, with the objects it has claimed as goods on display."""

    claimed: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    claimed_seen: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def step(self, f: TradingFrame, in_zone: np.ndarray, static_boxes: np.ndarray, static_in_zone: np.ndarray,
             onset_age_s: float, ts: float, r: RuleConfig, at_door: np.ndarray | None = None
             ) -> tuple[Condition, np.ndarray]:
        """(condition, bool per static box: claimed as trading). `in_zone`: per detection, its anchor lies in
        the zone; `static_in_zone`: per static box, its bottom-centre does (the model also reports objects
        in a margin around the zone, which stand in front of another shop or behind the door); `at_door`:
        per detection, its feet are in the shop's doorway. Only people in the zone or its doorway tend its
        goods (not the next shop's vendor)."""
        still = f.still_s >= r.trading_still_s
        people = f.xyxy[f.person]
        here = in_zone if at_door is None else in_zone | at_door
        tenders = f.xyxy[f.person & still & here]
        carried = (_inside_share(f.xyxy, people).max(axis=1) >= CARRIED_SHARE) if len(people) else np.zeros(
            len(f.xyxy), bool)
        goods_now = f.goods & in_zone & ~carried
        goods = goods_now & still & (f.mean_conf >= r.goods_min_confidence)
        parked = f.vehicle & in_zone & still
        goods_boxes, parked_boxes = f.xyxy[goods], f.xyxy[parked]
        stat = np.asarray(static_boxes, np.float64).reshape(-1, 4)
        fresh = np.asarray(static_in_zone, bool).copy()
        if len(stat) and len(people):  # a standing person the model took for an object
            fresh &= _inside_share(stat, people).max(axis=1) < PERSON_SHARE
        claim = np.zeros(len(stat), bool)
        if len(stat):
            if len(goods_boxes):
                claim |= _touches(stat, goods_boxes).any(axis=1)
            if len(tenders):
                h = tenders[:, 3] - tenders[:, 1]
                near = _touches(stat, _grow(tenders, r.tend_reach * h))
                # a "person" lying within the object is part of it (a printed figure, a sack named a person)
                near &= (_inside_share(tenders, stat) < PERSON_SHARE).T
                claim |= near.any(axis=1)
            if len(parked_boxes):
                side = np.maximum(parked_boxes[:, 2] - parked_boxes[:, 0], parked_boxes[:, 3] - parked_boxes[:, 1])
                around = _touches(stat, _grow(parked_boxes, STALL_PAD * side))
                # the vehicle's own edges, just outside its box, are not goods around it
                own = _inside_share(stat, _grow(parked_boxes, 0.12 * side)) >= PERSON_SHARE
                claim |= (around & ~own).any(axis=1)
            claim &= fresh
            if len(self.claimed):  # once claimed, an object stays claimed, also while someone stands before it
                claim |= static_in_zone & ((_iou(stat, self.claimed) >= KEEP_IOU).any(axis=1)
                                           | (_inside_share(stat, self.claimed) >= 0.5).any(axis=1)
                                           | (_inside_share(self.claimed, stat) >= 0.5).any(axis=0))
        stalls = np.zeros(len(parked_boxes), bool)
        if len(parked_boxes):
            side = np.maximum(parked_boxes[:, 2] - parked_boxes[:, 0], parked_boxes[:, 3] - parked_boxes[:, 1])
            around = _grow(parked_boxes, STALL_PAD * side)
            if len(goods_boxes):
                stalls |= _touches(around, goods_boxes).any(axis=1)
            if claim.any():
                stalls |= _touches(around, stat[claim]).any(axis=1)
        if r.require_person and not len(tenders):
            goods_boxes = goods_boxes[:0]
        held = np.zeros((0, 4))
        if len(self.claimed) and goods_now.any():  # a claimed object the detector still sees, moved a little
            seen = f.xyxy[goods_now]
            held = seen[(_iou(seen, self.claimed) >= KEEP_IOU).any(axis=1)]
        self._remember(np.vstack([stat[claim], goods_boxes]), f.xyxy[goods_now], ts, r)
        boxes = np.vstack([stat[claim], goods_boxes, held, parked_boxes[stalls]]).astype(np.float32)
        if not len(boxes):
            return Condition(False, 0.0), claim
        ages = ([onset_age_s] if claim.any() else []) + list(f.still_s[goods][: len(goods_boxes)]) + list(
            f.still_s[parked][stalls])
        score = max([0.5] + list(f.mean_conf[goods][: len(goods_boxes)]))
        return Condition(True, float(min(1.0, score)), boxes, float(max(ages, default=0.0))), claim

    def _remember(self, claimed_now: np.ndarray, goods_now: np.ndarray, ts: float, r: RuleConfig) -> None:
        """Claimed objects stay claimed while the model or the detector still sees them; forgotten after
        `clear_s` unseen."""
        keep = ts - self.claimed_seen <= r.clear_s
        if len(self.claimed) and len(goods_now):
            seen = (_iou(self.claimed, goods_now) >= KEEP_IOU).any(axis=1)
            self.claimed_seen = np.where(seen, ts, self.claimed_seen)
        old, seen_at = self.claimed[keep], self.claimed_seen[keep]
        if len(claimed_now):
            same = (_iou(old, claimed_now) >= KEEP_IOU).any(axis=1) if len(old) else np.zeros(0, bool)
            old, seen_at = old[~same], seen_at[~same]
        self.claimed = np.vstack([old, claimed_now]) if len(claimed_now) else old
        self.claimed_seen = np.concatenate([seen_at, np.full(len(claimed_now), ts)])


def unclaimed_share(boxes: np.ndarray, claimed: np.ndarray) -> float:
    """Share of the static objects' area (by box) not claimed as trading: what is left for piled goods."""
    if not len(boxes) or not claimed.any():
        return 1.0
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return float(area[~claimed].sum() / max(area.sum(), 1e-9))
