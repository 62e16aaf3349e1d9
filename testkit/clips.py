"""Small real video clips for tests that upload videos, made with OpenCV's VideoWriter (uploads are decoded,
so a few header bytes would be refused), and hostile variants of them."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np


def small_clip(seconds: float = 2.0, fps: float = 10.0, size: tuple[int, int] = (160, 120), *,
               fourcc: str = "mp4v", suffix: str = ".mp4") -> bytes:
    """A clip of a red box crossing a grey street: MPEG-4 in MP4 by default (`fourcc`/`suffix` for others)."""
    with tempfile.TemporaryDirectory(prefix="doorline-clip-") as tmp:
        path = Path(tmp) / f"clip{suffix}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        assert writer.isOpened(), f"OpenCV cannot write {fourcc} into {suffix}"
        for i in range(round(seconds * fps)):
            frame = np.full((size[1], size[0], 3), 90, np.uint8)
            x = i * 4 % max(1, size[0] - 40)
            cv2.rectangle(frame, (x, size[1] // 4), (x + 40, size[1] // 4 + 30), (30, 40, 220), -1)
            writer.write(frame)
        writer.release()
        return path.read_bytes()


def with_metadata(clip: bytes, **tags: str) -> bytes:
    """The same clip remuxed (PyAV) with container tags, as a phone writes its GPS position and model."""
    import io

    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(clip)) as src, av.open(out, "w", format="mov") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        dst.metadata.update(tags)
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            dst.mux(packet)
    return out.getvalue()
