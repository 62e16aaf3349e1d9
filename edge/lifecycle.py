"""Violation episodes: one event per (zone, violation) with phases start → update* → end.

`EpisodeTracker.step(condition, ts)` is fed the rule condition of one zone and violation each analysed
frame. The condition must hold (allowing gaps shorter than `dwell_grace_s`) for `min_dwell_s` before a
`start`; while it holds, an `update` goes out every `update_interval_s`; once it has been absent for
`clear_s` the episode `end`s (reason `cleared`), and the zone cannot start again for `cooldown_s`.
`close(ts, reason)` ends an open episode because the edge stops watching it (one of the other reasons).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.events import ZoneEvent
from edge.rules import Condition
from wire.ids import new_id
from wire.schema import END_CLEARED
from zones.rules import RuleConfig

# Why an episode ends other than a clear zone: the edge stopped watching, and says nothing about the goods.
ZONE_REMOVED = "zone_removed"  # a zones reload dropped the zone (or the violation from it)
ZONE_CHANGED = "zone_changed"  # a zones reload redrew the zone or changed its rules
STOPPED = "stopped"  # the worker was stopped (signal, command, time limit)
END_OF_STREAM = "end_of_stream"  # a file source was read to its end
VIEW_MOVED = "view_moved"  # the camera's view moved: its zones no longer fit until they are realigned or redrawn
CAMERA_FAILED = "camera_failed"  # the camera was given up (its zones do not fit its frames, or its source failed)


@dataclass
class _Episode:
    event_id: str
    seq: int
    started: float
    last_present: float
    last_update: float
    score: float
    boxes: np.ndarray


class EpisodeTracker:
    """Timers of one (zone, violation). All times are stream seconds."""

    def __init__(self, zone_id: str, shop_id: str | None, violation: str, rules: RuleConfig) -> None:
        self.zone_id, self.shop_id, self.violation, self.rules = zone_id, shop_id, violation, rules
        self.reset()

    def reset(self) -> None:
        self.pending_since: float | None = None  # dwell timer start
        self.pending_last: float | None = None  # last time the condition held while pending
        self.episode: _Episode | None = None
        self.cooldown_until = -np.inf

    @property
    def active(self) -> bool:
        return self.episode is not None

    @property
    def holding(self) -> bool:
        """An episode runs or a dwell timer is counting."""
        return self.episode is not None or self.pending_since is not None

    def _event(self, phase: str, ts: float, ep: _Episode, reason: str | None = None) -> ZoneEvent:
        ev = ZoneEvent(event_id=ep.event_id, seq=ep.seq, zone_id=self.zone_id, shop_id=self.shop_id,
                       violation=self.violation, phase=phase, ts=float(ts), score=float(ep.score),
                       boxes=np.asarray(ep.boxes, np.float32).reshape(-1, 4), reason=reason)
        ep.seq += 1
        return ev

    def close(self, ts: float, reason: str) -> ZoneEvent | None:
        """End the open episode now, because the edge stops watching it for `reason` (ZONE_REMOVED, STOPPED,
        ...); None when none is open. The last boxes seen stay on the end: the goods were there last."""
        ep = self.episode
        if ep is None:
            self.reset()
            return None
        ev = self._event("end", max(ts, ep.last_present), ep, reason)
        self.reset()
        return ev

    def step(self, cond: Condition, ts: float) -> list[ZoneEvent]:
        r = self.rules
        out: list[ZoneEvent] = []
        ep = self.episode
        if ep is not None:
            if cond.present:
                ep.last_present = ts
                ep.score = max(ep.score, cond.score)
                ep.boxes = cond.boxes
                if ts - ep.last_update >= r.update_interval_s:
                    ep.last_update = ts
                    out.append(self._event("update", ts, ep))
            elif ts - ep.last_present >= r.clear_s:
                ep.boxes = np.zeros((0, 4), np.float32)
                out.append(self._event("end", ts, ep, END_CLEARED))
                self.episode = None
                self.cooldown_until = ts + r.cooldown_s
                self.pending_since = self.pending_last = None
            return out

        if cond.present:
            if self.pending_since is None or (
                self.pending_last is not None and ts - self.pending_last > r.dwell_grace_s
            ):
                self.pending_since = ts - cond.backdate_s
            self.pending_last = ts
            if ts - self.pending_since >= r.min_dwell_s and ts >= self.cooldown_until:
                ep = _Episode(new_id(), 0, ts, ts, ts, cond.score, cond.boxes)
                self.episode = ep
                out.append(self._event("start", ts, ep))
        elif self.pending_last is not None and ts - self.pending_last > r.dwell_grace_s:
            self.pending_since = self.pending_last = None
        return out
