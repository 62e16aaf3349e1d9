"""The edge pipeline on real footage with a real detector: events, evidence order, rechecks, commands,
and the same through a real Mosquitto with the spooling publisher."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from edge.pipeline import Pipeline
from edge.settings import CameraSettings, EdgeSettings
from models.registry import load_detector
from testkit.footage import BAG_OFF, BAG_ON, bag_zones, make_bag_clip
from testkit.sink import SinkStandIn
from wire import topics
from wire.mqtt import MqttSettings
from wire.schema import (
    Bundle,
    CommandMessage,
    EventMessage,
    EvidenceMessage,
    RecheckResult,
    decode,
    encode,
    recheck_evidence_owner,
)

ZONES = bag_zones("z-bag", camera_id="synth")


@pytest.fixture(scope="module")
def clip(data_dir: Path, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("clip")
    zones = folder / "zones.yaml"
    zones.write_text(yaml.safe_dump(ZONES))
    return make_bag_clip(data_dir, folder / "bag.avi"), zones


@pytest.fixture(scope="module")
def detector(models_dir: Path):
    return load_detector(models_dir / "yolox_nano.onnx", threads=1)


def settings_for(clip: tuple[Path, Path], models_dir: Path, tmp_path: Path, **extra) -> EdgeSettings:
    video, zones = clip
    return EdgeSettings.load(
        model=str(models_dir / "yolox_nano.onnx"),
        site_id="site-t",
        analysis_fps=5.0,
        mqtt_enabled=False,
        cameras=[CameraSettings(id="cam-1", source=str(video), zones=zones)],
        evidence_dir=tmp_path / "evidence",
        events_out=tmp_path / "events.jsonl",
        **extra,
    )


class CentralStandIn(SinkStandIn):
    """Collects what the pipeline publishes and, like central, asks for a recheck after each start and
    each end of an episode."""

    def __init__(self) -> None:
        super().__init__()
        self.pipeline: Pipeline | None = None

    def publish(self, msg) -> None:
        self.messages.append(msg)
        if isinstance(msg, EventMessage) and msg.phase in ("start", "end") and self.pipeline is not None:
            self.pipeline.submit_command(
                CommandMessage(
                    site_id=msg.site_id,
                    camera_id=msg.camera_id,
                    cmd="recheck",
                    zone_id=msg.zone_id,
                    case_id="case-1",
                )
            )


def test_bag_set_down_and_taken_away(clip, detector, models_dir: Path, tmp_path: Path) -> None:
    settings = settings_for(clip, models_dir, tmp_path)
    sink = CentralStandIn()
    pipeline = Pipeline(settings, detectors={settings.model: detector}, publisher=sink)
    sink.pipeline = pipeline
    stats = pipeline.run()
    assert stats.frames_decoded == 200 and stats.frames_analysed == 100
    assert sink.command_callbacks == [pipeline.submit_command]

    events = [m for m in sink.messages if isinstance(m, EventMessage)]
    phases = [(e.zone_id, e.phase) for e in events]
    assert phases[0] == ("z-bag", "start") and phases[-1] == ("z-bag", "end")
    assert all(z == "z-bag" for z, _ in phases)
    start, end = events[0], events[-1]
    assert start.event_id == end.event_id and end.seq > start.seq
    assert BAG_ON + 1 <= start.video_ts <= BAG_ON + 6  # min_dwell_s 2 plus the static/dwell timers
    assert BAG_OFF <= end.video_ts <= BAG_OFF + 6
    assert start.ts == pytest.approx(pipeline.cameras["cam-1"].source.started_unix + start.video_ts)
    x1, y1, x2, y2 = start.boxes[0]
    assert x1 < 135 and x2 > 45 and y1 < 315 and y2 > 270  # the box is on the bag

    # Every evidence picture is published before the event that references it, and matches it.
    position = {id(m): i for i, m in enumerate(sink.messages)}
    evidence = {m.evidence_id: m for m in sink.messages if isinstance(m, EvidenceMessage)}
    for event in (start, end):
        assert event.evidence and event.evidence[0].kind == "annotated"
        for ref in event.evidence:
            pic = evidence[ref.evidence_id]
            assert position[id(pic)] < position[id(event)] and pic.sha256 == ref.sha256
            assert pic.event_id == event.event_id

    # Rechecks asked at the start (bag there) and at the end (bag gone), judged on fresh frames.
    results = [m for m in sink.messages if isinstance(m, RecheckResult)]
    assert [r.result for r in results] == ["present", "clear"]
    assert results[0].evidence and results[0].case_id == "case-1" and results[0].ts > start.ts
    for r in results:  # filed under the name central's ingest looks for
        assert all(evidence[ref.evidence_id].event_id == recheck_evidence_owner(r.command_id) for ref in r.evidence)
    assert all(isinstance(decode(encode(m)), type(m)) for m in sink.messages)

    # The JSON-lines file holds the same phases with video seconds and evidence paths.
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(x["zone_id"], x["phase"]) for x in lines] == phases
    assert lines[0]["ts"] == pytest.approx(start.video_ts, abs=1e-3)
    assert Path(lines[0]["evidence"]).is_file() and lines[0]["evidence"].endswith("annotated.jpg")


def test_set_fps_and_reload_zones_commands(clip, detector, models_dir: Path, tmp_path: Path) -> None:
    video, zones = clip
    local_zones = tmp_path / "zones.yaml"
    local_zones.write_text(zones.read_text())
    settings = settings_for((video, local_zones), models_dir, tmp_path)
    pipeline = Pipeline(settings, detectors={settings.model: detector})
    pipeline.start()
    pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="set_fps", fps=1.0))
    local_zones.write_text("zones: [not, a, zone]")  # a broken edit must not take the zones away
    pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="reload_zones"))
    pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="other", cmd="set_fps", fps=9.0))
    stats = pipeline.run()
    assert 18 <= stats.frames_analysed <= 26  # ~1 fps over 20 s (a few frames were queued at 5 fps)
    assert set(pipeline.cameras["cam-1"].analyzer.zones) == {"z-bag", "z-road"}


def test_no_cameras_is_an_error() -> None:
    with pytest.raises(ValueError, match="no cameras"):
        Pipeline(EdgeSettings.load(mqtt_enabled=False))


@pytest.mark.slow
def test_through_a_real_broker(
    clip, detector, models_dir: Path, tmp_path: Path, broker, topic_prefix
) -> None:
    from edge.publisher import Publisher

    mqtt_settings = MqttSettings(host=broker.host, port=broker.port, prefix=topic_prefix)
    settings = settings_for(clip, models_dir, tmp_path)
    received: list = []
    got_end = threading.Event()
    observer = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="observer", protocol=mqtt.MQTTv5)

    bundles: list[Bundle] = []

    def on_message(client, userdata, message) -> None:
        msg = decode(message.payload)
        if isinstance(msg, Bundle):  # an event with its pictures in one payload
            bundles.append(msg)
            received.extend(msg.evidence)
            msg = msg.head
        received.append(msg)
        if isinstance(msg, EventMessage) and msg.phase == "start":  # central asks for a recheck
            cmd = CommandMessage(
                site_id=msg.site_id, camera_id=msg.camera_id, cmd="recheck", zone_id=msg.zone_id
            )
            client.publish(
                topics.topic(msg.site_id, msg.camera_id, "cmd", prefix=topic_prefix), encode(cmd), qos=1
            )
        if isinstance(msg, EventMessage) and msg.phase == "end":
            got_end.set()

    observer.on_message = on_message
    observer.connect(broker.host, broker.port)
    observer.subscribe(topics.upstream_filter(topic_prefix), qos=1)
    observer.loop_start()
    publisher = Publisher(
        mqtt_settings, edge_id="edge-t", site_id="site-t", camera_ids=["cam-1"], spool_path=tmp_path / "spool",
        receipts=False,
    )
    publisher.start()
    try:
        pipeline = Pipeline(settings, detectors={settings.model: detector}, publisher=publisher)
        pipeline.start()
        deadline = time.monotonic() + 20
        while not publisher.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        pipeline.run()
        assert publisher.wait_drained(20)
        assert got_end.wait(10)
        time.sleep(0.5)
    finally:
        publisher.stop()
        observer.loop_stop()
        observer.disconnect()
    kinds = [type(m).__name__ for m in received if not m.type == "status"]
    assert "RecheckResult" in kinds
    events = [m for m in received if isinstance(m, EventMessage)]
    assert [e.phase for e in events][0] == "start" and events[-1].phase == "end"
    seen = set()
    # every start and end carries its pictures in the same payload, so central can store them together
    with_pictures = [e for e in events if e.phase in ("start", "end")]
    assert with_pictures and all(e.evidence for e in with_pictures)
    assert {b.head.message_id for b in bundles} >= {e.message_id for e in with_pictures}
    for m in received:  # evidence arrives with or before its event
        if isinstance(m, EvidenceMessage):
            seen.add(m.evidence_id)
        if isinstance(m, EventMessage):
            assert all(ref.evidence_id in seen for ref in m.evidence)
    status = [m for m in received if m.type == "status"]
    # the worker said how fast it analysed while it ran, and said it stopped
    assert max(s.fps for s in status) > 0 and any(s.state == "online" and s.fps > 0 for s in status)
    assert status[-1].state == "offline" and status[-1].detail.startswith("stopped")
    assert events[0].score >= 0.5  # a start needs the bag over min_coverage of the zone (score 0.5 there)


def test_drone_events_carry_geo(clip, detector, models_dir: Path, tmp_path: Path) -> None:
    video, zones = clip
    telemetry = tmp_path / "flight.csv"
    telemetry.write_text("time,lat,lon,alt,heading\n0,31.2300,121.4700,40,90\n20,31.2320,121.4700,40,90\n")
    settings = EdgeSettings.load(
        model=str(models_dir / "yolox_nano.onnx"),
        site_id="site-t",
        analysis_fps=5.0,
        mqtt_enabled=False,
        cameras=[
            CameraSettings(id="drone-1", source=str(video), zones=zones, kind="drone", telemetry=telemetry)
        ],
    )
    sink = CentralStandIn()
    Pipeline(settings, detectors={settings.model: detector}, publisher=sink).run()
    events = [m for m in sink.messages if isinstance(m, EventMessage)]
    assert events and all(e.source_kind == "drone" and e.geo is not None for e in events)
    start = events[0]
    assert start.geo.lat == pytest.approx(31.2300 + 0.0020 * start.video_ts / 20, abs=2e-5)
    assert start.geo.lon == pytest.approx(121.47) and start.geo.alt_m == pytest.approx(40)


class RefusingSink(SinkStandIn):
    """A publisher whose spool is full: every publish raises."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def publish_many(self, msgs) -> None:
        raise OSError("spool full")

    def publish(self, msg) -> None:
        self.calls += 1
        raise OSError("spool full")


