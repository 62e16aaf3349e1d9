"""Frame readers behind every source kind, all with the same grab / retrieve split.

`grab()` decodes (or fetches) the next frame and says whether there was one; `retrieve()` converts the
grabbed frame to a BGR array. Only sampled frames are retrieved.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edge.sources.frame import SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


class Capture(Protocol):
    fps: float  # native rate (0 when unknown)
    frame_count: int  # 0 when unknown (live)

    def grab(self) -> bool: ...
    def retrieve(self) -> np.ndarray | None: ...
    def position_s(self) -> float | None: ...
    def release(self) -> None: ...


class OpenCvCapture:
    """cv2.VideoCapture over a file, RTSP / HTTP URL (FFmpeg back-end) or a USB device index."""

    def __init__(self, target: str | int, *, timeout_s: float = 10.0) -> None:
        self.target = target
        if isinstance(target, int) or target.startswith("/dev/video"):
            cap = cv2.VideoCapture(target)  # the platform's camera API (V4L2 on Linux)
        else:
            ms = int(timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
            cap = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open {target!r}: not a readable video, stream or camera")
        self.cap = cap
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if math.isfinite(fps) and 0 < fps < 1000 else 0.0
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(count) if math.isfinite(count) and count > 0 else 0

    def grab(self) -> bool:
        return bool(self.cap.grab())

    def retrieve(self) -> np.ndarray | None:
        ok, image = self.cap.retrieve()
        return image if ok and image is not None and image.size else None

    def position_s(self) -> float | None:
        ms = self.cap.get(cv2.CAP_PROP_POS_MSEC)
        return ms / 1000.0 if math.isfinite(ms) and ms >= 0 else None

    def release(self) -> None:
        self.cap.release()


class ImageFolderCapture:
    """The images of a folder in name order, played at `fps`: their stream time (what the dwell and clear
    timers run on) is index / fps. Their unix stamps are the images' file times (`capture_times`: a camera
    or an upload that keeps times, e.g. `cp -p`, `rsync -t`, writes the capture time there) when those rise
    with the name order; otherwise (`capture_times` None: files copied out of order, or all with one time)
    the run's start plus index / fps, as for a video file."""

    def __init__(self, folder: Path, fps: float = 1.0) -> None:
        if not folder.is_dir():
            raise SourceError(f"image folder {folder} does not exist")
        self.paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise SourceError(f"image folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self.fps = fps
        self.frame_count = len(self.paths)
        self.capture_times = _file_times(self.paths)
        self._i = -1

    def grab(self) -> bool:
        self._i += 1
        return self._i < len(self.paths)

    def retrieve(self) -> np.ndarray | None:
        image = cv2.imread(str(self.paths[self._i]), cv2.IMREAD_COLOR)
        if image is None:
            log.warning("skipping %s: not a decodable image", self.paths[self._i])
        return image

    def position_s(self) -> float | None:
        return self._i / self.fps

    def release(self) -> None:
        self._i = len(self.paths)


def _file_times(paths: list[Path]) -> list[float] | None:
    """The files' modification times if they rise strictly with the name order, else None."""
    try:
        times = [p.stat().st_mtime for p in paths]
    except OSError:
        return None
    if len(times) > 1 and all(b > a for a, b in zip(times, times[1:], strict=False)):
        return times
    return times if len(times) == 1 else None
