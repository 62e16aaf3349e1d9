"""Zones that stay right on a running edge: zones sent by central (checked, written atomically with a .bak,
reloaded keeping an unchanged zone's open episode; refused when bad, the old zones going on), and a bumped
camera that proposes realigned zones and raises nothing until they are accepted. Real footage, a real
detector and, for the command, a real Mosquitto."""

from __future__ import annotations

import json
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
from edge.proposals import propose
from edge.settings import CameraSettings, EdgeSettings
from edge.sources import Frame
from edge.zones_update import ZonesRefused, check_document, write_zones
from models.registry import load_detector
from testkit.footage import BAG_POLYGON, FPS, FRAME_SIZE, bag_photo, bag_zones, make_bag_clip
from wire import topics
from wire.mqtt import MqttSettings
from wire.schema import (
    Bundle,
    CommandMessage,
    EventMessage,
    RecheckResult,
    StatusMessage,
    ZoneProposal,
    decode,
    encode,
)
from zones.io import load_zones, parse_zones

SHIFT = (60, 30)  # the bumped camera's view moves this far right and down (px)


@pytest.fixture(scope="module")
def detector(models_dir: Path):
    return load_detector(models_dir / "yolox_nano.onnx", threads=1)


@pytest.fixture(scope="module")
def clip(data_dir: Path, tmp_path_factory) -> Path:
    return make_bag_clip(data_dir, tmp_path_factory.mktemp("clip") / "bag.avi", seconds=16.0)


def settings_for(video: Path, zones: Path, tmp_path: Path, **extra) -> EdgeSettings:
    return EdgeSettings.load(
        model="yolox_nano.onnx", site_id="site-t", analysis_fps=5.0, mqtt_enabled=False,
        cameras=[CameraSettings(id="cam-1", source=str(video), zones=zones)],
        evidence_dir=tmp_path / "evidence", **extra)


def test_a_document_is_checked_against_the_camera_and_its_frames() -> None:
    good = bag_zones(camera_id="cam-1")
    assert check_document(good, "cam-1", FRAME_SIZE).zones[0].zone_id == "z-bag"
    with pytest.raises(ZonesRefused, match="not 'cam-1'"):
        check_document(bag_zones(camera_id="cam-9"), "cam-1", FRAME_SIZE)
    crossed = {**good, "zones": [{"zone_id": "z-x", "polygon": [[0, 0], [100, 100], [100, 0], [0, 100]]}]}
    with pytest.raises(ZonesRefused, match="z-x.*not simple"):
        check_document(crossed, "cam-1", FRAME_SIZE)
    with pytest.raises(ZonesRefused, match="another image shape"):  # drawn on a 4:3 picture, frames are 768x576
        check_document({**good, "frame_size": [1920, 1080]}, "cam-1", FRAME_SIZE)


