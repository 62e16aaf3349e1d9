"""Short videos citizens upload with a report: MP4 or MOV (what phone cameras record), checked by decoding
every frame with FFmpeg (PyAV), never by name or declared type.

Refused: anything over `MAX_BYTES`, not an ISO base-media file (MP4/MOV) whose top-level boxes cover the file
exactly (bytes after the last box, a box running past the end: truncated or a polyglot), a known marker of
another file type or of active content outside the media data (`photos.SMUGGLED`), a container FFmpeg cannot
read, no video track, a codec outside `CODECS`, a clip longer than `MAX_SECONDS` by its decoded frames' own
times (not the header's claim), more decoded pixels than `MAX_DECODED_PIXELS` (the video's decompression
bomb), fewer frames than the header promises (cut short).

Kept: a re-encoded clip (H.264 in MP4, `OUT_SIDE` px, at most `OUT_FPS` frames/s, no audio, no metadata: the
new file is written from pixels with FFmpeg's bit-exact flags, so no GPS, maker, creation time or encoder tag
rides along), and `KEY_FRAMES` JPEGs (first, middle, last) for the operator queue."""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image

from central.domain.errors import DomainError
from central.domain.photos import SMUGGLED

MAX_BYTES = 20 * 1024 * 1024
MAX_SECONDS = 30.0
MAX_SIDE_IN = 4096  # a 4K phone clip is the largest honest upload
MAX_DECODED_PIXELS = int(MAX_SECONDS * 30 * 1920 * 1080)  # 30 s of 1080p at 30 frames/s
CODECS = {"h264", "hevc", "mpeg4", "vp9", "av1"}
OUT_SIDE = 960
OUT_FPS = 15
KEY_FRAMES = 3
# top-level boxes an MP4/MOV file may carry (ISO/IEC 14496-12, QuickTime)
BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"udta", b"pdin", b"styp",
         b"sidx", b"moof", b"mfra", b"prft", b"emsg"}


class VideoRejected(DomainError):
    """Not a video we accept; the message says why (safe to show)."""

    status = 422


class VideoTooLarge(VideoRejected):
    status = 413


@dataclass
class CleanVideo:
    clip: bytes  # H.264 MP4, no metadata
    frames: list[bytes] = field(default_factory=list)  # JPEG key frames: first, middle, last
    seconds: float = 0.0
    size: tuple[int, int] = (0, 0)  # the clip's width, height


def _boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """The file's top-level boxes (type, payload start, end); VideoRejected unless they tile the file."""
    out, i = [], 0
    while i < len(data):
        if i + 8 > len(data):
            raise VideoRejected("not an MP4 or MOV video" if i == 0 else
                                "the file ends inside a box header (cut short, or other data appended)")
        size, kind = int.from_bytes(data[i:i + 4], "big"), data[i + 4:i + 8]
        head = 8
        if size == 1:  # 64-bit size follows
            if i + 16 > len(data):
                raise VideoRejected("the file ends inside a box header")
            size, head = int.from_bytes(data[i + 8:i + 16], "big"), 16
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - i
        if kind not in BOXES:
            raise VideoRejected("not an MP4 or MOV video" if i == 0 else "the file carries other content")
        if size < head or i + size > len(data):
            raise VideoRejected("the video is cut short (a box runs past the end of the file)")
        out.append((kind, i + head, i + size))
        i += size
    if not out or out[0][0] != b"ftyp":
        raise VideoRejected("not an MP4 or MOV video")
    return out


def check_structure(data: bytes) -> None:
    """Refuse what is not a plain MP4/MOV: see the module's docstring."""
    for kind, start, end in _boxes(data):
        if kind != b"mdat" and SMUGGLED.search(data, start, end):
            raise VideoRejected("the file carries other content besides the video")


