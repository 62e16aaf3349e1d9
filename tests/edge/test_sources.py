"""Sources: files, image folders, drone telemetry, broken files, and a live MJPEG stream that stalls."""

from __future__ import annotations

import itertools
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.sampler import Sampler
from edge.sources import (
    Frame,
    Source,
    SourceError,
    SourceOptions,
    SourceState,
    Telemetry,
    classify,
    open_source,
)
from edge.sources.captures import OpenCvCapture


def drain(source: Source, timeout: float = 60.0) -> list[Frame]:
    frames: list[Frame] = []
    deadline = time.monotonic() + timeout
    while not source.finished and time.monotonic() < deadline:
        frame = source.read(0.2)
        if frame is not None:
            frames.append(frame)
    source.stop()
    return frames


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("rtsp://10.0.0.5:554/stream1", "rtsp"),
        ("RTSPS://cam/1", "rtsp"),
        ("http://cam.local/video.mjpg", "http"),
        ("https://cdn/live/index.m3u8", "http"),
        ("usb:0", "usb"),
        ("2", "usb"),
        ("/dev/video1", "usb"),
        ("clips/a.mp4", "file"),
    ],
)
def test_classify(spec: str, kind: str) -> None:
    assert classify(spec) == kind


def test_video_file_sampled_by_its_own_timestamps(data_dir: Path) -> None:
    source = open_source(
        str(data_dir / "pets2009" / "vtest.avi"), camera_id="pets", sampler=Sampler(2.0)
    ).start()
    frames = drain(source)
    assert source.state is SourceState.ENDED and source.decoded == 795
    assert len(frames) == 159  # 795 frames at 10 fps → one every 0.5 s
    ts = np.array([f.ts for f in frames])
    assert ts[0] == pytest.approx(0.0, abs=0.11)
    assert np.allclose(np.diff(ts), 0.5, atol=0.01)
    assert [f.index for f in frames[:3]] == [0, 5, 10]
    assert frames[0].image.shape == (576, 768, 3) and frames[0].camera_id == "pets"
    assert source.to_unix(10.0) == pytest.approx(source.started_unix + 10.0)


def test_realtime_paces_a_file(data_dir: Path) -> None:
    source = open_source(
        str(data_dir / "pets2009" / "vtest.avi"),
        camera_id="pets",
        sampler=Sampler(1.0),
        options=SourceOptions(realtime=True),
    ).start()
    t0 = time.monotonic()
    frames = []
    while len(frames) < 3:
        frame = source.read(2.0)
        assert frame is not None
        frames.append(frame)
    source.stop()
    assert time.monotonic() - t0 >= 1.8  # frames at 0, 1, 2 s of video arrive over ~2 s of wall time


def test_image_folder(tmp_path: Path) -> None:
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"img_{i:02d}.png"), np.full((40, 60, 3), i * 40, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(str(tmp_path), camera_id="folder", image_fps=2.0).start()
    frames = drain(source)
    assert source.kind == "images" and source.state is SourceState.ENDED
    assert [f.ts for f in frames] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 40, 80, 120, 160]


def test_empty_image_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no images"):
        open_source(str(tmp_path), camera_id="x")


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "nope.mp4"), camera_id="x")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(SourceError, match="cannot open"):
        open_source(str(junk), camera_id="x")


