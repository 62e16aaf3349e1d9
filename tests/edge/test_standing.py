"""StandingPeople: people standing are told from people walking past by their boxes, whatever their tracks."""

from __future__ import annotations

import numpy as np

from edge.standing import StandingPeople

PERSON = np.array([100.0, 50.0, 130.0, 130.0])  # 30 x 80 px


def at(x: float) -> np.ndarray:
    return (PERSON + [x, 0, x, 0]).reshape(1, 4)


def test_a_person_standing_stands_once_seen_in_place_on_earlier_frames_a_second_apart() -> None:
    s = StandingPeople()
    got = [bool(s.update(at(np.sin(k)), k / 2)[0]) for k in range(8)]  # 2 fps, swaying a pixel
    assert got == [False, False, False, False, True, True, True, True]


def test_a_walker_never_stands_nor_does_a_stream_of_walkers_along_one_line() -> None:
    s = StandingPeople()
    for k in range(40):  # 2 fps, 60 px a second: 1.4 m/s for a 1.7 m person 80 px tall
        assert not s.update(at(30 * k), k / 2).any()
    s = StandingPeople()
    # a walker every 2.5 s along the same line, box for box where the one before was: each spot is matched by
    # one earlier frame in the window (a denser stream, box for box, would look like someone standing: then the
    # texture cue waits there, which costs no false pile)
    for k in range(40):
        xs = [30 * (k - j) for j in range(0, k + 1, 5)]
        assert not s.update(np.concatenate([at(x) for x in xs]), k / 2).any()


def test_a_standing_person_the_detector_missed_for_two_and_a_half_seconds_still_stands() -> None:
    s = StandingPeople()
    s.update(at(0), 0.0)
    s.update(at(1), 0.5)
    s.update(at(0), 1.0)
    assert not s.update(np.zeros((0, 4)), 1.5).any()
    assert s.update(at(-1), 3.5)[0]  # back, under whatever track id: earlier frames 2.5-3.5 s back
    assert not StandingPeople().update(at(0), 0.0).any()


def test_a_slow_walker_far_away_does_not_stand() -> None:
    """Far from the camera a walker crosses a few pixels a second (here 6 px/s, a 30 px wide box): boxes 1-1.5 s
    back still overlap by half, those 2 s back no longer."""
    s = StandingPeople()
    assert not any(s.update(at(3 * k), k / 2).any() for k in range(20))
    two = StandingPeople(span_s=0.5)  # two frames half a second apart (the rule it replaced) stood them
    assert any(two.update(at(3 * k), k / 2).any() for k in range(20))


def test_boxes_older_than_the_window_and_a_clip_played_again_are_forgotten() -> None:
    s = StandingPeople(window_s=4.0)
    s.update(at(0), 0.0)
    s.update(at(0), 0.5)
    s.update(at(0), 1.0)
    assert s.update(at(0), 2.0)[0]
    assert not s.update(at(0), 10.0)[0]
    s.update(at(0), 10.5)
    s.update(at(0), 11.0)
    assert not s.update(at(0), 1.0)[0]  # time went back (a file played again): nothing from the future counts