def test_zones_are_written_atomically_keeping_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "cams" / "cam-1.yaml"
    assert write_zones(path, bag_zones(camera_id="cam-1")) is None  # no old file
    first = path.read_text()
    moved = bag_zones(camera_id="cam-1", road=False)
    backup = write_zones(path, moved)
    assert backup == path.with_name("cam-1.yaml.bak") and backup.read_text() == first
    assert [z.zone_id for z in load_zones(path).zones] == ["z-bag"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["cam-1.yaml", "cam-1.yaml.bak"]  # no temp left


@pytest.mark.slow
def test_zones_from_central_through_a_real_broker_keep_the_open_episode_of_an_unchanged_zone(
    clip: Path, detector, tmp_path: Path, broker, topic_prefix: str
) -> None:
    """While the bag lies in z-bag (episode open), central sends a document that does not fit (refused:
    degraded status, old zones kept), then, seeing the refusal, one that moves z-road and adds z-new:
    z-bag's episode goes on to its own `cleared` end, the file is replaced and the old one kept."""
    from edge.publisher import Publisher

    zones_file = tmp_path / "cam-1.yaml"
    zones_file.write_text(yaml.safe_dump(bag_zones(camera_id="cam-1")))
    original = zones_file.read_text()
    new_doc = bag_zones(camera_id="cam-1")
    new_doc["zones"][1]["polygon"] = [[300, 380], [500, 380], [500, 480], [300, 480]]
    new_doc["zones"].append({"zone_id": "z-new", "shop_id": "shop-3", "polygon": [[600, 100], [700, 100], [700, 200]]})
    bad_doc = {**new_doc, "frame_size": [1920, 1080]}
    events: list[EventMessage] = []
    statuses: list[StatusMessage] = []
    sent = threading.Event()
    cmd_topic = topics.topic("site-t", "cam-1", "cmd", prefix=topic_prefix)

    def on_message(client, _userdata, message) -> None:
        msg = decode(message.payload)
        msg = msg.head if isinstance(msg, Bundle) else msg
        doc = None
        if isinstance(msg, StatusMessage):
            statuses.append(msg)
            if "refused" in msg.detail and not sent.is_set():
                sent.set()  # the edge said it refused the zones: central sends good ones
                doc = new_doc
        if isinstance(msg, EventMessage):
            events.append(msg)
            if msg.zone_id == "z-bag" and msg.phase == "start":
                doc = bad_doc  # central, with the episode open, sends zones that do not fit
        if doc is not None:
            cmd = CommandMessage(site_id="site-t", camera_id="cam-1", cmd="reload_zones", zones=doc)
            client.publish(cmd_topic, encode(cmd), qos=1)

    observer = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="central-t", protocol=mqtt.MQTTv5)
    observer.on_message = on_message
    observer.connect(broker.host, broker.port)
    observer.subscribe(topics.upstream_filter(topic_prefix), qos=1)
    observer.loop_start()
    # paced like a live camera (16 s), so the commands arrive while the bag still lies there
    settings = settings_for(clip, zones_file, tmp_path, status_interval_s=0.5, realtime=True)
    publisher = Publisher(MqttSettings(host=broker.host, port=broker.port, prefix=topic_prefix), edge_id="edge-t",
                          site_id="site-t", camera_ids=["cam-1"], spool_path=tmp_path / "spool", receipts=False)
    publisher.start()
    try:
        pipeline = Pipeline(settings, detectors={settings.model: detector}, publisher=publisher)
        pipeline.start()
        deadline = time.monotonic() + 20
        while not publisher.listening and time.monotonic() < deadline:
            time.sleep(0.05)
        pipeline.run()
        assert publisher.wait_drained(20)
        time.sleep(0.5)
    finally:
        publisher.stop()
        observer.loop_stop()
        observer.disconnect()
    assert sent.is_set()
    bag = [(e.phase, e.end_reason) for e in events if e.zone_id == "z-bag"]
    assert bag[0] == ("start", None) and bag[-1] == ("end", "cleared"), bag
    assert len({e.event_id for e in events if e.zone_id == "z-bag"}) == 1  # one episode, never cut
    assert [z.zone_id for z in pipeline.cameras["cam-1"].zones.zones] == ["z-bag", "z-road", "z-new"]
    assert json.loads(zones_file.read_text()) == new_doc
    assert zones_file.with_name("cam-1.yaml.bak").read_text() == original
    refused = [s for s in statuses if "zones from central refused" in s.detail]
    assert refused and all(s.state == "degraded" for s in refused) and "another image shape" in refused[0].detail
    assert statuses[-1].state == "offline" and "refused" not in statuses[-1].detail


def test_a_reload_without_a_document_rereads_the_file(clip: Path, detector, tmp_path: Path) -> None:
    zones_file = tmp_path / "cam-1.yaml"
    zones_file.write_text(yaml.safe_dump(bag_zones(camera_id="cam-1")))
    settings = settings_for(clip, zones_file, tmp_path)
    pipeline = Pipeline(settings, detectors={settings.model: detector}).start()
    zones_file.write_text(yaml.safe_dump(bag_zones(camera_id="cam-1", road=False)))
    pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="reload_zones"))
    pipeline.run(max_frames=3)
    assert list(pipeline.cameras["cam-1"].analyzer.zones) == ["z-bag"]


# ---------------------------------------------------------------- realignment


def _street(data_dir: Path, n: int = 1) -> np.ndarray:
    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, n)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


def test_a_shifted_view_gives_a_proposal_within_a_px_and_light_alone_none(data_dir: Path) -> None:
    frame = _street(data_dir)
    zones = parse_zones(bag_zones(camera_id="cam-1"))
    shifted = np.roll(frame, SHIFT[::-1], axis=(0, 1))
    result, proposal = propose(zones, frame, shifted, at=100.0)
    assert proposal is not None, result.reason
    realigned = parse_zones(proposal.zones)
    assert realigned.frame_size == FRAME_SIZE and abs(proposal.shift_px - np.hypot(*SHIFT)) < 1.5
    for before, after in zip(zones.zones, realigned.zones, strict=True):
        assert np.abs(after.polygon - (before.polygon + SHIFT)).max() < 2.0
    lut = (255 * (np.arange(256) / 255) ** 0.6).astype(np.uint8)
    darker = cv2.LUT(cv2.convertScaleAbs(frame, alpha=0.6, beta=-15), lut)
    result, proposal = propose(zones, frame, darker, at=100.0)
    assert proposal is None and result.usable and not result.moved, result.reason


