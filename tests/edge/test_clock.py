"""Clocks: message stamps follow steps of the system clock (NTP after boot), timers never see them."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.clock import WallClock
from edge.sampler import Sampler
from edge.sources import Source, SourceOptions, open_source


class SteppingTime:
    """A wall clock that is the real one plus `jump` seconds (set by the test to step it)."""

    def __init__(self) -> None:
        self.jump = 0.0

    def __call__(self) -> float:
        return time.time() + self.jump


def test_wall_clock_follows_a_step_and_logs_it(caplog) -> None:
    wall, mono = [1_000_000.0], [50.0]
    clock = WallClock(lambda: wall[0], lambda: mono[0])
    assert clock.to_unix(50.0) == 1_000_000.0
    wall[0], mono[0] = 1_000_000.5, 50.4  # 0.1 s of slew: followed, not a step
    caplog.set_level(logging.WARNING, logger="doorline.edge.clock")
    clock.sync()
    assert clock.to_unix(50.4) == pytest.approx(1_000_000.5) and clock.steps == 0 and not caplog.records
    wall[0], mono[0] = 1_000_600.5 + 1.0, 51.4  # NTP steps the clock 10 minutes forward
    assert clock.to_unix(51.4) == pytest.approx(1_000_001.5)  # until the next sync, the old offset
    clock.sync()
    assert clock.to_unix(51.4) == pytest.approx(1_000_601.5) and clock.steps == 1
    assert clock.last_step_s == pytest.approx(600.0) and "stepped by +600.0 s" in caplog.text
    wall[0], mono[0] = 1_000_001.5 + 1.0, 52.4  # ... and 10 minutes back
    clock.sync()
    assert clock.to_unix(52.4) == pytest.approx(1_000_002.5) and clock.steps == 2 and clock.last_step_s < -599


class SyntheticCamera:
    """A live capture stand-in: 20 frames a second of a grey picture, no end."""

    fps = 20.0
    frame_count = 0

    def grab(self) -> bool:
        time.sleep(0.05)
        return True

    def retrieve(self) -> np.ndarray:
        return np.full((48, 64, 3), 128, np.uint8)

    def position_s(self) -> None:
        return None

    def release(self) -> None:
        pass


def test_live_frames_are_stamped_on_the_stepped_clock_and_their_stream_time_does_not_jump() -> None:
    wall = SteppingTime()
    source = Source("live", "synthetic", "rtsp", SyntheticCamera, live=True, sampler=Sampler(),
                    options=SourceOptions(stall_timeout_s=5))
    source.clock = WallClock(wall)
    source.start()
    try:
        stamps = []
        for jump in (0.0, 600.0, -600.0):
            wall.jump = jump
            source.clock.sync()  # what the pipeline does for every batch
            for _ in range(3):
                frame = source.read(2.0)
                assert frame is not None
                stamps.append((frame.ts, source.to_unix(frame.ts), jump))
    finally:
        source.stop()
    ts = [t for t, _, _ in stamps]
    assert all(0.02 < b - a < 1.0 for a, b in zip(ts, ts[1:], strict=False))  # monotonic stream time: no jump
    for _, unix, jump in stamps:  # every stamp is the wall clock as it was (stepped) when the frame came
        assert unix == pytest.approx(time.time() + jump, abs=2.0)


def test_file_stamps_move_with_a_step(data_dir: Path) -> None:
    wall = SteppingTime()
    source = open_source(str(data_dir / "pets2009" / "vtest.avi"), camera_id="f", sampler=Sampler(1.0))
    source.clock = WallClock(wall)
    source.start()
    source.stop()
    before = source.to_unix(10.0)
    wall.jump = -600.0
    source.clock.sync()
    assert source.to_unix(10.0) == pytest.approx(before - 600.0, abs=0.05)
    assert source.started_unix == pytest.approx(time.time() - 600.0, abs=2.0)


def test_an_image_folder_is_stamped_with_its_file_times(tmp_path: Path) -> None:
    import os

    shot = 1_765_000_000.0  # pictures taken ten seconds apart, a year before this run
    for i in range(3):
        path = tmp_path / f"img_{i}.png"
        cv2.imwrite(str(path), np.full((8, 8, 3), i * 50, np.uint8))
        os.utime(path, (shot + 10 * i, shot + 10 * i))
    source = open_source(str(tmp_path), camera_id="folder", image_fps=2.0).start()
    frames = [source.read(2.0) for _ in range(3)]
    source.stop()
    assert [f.ts for f in frames] == [0.0, 0.5, 1.0]  # the timers still run at the documented index / fps
    assert [source.to_unix(f.ts) for f in frames] == [shot, shot + 10, shot + 20]
    # file times that do not rise with the names (copied out of order): the run's start plus index / fps
    os.utime(tmp_path / "img_2.png", (shot, shot))
    source = open_source(str(tmp_path), camera_id="folder", image_fps=2.0).start()
    frame = source.read(2.0)
    source.stop()
    assert source.to_unix(frame.ts) == pytest.approx(source.started_unix) and source.started_unix > shot + 1e6