def test_a_refusing_publisher_does_not_stop_the_analysis(
    clip, detector, models_dir: Path, tmp_path: Path
) -> None:
    settings = settings_for(clip, models_dir, tmp_path)
    sink = RefusingSink()
    stats = Pipeline(settings, detectors={settings.model: detector}, publisher=sink).run()
    assert stats.frames_analysed == 100 and stats.publish_errors == sink.calls > 0
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(x)["phase"] for x in lines] == ["start", "end"]  # the local record is complete


class RecordingPipeline(Pipeline):
    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.seen: list[tuple[str, float]] = []

    def analyse(self, camera, frame, detections):
        self.seen.append((camera.settings.id, frame.ts))
        return super().analyse(camera, frame, detections)


@pytest.mark.slow
def test_detection_in_flight_keeps_stream_order_and_the_same_events(
    clip, detector, models_dir: Path, tmp_path: Path
) -> None:
    video, zones = clip
    runs = {}
    for workers, batch in ((1, 1), (3, 1), (3, 8)):  # batches of 8 are split among the workers
        out = tmp_path / f"w{workers}-{batch}"
        settings = settings_for(clip, models_dir, out, inference_workers=workers, batch_size=batch, threads=1)
        settings.cameras = [CameraSettings(id=f"cam-{i}", source=str(video), zones=zones) for i in (1, 2)]
        pipeline = RecordingPipeline(settings, detectors={settings.model: detector})
        stats = pipeline.run()
        assert stats.frames_analysed == 200  # nothing taken from a source is left unanalysed
        for cam in ("cam-1", "cam-2"):
            ts = [t for c, t in pipeline.seen if c == cam]
            assert len(ts) == 100 and ts == sorted(ts)
        lines = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
        runs[workers, batch] = sorted((x["camera_id"], x["zone_id"], x["phase"], x["ts"]) for x in lines)
    assert runs[1, 1] and runs[3, 1] == runs[1, 1] and runs[3, 8] == runs[1, 1]