def test_a_light_change_that_fires_the_view_check_withdraws_the_warning(clip: Path, detector, tmp_path: Path,
                                                                        data_dir: Path) -> None:
    zones_file = tmp_path / "cam-1.yaml"
    zones_file.write_text(yaml.safe_dump(bag_zones(camera_id="cam-1")))
    settings = settings_for(clip, zones_file, tmp_path)
    sink = Recorder()
    pipeline = Pipeline(settings, detectors={settings.model: detector}, publisher=sink).start()
    try:
        camera = pipeline.cameras["cam-1"]
        frame = _street(data_dir)
        camera.reference = frame
        camera.view_changed_at = 123.0
        darker = cv2.convertScaleAbs(frame, alpha=0.5, beta=-10)
        assert pipeline._realign(camera, Frame("cam-1", 0, 10.0, darker), []) == []
        assert camera.view_changed_at is None and camera.held == "" and camera.proposal is None
        camera.view_changed_at = 124.0
        shifted = np.roll(frame, SHIFT[::-1], axis=(0, 1))
        pipeline._realign(camera, Frame("cam-1", 1, 11.0, shifted), [])
        assert camera.held and isinstance(camera.proposal, ZoneProposal)
        # a held camera cannot judge a zone: a recheck is answered `unknown` at once, saying why
        pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="recheck", zone_id="z-bag"))
        pipeline._apply_commands()
        (answer,) = [m for m in sink.messages if isinstance(m, RecheckResult)]
        assert answer.result == "unknown" and "no events until its zones are accepted" in answer.detail
    finally:
        pipeline.close()


@pytest.fixture(scope="module")
def bumped_bag(data_dir: Path, tmp_path_factory) -> Path:
    """40 s of PETS2009: bumped SHIFT at 6 s; from 20 s to 33 s a bag lies in the bag zone's spot, as the
    camera now sees it (shifted): with the old zones it would still lie partly in z-bag. The zones are
    proposed at ~12 s and accepted a moment later; the bag comes late enough after that for the realigned
    zones to learn the empty pavement first. With the bag at 16 s the test failed on a busy CPU (2 runs of 6)
    whenever the acceptance came at 12.6 s instead of 12.0-12.4 s: no event at all."""
    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    video = tmp_path_factory.mktemp("bumped-bag") / "bumped.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, FRAME_SIZE)
    bag = bag_photo(data_dir)
    dx, dy = SHIFT
    for i in range(int(40 * FPS)):
        ok, frame = cap.read()
        assert ok
        if i >= 6 * FPS:
            frame = np.roll(frame, (dy, dx), axis=(0, 1))
        if 20 * FPS <= i < 33 * FPS:
            frame[270 + dy:315 + dy, 45 + dx:135 + dx] = bag
        writer.write(frame)
    writer.release()
    cap.release()
    return video


class Recorder:
    depth = 0

    def __init__(self) -> None:
        self.messages: list = []
        self.statuses: list[dict] = []
        self.pipeline: Pipeline | None = None
        self.accept = False

    def publish(self, msg) -> None:
        self.messages.append(msg)

    def publish_many(self, msgs) -> None:
        self.messages.extend(msgs)

    def on_command(self, callback) -> None:
        pass

    def set_status(self, state: str, **kw) -> None:
        self.statuses.append({"state": state, **kw})
        proposal = (kw.get("proposals") or {}).get("cam-1")
        if proposal is not None and self.accept and self.pipeline is not None:
            self.accept = False  # the operator accepts it in the zone editor: central sends it back
            self.pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="reload_zones",
                                                        zones=proposal.zones))


@pytest.mark.slow
@pytest.mark.parametrize("accepted", [False, True], ids=["waiting", "accepted"])
def test_a_bumped_camera_proposes_realigned_zones_and_raises_nothing_until_they_are_accepted(
    bumped_bag: Path, detector, tmp_path: Path, accepted: bool
) -> None:
    zones_file = tmp_path / "cam-1.yaml"
    # a dwell longer than the view check's 5 s: the bumped zones' new look is not a pile before it is noticed
    zones_file.write_text(yaml.safe_dump({**bag_zones(camera_id="cam-1"), "rules": {
        "min_dwell_s": 8, "clear_s": 2, "static_after_s": 1, "cooldown_s": 1}}))
    sink = Recorder()
    sink.accept = accepted
    settings = settings_for(bumped_bag, zones_file, tmp_path, status_interval_s=0.5)
    pipeline = sink.pipeline = Pipeline(settings, detectors={settings.model: detector}, publisher=sink)
    pipeline.run()
    proposals = [p["cam-1"] for s in sink.statuses if (p := s.get("proposals"))]
    assert proposals, [s.get("detail") for s in sink.statuses]
    got = parse_zones(proposals[0].zones)
    bag_zone = next(z for z in got.zones if z.zone_id == "z-bag")
    assert np.abs(bag_zone.polygon - (np.array(BAG_POLYGON) + SHIFT)).max() < 3.0  # within a few px of the truth
    events = [(m.zone_id, m.phase, m.end_reason) for m in sink.messages if isinstance(m, EventMessage)]
    if not accepted:
        assert events == [], events  # the bag lies in the (old and new) zone, but the zones are not accepted
        held = [s for s in sink.statuses if s["state"] == "degraded"]
        assert held and "no events until its zones are accepted or redrawn" in held[-1]["detail"]
        assert sink.statuses[-1].get("proposals")  # still waiting for the operator
    else:
        assert ("z-bag", "start", None) in events, events  # raised in the realigned zone once accepted
        assert json.loads(zones_file.read_text()) == proposals[0].zones
        assert not sink.statuses[-1].get("proposals")
