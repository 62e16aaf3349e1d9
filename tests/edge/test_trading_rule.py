"""The trading rule on given tracks and static objects (the real-footage scenes are in test_trading.py):
litter, a parked bicycle, a stall around a parked vehicle, goods on a static object, memory of a claim."""

from __future__ import annotations

import numpy as np
import pytest

from edge.trading import StillTracks, TradingFrame, TradingJudge, unclaimed_share
from models.detections import Detections
from zones.rules import RuleConfig

R = RuleConfig(trading_still_s=10)
NONE = np.zeros((0, 4))


def frame(boxes: list[list[float]], kinds: list[str], still_s: float, conf: float) -> TradingFrame:
    n = len(boxes)
    k = np.array(kinds)
    return TradingFrame(np.array(boxes, float).reshape(-1, 4), k == "person", k == "goods", k == "vehicle",
                        np.full(n, still_s), np.full(n, conf))


@pytest.mark.parametrize(("boxes", "kinds", "conf", "static", "present"), [
    ([[100, 100, 110, 110]], ["goods"], 0.3, [], False),  # litter named "sports ball" at 0.3, alone
    ([[100, 100, 110, 110]], ["goods"], 0.6, [], True),  # a confidently named goods track, still
    ([[100, 60, 160, 120]], ["vehicle"], 0.8, [], False),  # a parked bicycle alone
    ([[100, 60, 160, 120]], ["vehicle"], 0.8, [[105, 70, 158, 121]], False),  # ... and its own outline
    ([[100, 60, 160, 120]], ["vehicle"], 0.8, [[165, 95, 190, 120]], True),  # a stall: goods beside it
    ([[100, 40, 130, 120]], ["person"], 0.8, [[135, 100, 170, 120]], True),  # goods with their vendor
    ([[100, 40, 130, 120]], ["person"], 0.8, [[102, 50, 128, 118]], False),  # the person seen as static
    ([[100, 100, 130, 120]], ["goods"], 0.6, [[98, 98, 133, 121]], True),  # goods named on a static object
    ([[100, 80, 118, 120], [100, 95, 112, 110]], ["person", "goods"], 0.9, [], False),  # a handbag, held
])
def test_what_counts_as_trading(boxes: list, kinds: list, conf: float, static: list, present: bool) -> None:
    stat = np.array(static, float).reshape(-1, 4)
    cond, claim = TradingJudge().step(frame(boxes, kinds, 30.0, conf), np.ones(len(boxes), bool), stat,
                                      np.ones(len(stat), bool), 25.0, 100.0, R)
    assert cond.present is present


def test_nothing_counts_before_it_stood_still_and_a_claim_is_kept_while_the_object_stands() -> None:
    judge, stat = TradingJudge(), np.array([[135.0, 100, 170, 120]])
    vendor = [[100, 40, 130, 120]]
    assert not judge.step(frame(vendor, ["person"], 5.0, 0.8), np.ones(1, bool), stat, np.ones(1, bool), 5, 5,
                          R)[0].present
    cond, claim = judge.step(frame(vendor, ["person"], 12.0, 0.8), np.ones(1, bool), stat, np.ones(1, bool), 12,
                             12, R)
    assert cond.present and claim.tolist() == [True] and cond.backdate_s == 12
    assert unclaimed_share(stat, claim) == 0.0  # nothing left for piled goods
    # the vendor steps inside: the goods stay trading; a passer-by standing in front changes nothing
    assert judge.step(frame([], [], 0.0, 0.0), np.zeros(0, bool), stat, np.ones(1, bool), 20, 20, R)[0].present
    cond, _ = judge.step(frame([[133, 60, 172, 122]], ["person"], 1.0, 0.8), np.ones(1, bool), stat,
                         np.ones(1, bool), 21, 21, R)
    assert cond.present
    # the object behind the door line (its bottom-centre out of the zone) is never claimed afresh
    cond, _ = TradingJudge().step(frame(vendor, ["person"], 12.0, 0.8), np.ones(1, bool), stat,
                                  np.zeros(1, bool), 12, 12, R)
    assert not cond.present


def test_still_tracks_time_stillness_per_track() -> None:
    tracks = StillTracks()
    box = np.array([[100, 40, 130, 120]], np.float32)

    def det(dx: float, tid: int = 7) -> Detections:
        return Detections(box + [dx, 0, dx, 0], np.array([0.8], np.float32), np.zeros(1, np.int32),
                          np.array([tid]))

    for t in range(0, 11):
        still, mean = tracks.update(det(t * 1.0), float(t))  # sways 1 px a second: still
    assert still[0] == 10.0 and mean[0] == pytest.approx(0.8)
    assert tracks.update(det(60.0), 11.0)[0][0] == 0.0  # walked off: a new spell
    assert tracks.update(Detections(box, np.array([0.8], np.float32), np.zeros(1, np.int32), np.array([-1])),
                         12.0)[0][0] == 0.0  # no confirmed track: never still


def test_still_tracks_tell_a_track_that_moved_from_one_that_only_stood() -> None:
    tracks = StillTracks()
    box = np.array([[100, 40, 130, 120]], np.float32)

    def det(dx: float, tid: int) -> Detections:
        return Detections(box + [dx, 0, dx, 0], np.array([0.8], np.float32), np.zeros(1, np.int32),
                          np.array([tid]))

    for t in range(5):
        tracks.update(det(t * 1.0, 4), float(t))  # sways: has not moved
    assert not tracks.moved(np.array([4]))[0]
    tracks.update(det(80.0, 4), 5.0)  # drove off and stands again
    tracks.update(det(81.0, 4), 6.0)
    assert tracks.moved(np.array([4]))[0]
    tracks.update(det(0.0, -1), 7.0)
    assert not tracks.moved(np.array([-1]))[0]  # no confirmed track