class IntervalRecordingPipeline(Pipeline):
    def __init__(self, *a, fail_after: int | None = None, **kw) -> None:
        super().__init__(*a, **kw)
        self.intervals: list[float] = []
        self.fail_after = fail_after

    def analyse(self, camera, frame, detections):
        self.intervals.append(sys.getswitchinterval())
        if self.fail_after is not None and len(self.intervals) > self.fail_after:
            raise RuntimeError("analysis failed")
        return super().analyse(camera, frame, detections)


@pytest.mark.parametrize("fail", [False, True])
def test_switch_interval_is_set_while_running_and_restored(
    clip, detector, models_dir: Path, tmp_path: Path, fail: bool
) -> None:
    before = sys.getswitchinterval()
    assert before != pytest.approx(0.0003)
    settings = settings_for(clip, models_dir, tmp_path, gil_switch_interval_ms=0.3)
    pipeline = IntervalRecordingPipeline(
        settings, detectors={settings.model: detector}, fail_after=3 if fail else None
    )
    if fail:
        with pytest.raises(RuntimeError, match="analysis failed"):
            pipeline.run()
    else:
        pipeline.run(max_frames=5)
    assert pipeline.intervals and all(v == pytest.approx(0.0003) for v in pipeline.intervals)
    assert sys.getswitchinterval() == before