def _scaled(width: int, height: int) -> tuple[int, int]:
    k = min(1.0, OUT_SIDE / max(width, height))
    return max(2, int(width * k) // 2 * 2), max(2, int(height * k) // 2 * 2)


def _jpeg(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=85)
    return out.getvalue()


def clean_video(data: bytes, *, max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS) -> CleanVideo:
    """The re-encoded clip and its key frames, or VideoRejected."""
    if not data:
        raise VideoRejected("empty upload")
    if len(data) > max_bytes:
        raise VideoTooLarge(f"video too large ({len(data)} bytes; at most {max_bytes})")
    check_structure(data)
    try:
        return _transcode(data, max_seconds)
    except VideoRejected:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise VideoRejected(f"not a video we can read: {type(exc).__name__}") from None


def _transcode(data: bytes, max_seconds: float) -> CleanVideo:
    with av.open(io.BytesIO(data), "r") as src, tempfile.TemporaryDirectory(prefix="doorline-video-") as tmp:
        if not {"mov", "mp4"} & set(src.format.name.split(",")):
            raise VideoRejected(f"not an MP4 or MOV video ({src.format.name})")
        if not src.streams.video:
            raise VideoRejected("the file has no video track")
        stream = src.streams.video[0]
        codec = stream.codec_context.name
        if codec not in CODECS:
            raise VideoRejected(f"video codec {codec} is not accepted")
        w, h = stream.codec_context.width, stream.codec_context.height
        if not (0 < w <= MAX_SIDE_IN and 0 < h <= MAX_SIDE_IN):
            raise VideoRejected(f"video frame size {w}×{h} is not accepted")
        stream.thread_type = "AUTO"
        out_path = Path(tmp) / "clip.mp4"  # faststart (index first, for the browser) rewrites the file by name
        dst = av.open(str(out_path), "w", format="mp4", options={"movflags": "+faststart", "fflags": "+bitexact"})
        try:
            result = _reencode(src, stream, dst, max_seconds)
        except BaseException:
            with contextlib.suppress(Exception):  # the refusal matters, not a half-written file's trailer
                dst.close()
            raise
        dst.close()
        return CleanVideo(clip=out_path.read_bytes(), frames=result.frames, seconds=result.seconds,
                          size=result.size)


def _reencode(src, stream, dst, max_seconds: float) -> CleanVideo:
    """Decode every frame of `stream` (checking time, size and count as it goes), write the kept ones to `dst`;
    the key frames as JPEGs (the returned clip is empty: the caller reads the file)."""
    out_w, out_h = _scaled(stream.codec_context.width, stream.codec_context.height)
    promised = stream.frames  # from the header; 0 when unknown
    header_s = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
    enc = dst.add_stream("libx264", rate=OUT_FPS)
    enc.width, enc.height, enc.pix_fmt = out_w, out_h, "yuv420p"
    enc.options = {"preset": "veryfast", "crf": "26", "flags": "+bitexact"}
    decoded = pixels = next_pts = 0
    first: float | None = None
    last_t, wanted = 0.0, [0.0, header_s / 2]
    keys: list[np.ndarray] = []
    last_rgb: np.ndarray | None = None
    for frame in src.decode(stream):
        decoded += 1
        pixels += frame.width * frame.height
        if frame.width > MAX_SIDE_IN or frame.height > MAX_SIDE_IN or pixels > MAX_DECODED_PIXELS:
            raise VideoRejected("the video has too many pixels to check (shorter or smaller, please)")
        t = float(frame.time) if frame.time is not None else decoded / OUT_FPS
        first = t if first is None else first
        last_t = t - first
        if last_t > max_seconds:
            raise VideoRejected(f"the video is longer than {max_seconds:.0f} s")
        pts = round(last_t * OUT_FPS)  # the clip's clock ticks OUT_FPS times a second; slower sources leave gaps
        if pts < next_pts:
            continue  # more frames per second than the clip keeps
        last_rgb = frame.reformat(width=out_w, height=out_h, format="rgb24").to_ndarray()
        if len(keys) < len(wanted) and last_t >= wanted[len(keys)]:
            keys.append(last_rgb)
        out = av.VideoFrame.from_ndarray(last_rgb, format="rgb24")
        out.pts, next_pts = pts, pts + 1
        for packet in enc.encode(out):
            dst.mux(packet)
    if last_rgb is None:
        raise VideoRejected("the video has no frame that decodes")
    if promised and decoded < promised * 0.95:
        raise VideoRejected(f"the video is cut short ({decoded} of {promised} frames decode)")
    for packet in enc.encode():
        dst.mux(packet)
    dst.metadata.clear()
    keys = [*keys, last_rgb][:KEY_FRAMES]  # first, middle (by the header), the last frame decoded
    return CleanVideo(clip=b"", frames=[_jpeg(k) for k in keys], seconds=round(last_t + 1 / OUT_FPS, 2),
                      size=(out_w, out_h))
