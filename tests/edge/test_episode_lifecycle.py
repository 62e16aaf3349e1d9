"""Episodes on real footage through the real detector: each one that starts ends exactly once, with an honest
reason, through a zones reload, a change of frame size, zones that do not fit, the end of a file, a stop and
a restart.

The footage is PETS2009 (people walking) with real rubbish-bag photos set down on the grass in three zones
from BAG_ON to BAG_OFF seconds, written as an image folder at the analysis rate (5 fps), so that a test can
change the frames' size mid-stream."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from edge.pipeline import Pipeline
from edge.settings import CameraSettings, EdgeSettings
from models.registry import load_detector
from testkit.sink import SinkStandIn
from tests.edge.test_sources import MjpegServer
from wire.schema import CommandMessage, EventMessage, decode, encode

FPS = 5.0
BAG_ON, BAG_OFF, SECONDS = 5.0, 12.0, 16.0  # the bags come after the 4 s the static model takes to learn
RULES = {"min_dwell_s": 2, "clear_s": 2, "static_after_s": 1, "cooldown_s": 1}
# zone id -> (polygon, where its bag lies: y1, y2, x1, x2)
SPOTS = {
    "z-keep": ([[20, 262], [165, 262], [165, 322], [20, 322]], (270, 315, 45, 135)),
    "z-gone": ([[180, 380], [325, 380], [325, 440], [180, 440]], (388, 433, 205, 295)),
    "z-moved": ([[560, 500], [705, 500], [705, 560], [560, 560]], (508, 553, 585, 675)),
}


def zones_doc(spots: dict = SPOTS, **extra) -> dict:
    zones = [{"zone_id": zid, "shop_id": f"shop-{zid}", "polygon": poly, "violations": ["piled_goods"]}
             for zid, (poly, _) in spots.items()]
    return {"camera_id": "cam-1", "frame_size": [768, 576], "rules": RULES, "zones": zones} | extra


@pytest.fixture(scope="module")
def frames(data_dir: Path) -> list[np.ndarray]:
    """SECONDS of footage at FPS, with a bag in every zone from BAG_ON to BAG_OFF."""
    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    bags = sorted((data_dir / "sidewalk-bags" / "valid" / "images").glob("*.jpg"))[:3]
    photos = [cv2.resize(cv2.imread(str(p))[160:480, 160:480], (90, 45)) for p in bags]
    out = []
    for i in range(int(SECONDS * 10)):
        ok, frame = cap.read()
        assert ok
        if i % int(10 / FPS):
            continue
        if BAG_ON <= i / 10 < BAG_OFF:
            for (_, (y1, y2, x1, x2)), photo in zip(SPOTS.values(), photos, strict=True):
                frame[y1:y2, x1:x2] = photo
        out.append(frame)
    cap.release()
    return out


def image_folder(folder: Path, frames: list[np.ndarray], resize_from: float | None = None,
                 size: tuple[int, int] = (640, 480)) -> Path:
    """`frames` as a JPEG folder; from `resize_from` seconds on, at `size`."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        if resize_from is not None and i / FPS >= resize_from:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"{i:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return folder


@pytest.fixture(scope="module")
def detector(models_dir: Path):
    return load_detector(models_dir / "yolox_nano.onnx", threads=1)


@pytest.fixture(scope="module")
def folder(frames, tmp_path_factory) -> Path:
    return image_folder(tmp_path_factory.mktemp("clip") / "frames", frames)


def settings(models_dir: Path, tmp_path: Path, cameras: list[CameraSettings], **extra) -> EdgeSettings:
    return EdgeSettings.load(model=str(models_dir / "yolox_nano.onnx"), site_id="site-t", analysis_fps=FPS,
                             mqtt_enabled=False, cameras=cameras, evidence_dir=tmp_path / "evidence",
                             events_out=tmp_path / "events.jsonl", **extra)


def write_zones(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


class Sink(SinkStandIn):
    """What central would receive (every message round-trips the wire format); `on_event` may act."""

    def __init__(self, on_event=None) -> None:
        super().__init__()
        self.events: list[EventMessage] = []
        self.on_event = on_event

    def publish(self, msg) -> None:
        super().publish(msg)
        if isinstance(msg, EventMessage):
            assert decode(encode(msg)) == msg
            self.events.append(msg)
            if self.on_event is not None:
                self.on_event(msg)

    def episodes(self, camera: str = "cam-1") -> dict[str, list[EventMessage]]:
        out: dict[str, list[EventMessage]] = {}
        for e in self.events:
            if e.camera_id == camera:
                out.setdefault(e.event_id, []).append(e)
        return out


def assert_whole(phases: list[EventMessage], end_reason: str) -> None:
    """One episode: a start, updates, one end (with `end_reason`), in seq order."""
    assert [p.phase for p in phases][0] == "start" and [p.phase for p in phases][-1] == "end", phases
    assert [p.phase for p in phases].count("start") == 1 and [p.phase for p in phases].count("end") == 1
    assert [p.seq for p in phases] == list(range(len(phases)))
    assert phases[-1].end_reason == end_reason


def test_arrive_stay_leave_gives_one_start_and_one_end_and_unfit_zones_fail_only_their_camera(
    folder: Path, frames, detector, models_dir: Path, tmp_path: Path
) -> None:
    """Three cameras in one worker: cam-1 sees three bags come and go; cam-cut's file ends while its bags
    stand (end_of_stream, while cam-1 goes on); cam-bad's zones (no frame_size) reach past its frames: it
    fails with a message naming the zone, the point and the frame size, and the others go on."""
    cut = image_folder(tmp_path / "cut", frames[: int((BAG_ON + 5) * FPS)])
    bad = zones_doc(camera_id="cam-bad")
    del bad["frame_size"]
    bad["zones"][1]["polygon"] = [[700, 380], [800, 380], [800, 440], [700, 440]]  # drawn on a wider image
    cams = [
        CameraSettings(id="cam-1", source=str(folder), zones=write_zones(tmp_path / "z1.yaml", zones_doc())),
        CameraSettings(id="cam-cut", source=str(cut), zones=write_zones(tmp_path / "zc.yaml", zones_doc())),
        CameraSettings(id="cam-bad", source=str(folder), zones=write_zones(tmp_path / "zb.yaml", bad)),
    ]
    s = settings(models_dir, tmp_path, cams)
    sink = Sink()
    stats = Pipeline(s, detectors={s.model: detector}, publisher=sink).run()

    episodes = sink.episodes("cam-1")
    assert sorted(p[0].zone_id for p in episodes.values()) == sorted(SPOTS)  # one episode per zone
    for phases in episodes.values():
        assert_whole(phases, "cleared")
        assert BAG_ON + 1 <= phases[0].video_ts <= BAG_ON + 6 and BAG_OFF <= phases[-1].video_ts <= BAG_OFF + 6

    cut_episodes = sink.episodes("cam-cut")
    assert len(cut_episodes) == 3
    for phases in cut_episodes.values():
        assert_whole(phases, "end_of_stream")
        assert phases[-1].video_ts < BAG_ON + 5
    # ended when its file ended, not when the worker stopped: before cam-1's bags were taken away
    order = [(e.camera_id, e.phase) for e in sink.events]
    assert max(i for i, x in enumerate(order) if x == ("cam-cut", "end")) < order.index(("cam-1", "end"))

    assert sink.episodes("cam-bad") == {}
    per = stats.per_camera
    assert per["cam-bad"]["state"] == "failed" and per["cam-bad"]["analysed"] == 0
    assert "zone 'z-gone'" in per["cam-bad"]["detail"] and "(800, 380)" in per["cam-bad"]["detail"]
    assert "768x576 frame" in per["cam-bad"]["detail"] and "frame_size" in per["cam-bad"]["detail"]
    assert per["cam-1"]["state"] == "ended" and per["cam-1"]["analysed"] == len(frames)
    lines = [json.loads(x) for x in s.events_out.read_text().splitlines()]
    assert {x["end_reason"] for x in lines if x["phase"] == "end"} == {"cleared", "end_of_stream"}


def test_zone_reload_ends_removed_and_redrawn_zones_and_keeps_the_unchanged_zones_episode(
    folder: Path, detector, models_dir: Path, tmp_path: Path
) -> None:
    zones = write_zones(tmp_path / "zones.yaml", zones_doc())
    s = settings(models_dir, tmp_path, [CameraSettings(id="cam-1", source=str(folder), zones=zones)])
    pipeline: Pipeline | None = None
    reloaded: list[float] = []

    def on_event(msg: EventMessage) -> None:
        started = {e.zone_id for e in sink.events if e.phase == "start"}
        if not reloaded and started == set(SPOTS):  # every zone has an open episode: edit and reload
            spots = dict(SPOTS)
            del spots["z-gone"]
            poly, bag = spots["z-moved"]
            spots["z-moved"] = ([[x - 5, y - 5] for x, y in poly], bag)
            write_zones(zones, zones_doc(spots))
            reloaded.append(msg.video_ts)
            pipeline.submit_command(CommandMessage(site_id="site-t", camera_id="cam-1", cmd="reload_zones"))

    sink = Sink(on_event)
    pipeline = Pipeline(s, detectors={s.model: detector}, publisher=sink)
    pipeline.run()
    assert reloaded and reloaded[0] < BAG_OFF - 2  # the bags still stood for a while after the reload

    by_zone: dict[str, list[EventMessage]] = {}
    for phases in sink.episodes().values():  # the first episode of each zone (a redrawn zone may raise more)
        by_zone.setdefault(phases[0].zone_id, phases)
    keep, gone, moved = by_zone["z-keep"], by_zone["z-gone"], by_zone["z-moved"]
    assert_whole(gone, "zone_removed")
    assert_whole(moved, "zone_changed")
    assert gone[-1].video_ts < BAG_OFF and moved[-1].video_ts < BAG_OFF
    # the unchanged zone's episode goes on under its event_id (no second start) and ends when the bag goes
    assert_whole(keep, "cleared")
    assert BAG_OFF <= keep[-1].video_ts <= BAG_OFF + 6
    assert [e.zone_id for e in sink.events if e.phase == "start"].count("z-keep") == 1
    assert "z-gone" not in pipeline.cameras["cam-1"].analyzer.zones


RESIZE = BAG_ON + 4.6  # after the starts, more than clear_s before the bags go


def test_a_change_of_frame_size_mid_episode_keeps_the_episode(
    frames, detector, models_dir: Path, tmp_path: Path
) -> None:
    """From RESIZE s on the camera sends 640x480 instead of 768x576, while the bags stand: the episodes go on
    (no end, no new start) and end when the bags are taken away; the bags are not learned as empty street."""
    folder = image_folder(tmp_path / "frames", frames, resize_from=RESIZE)
    zones = write_zones(tmp_path / "zones.yaml", zones_doc())
    s = settings(models_dir, tmp_path, [CameraSettings(id="cam-1", source=str(folder), zones=zones)])
    sink = Sink()
    stats = Pipeline(s, detectors={s.model: detector}, publisher=sink).run()
    assert stats.per_camera["cam-1"]["frame_size_changes"] == 1
    episodes = sink.episodes()
    assert sorted(p[0].zone_id for p in episodes.values()) == sorted(SPOTS)
    for phases in episodes.values():
        assert_whole(phases, "cleared")
        assert phases[0].video_ts < RESIZE and BAG_OFF <= phases[-1].video_ts <= BAG_OFF + 6


ZONE_LIVE = {"camera_id": "live-cam", "frame_size": [768, 576], "rules": RULES,
             "zones": [{"zone_id": "z-keep", "polygon": SPOTS["z-keep"][0], "violations": ["piled_goods"]}]}


@pytest.mark.slow
def test_a_stop_ends_open_episodes_and_a_restart_raises_what_still_stands_anew(
    frames, detector, models_dir: Path, tmp_path: Path
) -> None:
    """A live camera: the worker is stopped while a bag stands in a zone, so its episode ends (reason
    `stopped`: nothing is left open for central); restarted with the bag still there, the worker raises it
    again (a new event_id, on the empty street it saved), and that episode ends at the next stop too."""
    zones = write_zones(tmp_path / "zones.yaml", ZONE_LIVE)
    empty = frames[: int(BAG_ON * FPS)]  # the street before the bags
    standing = frames[int(BAG_ON * FPS): int(BAG_OFF * FPS)]

    def run(jpegs: list[np.ndarray]) -> list[EventMessage]:
        server = MjpegServer(fps=FPS, frames=[cv2.imencode(".jpg", f)[1].tobytes() for f in jpegs])
        try:
            s = settings(models_dir, tmp_path, [CameraSettings(id="live-cam", source=server.url, zones=zones)],
                         reference_dir=tmp_path / "refs", reference_interval_s=1.0)
            sink = Sink()
            pipeline = Pipeline(s, detectors={s.model: detector}, publisher=sink)
            sink.on_event = lambda msg: pipeline.stop() if msg.phase == "start" else None
            t = time.monotonic()
            pipeline.run(max_seconds=20)
            assert time.monotonic() - t < 19, "no episode started"
        finally:
            server.close()
        return sink.events

    first = run(empty + standing * 2)
    second = run(standing)
    for events in (first, second):
        assert [(e.phase, e.end_reason) for e in events] == [("start", None), ("end", "stopped")]
        assert events[0].event_id == events[1].event_id
    assert first[0].event_id != second[0].event_id
