"""Citizens' videos are checked by decoding every frame: wrong types, oversized, too long, truncated and polyglot
files are refused; what is accepted comes back re-encoded (H.264 MP4, no metadata) with JPEG key frames."""

from __future__ import annotations

import io
import zipfile

import av
import numpy as np
import pytest
from PIL import Image

from central.domain import videos
from central.domain.videos import MAX_BYTES, VideoRejected, VideoTooLarge, clean_video
from testkit.clips import small_clip, with_metadata
from testkit.photos import tiny_jpeg


@pytest.fixture(scope="module")
def clip() -> bytes:
    return small_clip(seconds=2.0, fps=10.0)


def test_a_phone_clip_is_reencoded_without_metadata(clip: bytes) -> None:
    tagged = with_metadata(clip, location="+31.2990+120.5853/", title="secret-title", make="PhoneMaker")
    assert b"secret-title" in tagged and b"+31.2990" in tagged
    clean = clean_video(tagged)
    for leak in (b"secret-title", b"31.2990", b"PhoneMaker", b"Lavf"):
        assert leak not in clean.clip
    with av.open(io.BytesIO(clean.clip)) as got:
        stream = got.streams.video[0]
        assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (160, 120)
        assert not {"location", "title", "make", "encoder", "creation_time"} & set(got.metadata)
        times = [float(f.time) for f in got.decode(stream)]
    # the clip keeps its length and motion (10 frames/s in, shown at their own times)
    assert len(times) == 20 and times[-1] == pytest.approx(1.9, abs=0.1)
    assert clean.seconds == pytest.approx(2.0, abs=0.1)
    frames = [np.asarray(Image.open(io.BytesIO(f))) for f in clean.frames]
    assert len(frames) == 3 and all(f.shape == (120, 160, 3) for f in frames)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1  # first and last differ: the box moved


def test_a_large_clip_is_scaled_down() -> None:
    clean = clean_video(small_clip(seconds=0.5, fps=10.0, size=(1280, 720)))
    assert clean.size == (videos.OUT_SIDE, 540)


def _free_box(payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + b"free" + payload


def _after_ftyp(data: bytes, box: bytes) -> bytes:
    n = int.from_bytes(data[:4], "big")
    return data[:n] + box + data[n:]


def test_hostile_files_are_refused(clip: bytes) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("x.html", "<script>alert(1)</script>")
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    hostile = {
        "a photo named .mp4": tiny_jpeg(),
        "a GIF": gif.getvalue(),
        "text": b"hello, this is not a video",
        "a real video in another container (AVI)": small_clip(seconds=0.5, fourcc="MJPG", suffix=".avi"),
        "truncated (cut in the media data)": clip[: len(clip) // 2],
        "truncated re-encoded (index first, media cut)": clean_video(clip).clip[:-200],
        "polyglot: a ZIP appended": clip + archive.getvalue(),
        "polyglot: a page in a padding box": _after_ftyp(clip, _free_box(b"<html><script>alert(1)</script>")),
        "a page before the video": b"<!doctype html>" + clip,
        "too long (31 s)": small_clip(seconds=31.0, fps=2.0, size=(64, 48)),
        "empty": b"",
    }
    for what, data in hostile.items():
        with pytest.raises(VideoRejected):
            clean_video(data)
            pytest.fail(what)
    assert clean_video(_after_ftyp(clip, _free_box(b"\x00" * 64))).clip  # honest padding is fine


def test_oversized_and_overworked_clips_are_refused(clip: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(VideoTooLarge):
        clean_video(clip + b"\x00" * (MAX_BYTES + 1 - len(clip)))
    # a clip whose frames add up to more pixels than the check will decode (the video's decompression bomb)
    monkeypatch.setattr(videos, "MAX_DECODED_PIXELS", 160 * 120 * 10)
    with pytest.raises(VideoRejected, match="too many pixels"):
        clean_video(clip)
