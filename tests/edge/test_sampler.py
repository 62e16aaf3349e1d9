"""The sampler keeps frames by stream time, not by frame count."""

from __future__ import annotations

import numpy as np
import pytest

from edge.sampler import Sampler


def kept(sampler: Sampler, ts: list[float]) -> list[int]:
    return [i for i, t in enumerate(ts) if sampler.want(t)]


def test_10fps_at_2fps_keeps_every_fifth_frame() -> None:
    ts = [i / 10 for i in range(50)]
    assert kept(Sampler(2.0), ts) == list(range(0, 50, 5))


def test_millisecond_rounded_timestamps_stay_on_the_grid() -> None:
    ts = [round(i / 30, 3) for i in range(90)]  # 30 fps, ms precision (CAP_PROP_POS_MSEC)
    idx = kept(Sampler(2.0), ts)
    assert len(idx) == 6
    assert np.allclose(np.diff([ts[i] for i in idx]), 0.5, atol=0.034)


def test_uses_timestamps_not_counts_when_frames_are_missing() -> None:
    # 10 fps with a 2 s gap (frames lost): the next kept frame is the first after the gap, then 0.5 s on.
    ts = [i / 10 for i in range(10)] + [3.0 + i / 10 for i in range(10)]
    idx = kept(Sampler(2.0), ts)
    assert [ts[i] for i in idx] == pytest.approx([0.0, 0.5, 3.0, 3.5])


def test_variable_frame_rate() -> None:
    rng = np.random.default_rng(1)
    ts = np.cumsum(rng.uniform(0.02, 0.08, 400))  # jittery ~20 fps for ~20 s
    sampler = Sampler(1.0)
    picked = ts[kept(sampler, list(ts))]
    assert abs(len(picked) - (ts[-1] - ts[0])) <= 1.5
    # first frame at or after each 1 s grid point: never closer than 1 s minus one frame gap
    assert np.all(np.diff(picked) >= 1.0 - 0.08)
    assert np.mean(np.diff(picked)) == pytest.approx(1.0, abs=0.05)


def test_none_keeps_everything_and_set_fps_changes_rate() -> None:
    s = Sampler(None)
    assert kept(s, [i / 10 for i in range(10)]) == list(range(10))
    s.set_fps(1.0)  # next kept frame: one new period after the last one (0.9 s)
    assert kept(s, [1.0 + i / 10 for i in range(20)]) == [9, 19]


def test_time_going_backwards_restarts_the_grid() -> None:
    s = Sampler(2.0)
    assert kept(s, [0.0, 0.1, 0.5, 0.9]) == [0, 2]
    assert s.want(0.0)  # a looped file / restarted stream


def test_negative_fps_rejected() -> None:
    with pytest.raises(ValueError):
        Sampler(-1)