def test_truncated_file_is_reported(data_dir: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.avi"
    cut.write_bytes((data_dir / "pets2009" / "vtest.avi").read_bytes()[:2_000_000])
    source = open_source(str(cut), camera_id="x", sampler=Sampler(2.0)).start()
    frames = drain(source)
    assert source.state is SourceState.ENDED
    assert 0 < len(frames) < 159
    assert "truncated" in source.detail and "of 795 frames" in source.detail


def test_drone_video_gets_geo_per_frame(data_dir: Path, tmp_path: Path) -> None:
    video = tmp_path / "flight.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(30):
        writer.write(np.full((48, 64, 3), i * 8, np.uint8))
    writer.release()
    (tmp_path / "flight.csv").write_text(
        "time,lat,lon,alt,heading\n0,31.2000,121.4000,50,350\n2,31.2002,121.4004,60,10\n"
    )
    source = open_source(str(video), camera_id="drone-1", kind="drone", sampler=Sampler(1.0)).start()
    frames = drain(source)
    assert source.kind == "drone" and len(frames) == 3
    mid = frames[1]
    assert mid.ts == pytest.approx(1.0, abs=0.01)
    assert mid.geo is not None
    assert mid.geo.lat == pytest.approx(31.2001, abs=1e-6) and mid.geo.lon == pytest.approx(
        121.4002, abs=1e-6
    )
    assert mid.geo.alt_m == pytest.approx(55.0, abs=0.1)
    assert mid.telemetry["heading"] == pytest.approx(0.0, abs=0.1)  # 350° → 10° passes through north


def test_drone_without_telemetry_or_with_bad_telemetry(data_dir: Path, tmp_path: Path) -> None:
    video = str(data_dir / "pets2009" / "vtest.avi")
    with pytest.raises(SourceError, match="no telemetry"):
        open_source(video, camera_id="d", kind="drone")
    bad = tmp_path / "t.json"
    bad.write_text('[{"time": 0, "lat": 31.2}]')
    with pytest.raises(SourceError, match="missing column 'lon'"):
        open_source(video, camera_id="d", telemetry=bad)


def test_telemetry_json_with_unix_times(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        '{"rows": [{"ts": 1700000010, "latitude": 10, "lng": 20},'
        ' {"ts": 1700000000, "latitude": 0, "lng": 0}]}'
    )
    geo, heading = Telemetry.load(path).at(5.0)
    assert (geo.lat, geo.lon, heading) == (5.0, 10.0, None)


class MjpegServer:
    """A real HTTP multipart-MJPEG camera; `paused` keeps connections open but sends nothing. It sends
    `frames` (JPEGs) in a loop, by default one synthetic picture."""

    def __init__(self, fps: float = 15.0, frames: list[bytes] | None = None) -> None:
        self.paused = threading.Event()
        self.closed = False
        self.connections = 0
        if frames is None:
            image = np.full((120, 160, 3), 90, np.uint8)
            cv2.circle(image, (80, 60), 30, (255, 255, 255), -1)
            frames = [cv2.imencode(".jpg", image)[1].tobytes()]
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for jpeg in itertools.cycle(frames):
                        if server.closed:
                            break
                        while server.paused.is_set() and not server.closed:
                            time.sleep(0.05)
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                            + jpeg
                            + b"\r\n"
                        )
                        time.sleep(1 / fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.closed = True
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(predicate, timeout: float, source: Source) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        source.read(0.05)  # keep consuming, like the pipeline does
        if predicate():
            return
    raise AssertionError(f"timed out; history: {[(s.value, d) for _, s, d in source.history]}")


@pytest.mark.slow
def test_mjpeg_stream_that_stalls_is_reported_and_reconnected() -> None:
    server = MjpegServer()
    source = open_source(
        server.url,
        camera_id="live",
        sampler=Sampler(),
        options=SourceOptions(stall_timeout_s=1.0, backoff_initial_s=0.2),
    ).start()
    try:
        assert source.kind == "http" and source.live
        wait_for(lambda: source.decoded >= 10, 10, source)
        assert source.state is SourceState.LIVE
        server.paused.set()  # the camera goes silent but keeps the connection
        wait_for(lambda: source.state is SourceState.STALLED, 5, source)
        decoded_while_stalled = source.decoded
        time.sleep(0.5)
        # no invented frames: nothing decoded while silent, and what is still queued came before the stall
        assert source.decoded == decoded_while_stalled
        while (late := source.read()) is not None:
            assert late.index < decoded_while_stalled
        wait_for(lambda: source.state is SourceState.RECONNECTING, 5, source)
        server.paused.clear()  # the camera comes back
        wait_for(
            lambda: source.state is SourceState.LIVE and source.decoded > decoded_while_stalled + 5,
            10,
            source,
        )
        states = [s for _, s, _ in source.history]
        assert states[:2] == [SourceState.CONNECTING, SourceState.LIVE]
        i = states.index(SourceState.STALLED)
        assert states[i + 1] is SourceState.RECONNECTING and SourceState.LIVE in states[i + 2 :]
        assert server.connections >= 2 and source.reconnects >= 1
        frame = source.read(1.0)
        assert frame is not None and frame.image.shape == (120, 160, 3) and frame.image.mean() > 50
    finally:
        source.stop()
        server.close()


def test_unreachable_stream_gives_up_after_max_reconnects() -> None:
    source = open_source(
        "http://127.0.0.1:9/none.mjpg",
        camera_id="gone",
        options=SourceOptions(stall_timeout_s=0.5, backoff_initial_s=0.05, max_reconnects=2),
    )
    source.start()
    deadline = time.monotonic() + 20
    while source.state is not SourceState.FAILED and time.monotonic() < deadline:
        time.sleep(0.05)
    source.stop()
    assert source.state is SourceState.FAILED and "gave up" in source.detail
    assert source.read() is None


def test_looping_a_file_keeps_stream_time_running(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((8, 8, 3), i * 50, np.uint8))
    source = open_source(str(tmp_path), camera_id="loop", options=SourceOptions(loop=True)).start()
    frames = []
    while len(frames) < 7:
        frame = source.read(2.0)
        assert frame is not None
        frames.append(frame)
    source.stop()
    assert [f.ts for f in frames] == pytest.approx([0, 1, 2, 3, 4, 5, 6])
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 50, 100, 0, 50, 100, 0]


