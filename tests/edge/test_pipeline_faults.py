"""The pipeline keeps going: a clock step after boot, a detector that raises on one batch, a camera that is
down while central asks for a recheck, a command queue that overflows. Real footage, the real detector."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import pytest
import yaml

from edge.clock import WallClock
from edge.pipeline import Pipeline
from edge.settings import CameraSettings, EdgeSettings
from models.registry import load_detector
from testkit.sink import SinkStandIn
from wire.schema import CommandMessage, EventMessage, RecheckResult, evidence_phase

BAG_ON, BAG_OFF = 6.0, 13.0
ZONES = {
    "camera_id": "synth",
    "frame_size": [768, 576],
    "rules": {"min_dwell_s": 2, "clear_s": 2, "static_after_s": 1, "cooldown_s": 1},
    "zones": [{"zone_id": "z-bag", "shop_id": "shop-1", "polygon": [[20, 262], [165, 262], [165, 322], [20, 322]],
               "violations": ["piled_goods"]}],
}


@pytest.fixture(scope="module")
def clip(data_dir: Path, tmp_path_factory) -> tuple[Path, Path]:
    """20 s of PETS2009 (10 fps) with a real rubbish-bag photo in zone z-bag from BAG_ON to BAG_OFF."""
    folder = tmp_path_factory.mktemp("faults")
    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    bag = cv2.imread(str(sorted((data_dir / "sidewalk-bags" / "valid" / "images").glob("*.jpg"))[0]))
    bag = cv2.resize(bag[160:480, 160:480], (90, 45))
    video = folder / "bag.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    for i in range(200):
        ok, frame = cap.read()
        assert ok
        if BAG_ON <= i / 10 < BAG_OFF:
            frame[270:315, 45:135] = bag
        writer.write(frame)
    writer.release()
    cap.release()
    zones = folder / "zones.yaml"
    zones.write_text(yaml.safe_dump(ZONES))
    return video, zones


@pytest.fixture(scope="module")
def detector(models_dir: Path):
    return load_detector(models_dir / "yolox_nano.onnx", threads=1)


def settings_for(source: str, zones: Path, models_dir: Path, **extra) -> EdgeSettings:
    return EdgeSettings.load(
        model=str(models_dir / "yolox_nano.onnx"), site_id="site-t", analysis_fps=5.0, mqtt_enabled=False,
        cameras=[CameraSettings(id="cam-1", source=source, zones=zones)], reference_dir=None, **extra,
    )


class Recorder(SinkStandIn):
    def events(self) -> list[EventMessage]:
        return [m for m in self.messages if isinstance(m, EventMessage)]


class SteppingPipeline(Pipeline):
    """Steps the (fake) wall clock +10 min once the video reaches `plus_at` s and -10 min (from the true time)
    at `minus_at` s, as NTP would on a box that booted without a real-time clock."""

    def __init__(self, *a, wall: list[float], plus_at: float, minus_at: float, **kw) -> None:
        super().__init__(*a, **kw)
        self.wall, self.plus_at, self.minus_at = wall, plus_at, minus_at

    def analyse(self, camera, frame, detections):
        if frame.ts >= self.minus_at:
            self.wall[0] = -600.0
        elif frame.ts >= self.plus_at:
            self.wall[0] = 600.0
        return super().analyse(camera, frame, detections)


@pytest.mark.slow  # two runs of the clip: ~15 s
def test_event_stamps_follow_a_clock_step_and_the_dwell_timers_do_not(clip, detector, models_dir: Path) -> None:
    video, zones = clip
    settings = settings_for(str(video), zones, models_dir, batch_size=1, inference_workers=1)
    plain = Recorder()
    Pipeline(settings, detectors={settings.model: detector}, publisher=plain).run()
    wall = [0.0]
    stepped = Recorder()
    pipeline = SteppingPipeline(settings, detectors={settings.model: detector}, publisher=stepped,
                                clock=WallClock(lambda: time.time() + wall[0]), wall=wall,
                                plus_at=BAG_ON - 2, minus_at=BAG_OFF - 2)
    pipeline.run()
    base, moved = plain.events(), stepped.events()
    assert [e.phase for e in base] == ["start", "end"]
    # the timers run on stream time: the same phases at the same video seconds, with or without the steps
    assert [(e.phase, e.video_ts) for e in moved] == [(e.phase, e.video_ts) for e in base]
    start, end = moved
    true_start = time.time() - pipeline.stats.seconds  # roughly when the run began, on the true clock
    # the start came after the +10 min step and the end after the -10 min one: each stamped on the wall clock
    # as it then was (the run's start moved with the clock, plus the video time)
    assert start.ts == pytest.approx(true_start + 600 + start.video_ts, abs=5)
    assert end.ts == pytest.approx(true_start - 600 + end.video_ts, abs=5)
    assert pipeline.clock.steps == 2
    for event in moved:  # each picture's role: the event's phase (also in its id) x its kind, annotated first
        kinds = [ref.kind for ref in event.evidence]
        assert kinds[:2] == ["annotated", "clean"] and set(kinds[2:]) <= {"crop"}
        assert ("crop" in kinds) == bool(event.boxes)  # a crop per box: the end (goods gone) has none
        assert {evidence_phase(ref.evidence_id) for ref in event.evidence} == {event.phase}


class FailingOnce:
    """The real detector, except that call number `fail_on` raises (a driver hiccup, a bad frame)."""

    def __init__(self, real, fail_on: int) -> None:
        self.real, self.fail_on, self.calls = real, fail_on, 0

    def detect(self, frames):
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("inference failed: device lost")
        return self.real.detect(frames)


def test_a_detector_error_skips_that_batch_counts_it_and_the_worker_goes_on(
    clip, detector, models_dir: Path, caplog
) -> None:
    video, zones = clip
    settings = settings_for(str(video), zones, models_dir, batch_size=1, inference_workers=1, status_interval_s=0.5)
    sink = Recorder()
    flaky = FailingOnce(detector, fail_on=10)
    stats = Pipeline(settings, detectors={settings.model: flaky}, publisher=sink).run()
    # every frame the motion gate let through went to the detector (edge.motion: the others reuse its last boxes)
    assert stats.detector_errors == 1 and flaky.calls == 100 - stats.detections_skipped
    assert stats.frames_analysed == 99  # the one failed frame skipped, every other one analysed
    assert [e.phase for e in sink.events()] == ["start", "end"]  # and the episode still seen whole
    assert "detector failed on a batch of 1 frames" in caplog.text and "device lost" in caplog.text
    assert "detector failed on 1 batches" in sink.statuses[-1]["detail"]


def test_a_recheck_for_a_camera_that_is_down_is_answered_unknown_and_the_status_says_why(
    clip, detector, models_dir: Path
) -> None:
    _, zones = clip
    settings = settings_for("http://127.0.0.1:9/none.mjpg", zones, models_dir, recheck_timeout_s=1.0,
                            status_interval_s=0.5, stall_timeout_s=0.5, backoff_max_s=0.5)
    sink = Recorder()
    pipeline = Pipeline(settings, detectors={settings.model: detector}, publisher=sink)
    pipeline.start()
    pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="recheck", zone_id="z-bag",
                                           case_id="case-9"))
    pipeline.run(max_seconds=3.0)
    results = [m for m in sink.messages if isinstance(m, RecheckResult)]
    assert len(results) == 1 and results[0].result == "unknown" and results[0].case_id == "case-9"
    assert "camera unavailable" in results[0].detail and "reconnecting" in results[0].detail
    assert pipeline.rechecks.pending("cam-1") == 0  # not waiting forever
    degraded = [s for s in sink.statuses if s["state"] == "degraded"]
    assert degraded and "cam-1: reconnecting, attempt" in degraded[-1]["detail"]
    assert "cannot open" in degraded[-1]["detail"]  # the last error
    assert "cam-1=reconnecting" in degraded[-1]["source_state"]


def test_a_full_command_queue_drops_its_oldest_command_and_says_so(clip, models_dir: Path, caplog) -> None:
    video, zones = clip
    pipeline = Pipeline(settings_for(str(video), zones, models_dir, command_queue_size=2), detectors={"x": None})
    for fps in (1.0, 2.0, 3.0):
        pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="set_fps", fps=fps))
    assert pipeline.stats.commands_dropped == 1 and "command queue full (2): dropped set_fps" in caplog.text
    assert [pipeline.commands.get_nowait().fps for _ in range(2)] == [2.0, 3.0]


def test_recheck_jobs_time_out_and_are_capped_per_camera() -> None:
    from edge.recheck import Rechecks

    now = [100.0]
    jobs = Rechecks(frames=4, timeout_s=30.0, max_jobs=2, monotonic=lambda: now[0])
    cmds = [CommandMessage(site_id="s", camera_id="cam-1", cmd="recheck", zone_id="z", case_id=f"c{i}")
            for i in range(3)]
    assert jobs.add(cmds[0]) == [] and jobs.add(cmds[1]) == []
    pushed = jobs.add(cmds[2])  # a third waiting job pushes the oldest out, answered at once
    assert [(v.command.case_id, v.result) for v in pushed] == [("c0", "unknown")] and jobs.pending("cam-1") == 2
    now[0] = 129.0
    assert jobs.expire() == []
    now[0] = 130.0
    expired = jobs.expire(lambda cid: "reconnecting, attempt 7: refused")
    assert [(v.command.case_id, v.result) for v in expired] == [("c1", "unknown"), ("c2", "unknown")]
    assert "reconnecting, attempt 7: refused" in expired[0].detail and jobs.pending("cam-1") == 0
