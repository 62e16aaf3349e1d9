"""An RTSP camera on loopback for tests: testkit/rtsp_server.py (gst-rtsp-server, under the system Python)
serving JPEG frames in a loop. A test may stop it (the camera goes away) and start it again on the same port.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from testkit.ports import free_port

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"


class RtspMissing(RuntimeError):
    """gst-rtsp-server is not installed (Debian: gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good)."""


def available() -> str | None:
    """None when the server can run here, else why not."""
    probe = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import Gst; Gst.init(None); "
             "assert all(Gst.ElementFactory.find(e) for e in ('appsrc', 'rtpjpegpay'))")
    try:
        r = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{SYSTEM_PYTHON}: {exc}"
    if r.returncode != 0:
        return ("gst-rtsp-server with python3-gi is missing (scripts/setup.sh --test installs "
                "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good): " + (r.stderr.strip().splitlines() or [""])[-1])
    return None


def write_frames(frames: Iterable[np.ndarray], folder: Path, quality: int = 85) -> int:
    """Each frame as folder/00000.jpg, 00001.jpg, … (baseline JPEG, as RTP/JPEG carries it); how many."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for n, frame in enumerate(frames, 1):
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        (folder / f"{n - 1:05d}.jpg").write_bytes(buf.tobytes())
    return n


class RtspCamera:
    """The RTSP server process; `url` stays the same across stop() and start()."""

    def __init__(self, frames: Path, *, fps: int = 10, port: int | None = None, path: str = "/cam",
                 log: Path | None = None) -> None:
        self.frames, self.fps, self.path = frames, fps, path
        self.port = port or free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}{path}"
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> RtspCamera:
        first = cv2.imread(str(self.frames / "00000.jpg"))
        if first is None:
            raise FileNotFoundError(f"no {self.frames / '00000.jpg'}")
        height, width = first.shape[:2]
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 -- the child owns it
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), "--port", str(self.port), "--frames", str(self.frames),
             "--fps", str(self.fps), "--path", self.path, "--width", str(width), "--height", str(height)],
            stdout=subprocess.PIPE, stderr=out, text=True)
        if out is not subprocess.DEVNULL:
            out.close()
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0].startswith("READY"):
            self.stop()
            raise RtspMissing(f"the RTSP server did not start on port {self.port}: {box}")
        return self

    def stop(self) -> None:
        """SIGTERM (SIGKILL if it lingers): clients see the connection close, as when a camera goes away."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
