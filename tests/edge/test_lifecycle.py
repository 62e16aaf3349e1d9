"""Episode timers: dwell, grace, clear, updates and cool-down, all in stream seconds."""

from __future__ import annotations

import numpy as np
import pytest

from edge.lifecycle import EpisodeTracker
from edge.rules import Condition
from zones.rules import RuleConfig

BOX = np.array([[1, 2, 3, 4]], np.float32)
ON = Condition(True, 0.8, BOX)
OFF = Condition(False, 0.0)


def run(tracker: EpisodeTracker, timeline: list[tuple[float, float, bool]], fps: float) -> list:
    """timeline: (t_from, t_to, present) spans, sampled at `fps`."""
    events = []
    for t0, t1, present in timeline:
        for ts in np.arange(t0, t1, 1.0 / fps):
            events += tracker.step(ON if present else OFF, float(ts))
    return events


def tracker(**rules: float) -> EpisodeTracker:
    base = {"min_dwell_s": 30.0, "clear_s": 10.0, "cooldown_s": 15.0, "update_interval_s": 20.0,
            "dwell_grace_s": 3.0}
    return EpisodeTracker("z-1", "s-1", "piled_goods", RuleConfig(**{**base, **rules}))


@pytest.mark.parametrize("fps", [1.0, 2.0, 5.0])
def test_start_update_end_at_any_rate(fps: float) -> None:
    ev = run(tracker(), [(0, 10, False), (10, 100, True), (100, 140, False)], fps)
    phases = [e.phase for e in ev]
    assert phases == ["start", "update", "update", "end"]  # updates at 60 s and 80 s
    start, *_, end = ev
    assert start.ts == pytest.approx(40, abs=1.0 / fps + 1e-6)
    assert end.ts == pytest.approx(100 - 1.0 / fps + 10, abs=1.0 / fps + 1e-6)
    assert len({e.event_id for e in ev}) == 1
    assert [e.seq for e in ev] == list(range(len(ev)))
    assert (start.zone_id, start.shop_id, start.violation) == ("z-1", "s-1", "piled_goods")
    assert start.boxes.shape == (1, 4) and end.boxes.shape == (0, 4)


def test_short_presence_never_starts() -> None:
    assert run(tracker(), [(0, 25, True), (25, 60, False), (60, 85, True), (85, 120, False)], 2.0) == []


def test_brief_gaps_keep_the_dwell_timer_long_gaps_reset_it() -> None:
    ev = run(tracker(), [(0, 15, True), (15, 17, False), (17, 35, True)], 2.0)
    assert [e.phase for e in ev] == ["start"] and ev[0].ts == pytest.approx(30)
    assert run(tracker(), [(0, 15, True), (15, 20, False), (20, 45, True)], 2.0) == []


def test_backdate_counts_dwell_from_first_appearance() -> None:
    t = tracker()
    events = []
    for ts in np.arange(0, 40, 0.5):
        events += t.step(Condition(True, 1.0, BOX, backdate_s=5.0), float(ts))
    assert events[0].ts == pytest.approx(25.0)


def test_gap_shorter_than_clear_does_not_end() -> None:
    ev = run(tracker(update_interval_s=1000), [(0, 40, True), (40, 48, False), (48, 60, True),
                                               (60, 80, False)], 2.0)
    assert [e.phase for e in ev] == ["start", "end"]
    assert ev[1].ts == pytest.approx(69.5)


def test_cooldown_delays_a_new_start_in_the_same_zone() -> None:
    t = tracker(min_dwell_s=5.0, clear_s=2.0, cooldown_s=20.0, update_interval_s=1000)
    ev = run(t, [(0, 10, True), (10, 13, False), (13, 40, True)], 2.0)
    assert [e.phase for e in ev] == ["start", "end", "start"]
    end, restart = ev[1], ev[2]
    assert restart.ts == pytest.approx(end.ts + 20.0, abs=0.5)
    assert restart.event_id != end.event_id and restart.seq == 0


def test_reset_forgets_episode() -> None:
    t = tracker(min_dwell_s=1.0)
    run(t, [(0, 5, True)], 2.0)
    assert t.active
    t.reset()
    assert not t.active and not t.holding
