"""Recheck voting over the next sampled frames."""

from __future__ import annotations

import numpy as np
import pytest

from edge.recheck import Rechecks
from wire.schema import CommandMessage

FRAME = np.zeros((4, 4, 3), np.uint8)
BOX = np.array([[1, 1, 3, 3]], np.float32)


def command(zone: str = "z-1") -> CommandMessage:
    return CommandMessage(site_id="s", camera_id="cam", cmd="recheck", zone_id=zone, case_id="case-9")


def feed(rechecks: Rechecks, answers: list[str]) -> list:
    done = []
    for i, answer in enumerate(answers):

        def assess(zone_id: str, answer=answer):
            return answer, (0.8 if answer == "present" else 0.0), (BOX if answer == "present" else BOX[:0])

        done += rechecks.observe("cam", assess, FRAME, float(i))
    return done


@pytest.mark.parametrize(
    ("answers", "result"),
    [
        (["present"] * 4, "present"),
        (["present", "present", "clear", "clear"], "present"),
        (["clear"] * 4, "clear"),
        (["clear", "clear", "clear", "unknown"], "clear"),
        (["clear", "present", "clear", "clear"], "clear"),
        (["unknown", "unknown", "clear", "clear"], "unknown"),
        (["unknown"] * 4, "unknown"),
    ],
)
def test_votes(answers: list[str], result: str) -> None:
    rechecks = Rechecks(frames=4)
    rechecks.add(command())
    verdicts = feed(rechecks, answers)
    assert len(verdicts) == 1 and verdicts[0].result == result
    assert rechecks.pending("cam") == 0
    if result == "present":
        assert verdicts[0].score == pytest.approx(0.8) and verdicts[0].boxes.shape == (1, 4)


def test_waits_for_enough_frames_and_other_cameras_are_untouched() -> None:
    rechecks = Rechecks(frames=3)
    rechecks.add(command())
    assert feed(rechecks, ["clear", "clear"]) == []
    assert rechecks.observe("other-cam", lambda z: ("present", 1.0, BOX), FRAME, 0.0) == []
    assert [v.result for v in feed(rechecks, ["clear"])] == ["clear"]


def test_unknown_zone_answers_unknown_at_once() -> None:
    rechecks = Rechecks(frames=3)
    rechecks.add(command("z-404"))

    def assess(zone_id: str):
        raise KeyError(zone_id)

    (verdict,) = rechecks.observe("cam", assess, FRAME, 1.0)
    assert verdict.result == "unknown" and "z-404" in verdict.detail