class FlakyReader:
    """A real MJPEG capture whose opening or grabbing raises (not a SourceError: an FFmpeg/driver crash) while
    the test says so."""

    faults = {"open": 0, "grab": 0}

    def __init__(self, url: str) -> None:
        if self.faults["open"] > 0:
            self.faults["open"] -= 1
            raise RuntimeError("decoder crashed while opening")
        self.cap = OpenCvCapture(url, timeout_s=2.0)
        self.fps, self.frame_count = self.cap.fps, 0

    def grab(self) -> bool:
        if self.faults["grab"] > 0:
            self.faults["grab"] -= 1
            raise RuntimeError("corrupt packet")
        return self.cap.grab()

    def retrieve(self):
        return self.cap.retrieve()

    def position_s(self):
        return None

    def release(self) -> None:
        self.cap.release()


def test_a_live_reader_that_raises_reconnects_with_capped_backoff_reports_why_and_recovers() -> None:
    """Before, any exception from the reader marked the camera failed for good."""
    server = MjpegServer()
    FlakyReader.faults.update(open=0, grab=0)
    source = Source("live", server.url, "http", lambda: FlakyReader(server.url), live=True, sampler=Sampler(),
                    options=SourceOptions(stall_timeout_s=2.0, backoff_initial_s=0.1, backoff_max_s=0.2))
    source.start()
    try:
        wait_for(lambda: source.decoded >= 5, 10, source)
        FlakyReader.faults.update(open=6, grab=1)  # a crash mid-stream, then six failed re-opens
        t0 = time.monotonic()
        wait_for(lambda: source.attempts >= 3, 10, source)
        assert source.state is SourceState.RECONNECTING
        said = source.describe()
        assert said.startswith("reconnecting, attempt ") and "decoder crashed while opening" in said
        assert source.stats()["last_error"] == source.last_error
        decoded = source.decoded
        wait_for(lambda: source.state is SourceState.LIVE and source.decoded > decoded + 5, 10, source)
        # 7 waits: 0.1 s then capped at 0.2 s (uncapped doubling would take 0.1 + 0.2 + ... + 6.4 = 12.7 s)
        assert time.monotonic() - t0 < 5.0
        assert source.reader_errors == 7 and source.attempts == 0 and source.describe() == "live"
        assert SourceState.FAILED not in [s for _, s, _ in source.history]
    finally:
        source.stop()
        server.close()


def test_a_file_whose_reader_raises_fails(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((8, 8, 3), i, np.uint8))

    class Broken:
        fps, frame_count = 1.0, 3

        def grab(self) -> bool:
            raise RuntimeError("disk read error")

    source = Source("f", str(tmp_path), "images", Broken, live=False).start()
    deadline = time.monotonic() + 5
    while not source.finished and time.monotonic() < deadline:
        time.sleep(0.02)
    assert source.state is SourceState.FAILED and "disk read error" in source.detail
    source.stop()


def test_state_history_is_bounded() -> None:
    source = Source("flap", "x", "rtsp", lambda: None, live=True, options=SourceOptions(history_size=10))
    for i in range(1000):  # a camera flapping for days
        source._set_state(SourceState.LIVE if i % 2 else SourceState.RECONNECTING, f"flap {i}")
    assert len(source.history) == 10 and source.history[-1][2] == "flap 999"
