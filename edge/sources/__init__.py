"""Camera sources: video files, RTSP, HTTP (MJPEG / HLS), USB cameras, image folders and drone videos.

    source = open_source("rtsp://cam/1", camera_id="cam-1", sampler=Sampler(2.0)).start()
    frame = source.read(timeout=0.5)      # a sampled Frame, or None
    source.state                          # SourceState: connecting / live / stalled / reconnecting / ...

Spec forms: a video file path; a folder of images; `rtsp://…`, `rtsps://…`, `http(s)://…` (anything FFmpeg
reads: MJPEG, HLS .m3u8, …); `usb:0`, `0` or `/dev/video0` for a USB camera; a video file with
`kind="drone"` and a telemetry sidecar (CSV/JSON, see `edge.sources.telemetry`).
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2

from edge.sampler import Sampler
from edge.sources.captures import Capture, ImageFolderCapture, OpenCvCapture
from edge.sources.frame import Frame, SourceError, SourceState
from edge.sources.source import Source, SourceOptions
from edge.sources.telemetry import Telemetry, sidecar_for

__all__ = [
    "Frame",
    "Source",
    "SourceError",
    "SourceOptions",
    "SourceState",
    "Telemetry",
    "classify",
    "open_source",
    "probe_file",
]

_URL = re.compile(r"^(rtsps?|rtmp|https?|udp|tcp|srt)://", re.I)
_USB = re.compile(r"^(?:usb:)?(\d+)$|^(/dev/video\d+)$")


def classify(spec: str) -> str:
    """file | images | rtsp | http | usb (by the spec's form only; nothing is opened)."""
    m = _URL.match(spec)
    if m:
        scheme = m.group(1).lower()
        return "http" if scheme.startswith("http") else "rtsp"
    if _USB.match(spec):
        return "usb"
    if Path(spec).is_dir():
        return "images"
    return "file"


def probe_file(path: Path) -> None:
    """Raise SourceError unless `path` is a video whose first frame decodes."""
    if not path.exists():
        raise SourceError(f"video file {path} does not exist")
    if not path.is_file():
        raise SourceError(f"{path} is not a file")
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise SourceError(f"cannot open {path}: not a video OpenCV/FFmpeg can read")
        ok, image = cap.read()
        if not ok or image is None:
            raise SourceError(f"cannot decode the first frame of {path}: the file is empty or corrupt")
    finally:
        cap.release()


def open_source(
    spec: str,
    *,
    camera_id: str,
    kind: str | None = None,
    sampler: Sampler | None = None,
    options: SourceOptions | None = None,
    image_fps: float = 1.0,
    telemetry: str | Path | None = None,
) -> Source:
    """Build (not start) the source for `spec`. `kind="drone"` (or a telemetry file) adds per-frame geo.
    Files are checked here, so a missing or unreadable file raises SourceError before anything starts."""
    options = options or SourceOptions()
    form = classify(spec)
    if kind == "drone" or telemetry is not None:
        if form != "file":
            raise SourceError(f"a drone source must be a video file, got {spec!r}")
        tpath = Path(telemetry) if telemetry is not None else sidecar_for(Path(spec))
        if tpath is None:
            raise SourceError(
                f"drone video {spec} has no telemetry: pass one, or put {Path(spec).stem}.csv next to it"
            )
        tel = Telemetry.load(tpath)
        probe_file(Path(spec))
        return Source(
            camera_id,
            spec,
            "drone",
            lambda: _file(spec, options),
            live=False,
            sampler=sampler,
            options=options,
            telemetry=tel,
        )
    if form == "images":
        folder = Path(spec)
        ImageFolderCapture(folder, image_fps)  # fails now on an empty folder
        return Source(
            camera_id,
            spec,
            "images",
            lambda: ImageFolderCapture(folder, image_fps),
            live=False,
            sampler=sampler,
            options=options,
        )
    if form == "file":
        probe_file(Path(spec))
        return Source(
            camera_id,
            spec,
            "file",
            lambda: _file(spec, options),
            live=False,
            sampler=sampler,
            options=options,
        )
    if form == "usb":
        m = _USB.match(spec)
        assert m is not None
        target: str | int = int(m.group(1)) if m.group(1) is not None else m.group(2)
        return Source(
            camera_id,
            spec,
            "usb",
            lambda: OpenCvCapture(target, timeout_s=options.open_timeout_s),
            live=True,
            sampler=sampler,
            options=options,
        )
    # FFmpeg gives up on a silent stream after twice the stall time: `stalled` is reported first, then
    # the reader reconnects.
    timeout = max(2 * options.stall_timeout_s, 1.0)
    return Source(
        camera_id,
        spec,
        form,
        lambda: OpenCvCapture(spec, timeout_s=timeout),
        live=True,
        sampler=sampler,
        options=options,
    )


def _file(spec: str, options: SourceOptions) -> Capture:
    return OpenCvCapture(spec, timeout_s=options.open_timeout_s)