def test_switch_interval_zero_keeps_pythons_own(clip, detector, models_dir: Path, tmp_path: Path) -> None:
    before = sys.getswitchinterval()
    settings = settings_for(clip, models_dir, tmp_path, gil_switch_interval_ms=0)
    pipeline = IntervalRecordingPipeline(settings, detectors={settings.model: detector})
    pipeline.run(max_frames=3)
    assert pipeline.intervals and all(v == before for v in pipeline.intervals)


class GroupingSink(SinkStandIn):
    """A publisher that keeps grouped and single writes apart; `refuse_groups` makes every grouped write
    fail (a spool too full for the pictures and the event together)."""

    def __init__(self, refuse_groups: bool = False) -> None:
        super().__init__()
        self.groups: list[list] = []
        self.singles: list = []
        self.refuse_groups = refuse_groups

    def publish_many(self, msgs) -> list[int]:
        if self.refuse_groups:
            raise OSError("spool full")
        self.groups.append(list(msgs))
        return list(range(len(msgs)))

    def publish(self, msg) -> int:
        self.singles.append(msg)
        return 0


@pytest.mark.parametrize("refuse_groups", [False, True])
def test_evidence_and_its_event_are_spooled_together_or_one_by_one(
    clip, detector, models_dir: Path, tmp_path: Path, refuse_groups: bool
) -> None:
    settings = settings_for(clip, models_dir, tmp_path)
    sink = GroupingSink(refuse_groups)
    stats = Pipeline(settings, detectors={settings.model: detector}, publisher=sink).run()
    assert stats.publish_errors == 0
    if refuse_groups:
        sent = sink.singles  # the fallback: every message still went out, in the same order
        assert not sink.groups
    else:
        assert sink.groups and all(isinstance(g[-1], EventMessage) for g in sink.groups)
        assert all(isinstance(m, EvidenceMessage) for g in sink.groups for m in g[:-1])
        for g in sink.groups:  # each group is the event and exactly the pictures it references
            assert [r.evidence_id for r in g[-1].evidence] == [m.evidence_id for m in g[:-1]]
        sent = [m for g in sink.groups for m in g]
    events = [m for m in sent if isinstance(m, EventMessage)]
    assert [e.phase for e in events] == ["start", "end"]
    assert sum(isinstance(m, EvidenceMessage) for m in sent) == stats.evidence > 0


