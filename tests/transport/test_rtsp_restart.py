"""An RTSP camera that goes away for 10 s and comes back (issue 15): the edge reports the stall, reconnects
with backoff, keeps its heartbeats going, and every event it sent is stored once.

Real parts: GStreamer's RTSP server on loopback (testkit.rtsp) serving the bag clip (PETS2009 footage with a
real rubbish bag in the bag zone from 6 s to 13 s, looped) at 10 fps as RTP/JPEG, the real `doorline-edge run`
reading it through OpenCV/FFmpeg with the real detector, a real Mosquitto, and central's ingest on SQLite."""

from __future__ import annotations

import re
import time
from pathlib import Path

import cv2
import pytest
from sqlalchemy import select

from central.orm.events import Event, EventPhaseRecord
from testkit import rtsp
from testkit.footage import bag_zones, make_bag_clip
from testkit.reliability import record
from testkit.transport import SITE, Observer, count, edge_process, stop_process, wait_for, write_yaml_atomically
from wire import topics
from wire.schema import EventMessage, StatusMessage

pytestmark = [pytest.mark.slow, pytest.mark.reliability]  # ~70 s: two episodes of the clip around the outage

OUTAGE_S = 10.0


@pytest.fixture(scope="module")
def camera_frames(data_dir: Path, tmp_path_factory) -> Path:
    why = rtsp.available()
    if why:
        pytest.fail(why)
    d = tmp_path_factory.mktemp("rtsp")
    clip = make_bag_clip(data_dir, d / "bag.avi", seconds=24)
    cap = cv2.VideoCapture(str(clip))

    def frames():
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame

    try:
        assert rtsp.write_frames(frames(), d / "frames") == 240
    finally:
        cap.release()
    return d / "frames"


def _state(status: StatusMessage) -> str:
    """cam-1's source state in a heartbeat (`source_state` reads `cam-1=live`)."""
    return dict(part.split("=", 1) for part in status.source_state.split(", ") if "=" in part).get("cam-1", "")


def _attempt(status: StatusMessage) -> int:
    """The reconnect attempt the heartbeat's detail names (`cam-1: reconnecting, attempt 3: …`), else 0."""
    m = re.search(r"attempt (\d+)", status.detail)
    return int(m.group(1)) if m else 0


def test_an_rtsp_camera_stopped_for_10s_and_restarted(camera_frames, models_dir, broker, topic_prefix,
                                                       make_central, tmp_path) -> None:
    camera = rtsp.RtspCamera(camera_frames, fps=10, log=tmp_path / "rtsp.log").start()
    zones = tmp_path / "zones.yaml"
    write_yaml_atomically(zones, bag_zones("z-bag"))
    central = make_central(broker, topic_prefix)
    f = central.session_factory
    observer = Observer(broker, "rtsp-observer", [topics.topic(SITE, "cam-1", "status", topic_prefix),
                                                   topics.topic(SITE, "cam-1", "event", topic_prefix)])
    work = tmp_path / "edge"
    config = {
        "edge_id": "edge-rtsp", "site_id": SITE, "model": str(models_dir / "yolox_nano.onnx"),
        "analysis_fps": 5.0, "status_interval_s": 1.0, "stall_timeout_s": 2.0, "backoff_max_s": 4.0,
        "cameras": [{"id": "cam-1", "source": camera.url, "zones": str(zones)}],
        "mqtt": {"host": broker.host, "port": broker.port, "prefix": topic_prefix},
        "spool_path": str(work / "spool"), "reference_dir": None,
    }
    edge = edge_process(config, work)

    def log() -> str:
        p = work / "edge.log"
        return p.read_text(errors="replace")[-4000:] if p.exists() else "(no log)"

    def phases() -> list[str]:
        with f() as s:
            return list(s.scalars(select(EventPhaseRecord.phase).order_by(EventPhaseRecord.received_at)))

    def statuses(since: float = 0.0, until: float = float("inf")) -> list[tuple[float, StatusMessage]]:
        return [(t, m) for t, m in observer.of(StatusMessage) if since <= t <= until and m.state != "offline"]

    try:
        try:
            wait_for(lambda: any(_state(m) == "live" for _, m in statuses()), 60, "the camera live")
            # the first time round the clip: the bag is set down (6 s) and taken away (13 s)
            wait_for(lambda: {"start", "end"} <= set(phases()), 60, "an episode before the outage")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; edge log:\n{log()}") from None
        before = len(phases())
        t_down = time.monotonic()
        camera.stop()
        time.sleep(OUTAGE_S)
        t_up = time.monotonic()
        camera.start()
        try:
            wait_for(lambda: any(_state(m) == "live" for _, m in statuses(since=t_up)), 40,
                     "the camera live again")
            # the restarted server plays the clip from its start: the bag comes again, a second episode
            wait_for(lambda: phases().count("end") >= 2, 60, "an episode after the outage")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; edge log:\n{log()}") from None
        t_live = next(t for t, m in statuses(since=t_up) if _state(m) == "live")
        assert edge.poll() is None, log()
    finally:
        stop_process(edge, timeout=40)  # SIGTERM: the edge ends its episodes and drains its spool
        camera.stop()
    time.sleep(1.0)  # the last messages through central
    observer.close()
    assert edge.returncode == 0, log()
    down = statuses(t_down, t_up)
    states = [_state(m) for _, m in down]
    # reported: the stall or the lost stream shows in the heartbeat while the camera is away
    assert any(s in ("stalled", "reconnecting") for s in states), states
    assert any(m.state == "degraded" for _, m in down), [m.state for _, m in down]
    assert not any(s == "live" for s in states[2:]), states  # (a heartbeat already on its way may say live)
    # heartbeats went on: one a second, allowing for a slow machine
    assert len(down) >= OUTAGE_S / 2, f"{len(down)} heartbeats in {OUTAGE_S:g} s"
    # reconnected with backoff: attempts came at growing intervals (0.5, 1, 2, 4, 4 s), not one every 0.5 s
    attempts = max((_attempt(m) for _, m in down), default=0)
    assert 2 <= attempts <= 7, (attempts, [m.detail for _, m in down])
    sent = {m.message_id for _, m in observer.of(EventMessage)}
    with f() as s:
        stored = set(s.scalars(select(EventPhaseRecord.message_id)))
        episodes = s.scalar(select(Event.event_id).limit(1))
    assert sent and sent <= stored, f"lost: {sorted(sent - stored)}"
    assert count(f, EventPhaseRecord) == len(stored)
    assert episodes is not None and phases().count("start") == phases().count("end"), phases()
    record("rtsp-restart", outage_s=round(t_up - t_down, 1), reconnected_after_restart_s=round(t_live - t_up, 1),
           reconnect_attempts_while_down=attempts, heartbeats_while_down=len(down),
           events_sent=len(sent), events_stored=len(stored), lost=len(sent - stored),
           phases_before_outage=before, phases_after=len(phases()) - before)