class StatusRecorder(SinkStandIn):
    """A publisher stand-in that keeps what the pipeline publishes and every status it sets."""


@pytest.fixture(scope="module")
def bumped(data_dir: Path, tmp_path_factory) -> tuple[Path, Path]:
    """60 s of PETS2009: 30 s as installed, then the camera knocked 60 px right and 30 px down."""
    folder = tmp_path_factory.mktemp("bumped")
    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    video = folder / "bumped.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    for i in range(600):
        ok, frame = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = cap.read()
        writer.write(np.roll(frame, (30, 60), axis=(0, 1)) if i >= 300 else frame)
    writer.release()
    zones = folder / "zones.yaml"
    zones.write_text(yaml.safe_dump({**ZONES, "rules": {**ZONES["rules"], "min_dwell_s": 10}}))
    return video, zones


@pytest.mark.slow
def test_a_camera_bumped_mid_stream_relearns_and_says_its_zones_need_checking(
    bumped, models_dir: Path, tmp_path: Path
) -> None:
    """Without the view check the whole piled-goods zone would stay a "pile" for good; with it, the zone
    learns the new view, nothing is raised, and the status tells central that this camera's zones must be
    checked, until they are reloaded."""
    sink = StatusRecorder()
    settings = settings_for(bumped, models_dir, tmp_path, status_interval_s=0.5)
    stats = Pipeline(settings, publisher=sink).run()
    assert stats.frames_analysed >= 250
    events = [(m.zone_id, m.phase, m.video_ts) for m in sink.messages if isinstance(m, EventMessage)]
    assert events == [], events
    degraded = [s for s in sink.statuses if s["state"] == "degraded"]
    assert degraded and "cam-1: the view changed at" in degraded[0]["detail"]
    assert "reload them" in sink.statuses[-1]["detail"]  # until the zones are reloaded
    assert all(s["state"] == "online" and s["detail"] == "" for s in sink.statuses[: len(sink.statuses) // 3])


@pytest.mark.slow
def test_reloading_the_zones_of_a_bumped_camera_clears_its_warning(bumped, models_dir: Path, tmp_path: Path) -> None:
    pipeline: Pipeline | None = None

    class Operator(StatusRecorder):  # sees the warning, redraws the zones, has them reloaded
        def set_status(self, state: str, **kw) -> None:
            super().set_status(state, **kw)
            if state == "degraded" and sum(s["state"] == "degraded" for s in self.statuses) == 1:
                assert pipeline is not None
                pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="reload_zones"))

    sink = Operator()
    pipeline = Pipeline(settings_for(bumped, models_dir, tmp_path, status_interval_s=0.5), publisher=sink)
    pipeline.run()
    assert any(s["state"] == "degraded" for s in sink.statuses)
    assert sink.statuses[-1]["state"] == "online" and sink.statuses[-1]["detail"] == ""
