"""Evidence JPEGs: decodable, under the byte cap, hash matching, zone and boxes drawn, files written."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.evidence import ZONE_COLOUR, EvidenceOptions, EvidenceWriter, crop_regions, encode_bounded
from wire.schema import EvidenceMessage, decode, encode


@pytest.fixture(scope="module")
def frame(data_dir: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    ok, image = cap.read()
    cap.release()
    assert ok
    return image


def test_encode_bounded_fits_noise_under_the_cap() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)  # incompressible
    data, w, h = encode_bounded(noise, quality=95, max_side=1920, max_bytes=60_000)
    assert len(data) <= 60_000
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (h, w, 3) and w < 1920  # had to shrink
    assert abs(w / h - 16 / 9) < 0.02


def test_encode_bounded_respects_max_side(frame: np.ndarray) -> None:
    data, w, h = encode_bounded(frame, quality=80, max_side=400, max_bytes=500_000)
    assert max(w, h) == 400
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (h, w, 3)


def test_bundle_for_an_event(frame: np.ndarray, tmp_path: Path) -> None:
    writer = EvidenceWriter(
        site_id="site-1",
        out_dir=tmp_path,
        options=EvidenceOptions(quality=80, max_side=800, max_bytes=120_000),
    )
    polygon = np.array([[20, 262], [165, 262], [165, 322], [20, 322]], float)
    boxes = np.array([[40, 270, 130, 315], [60, 280, 90, 300]], np.float32)
    bundle = writer.make(
        frame,
        camera_id="cam-1",
        event_id="ev-1",
        unix_ts=1_700_000_000.0,
        polygon=polygon,
        boxes=boxes,
        title="zone z-1 piled_goods start",
        name="0-start",
        video_ts=12.5,
    )
    kinds = [m.kind for m in bundle.messages]
    assert kinds == ["annotated", "clean", "crop", "crop"]
    assert len(bundle.paths) == 4 and all(p.is_file() for p in bundle.paths)
    assert bundle.annotated_path == bundle.paths[0]
    for msg, path in zip(bundle.messages, bundle.paths, strict=True):
        data = path.read_bytes()
        assert msg.data() == data and len(data) <= 120_000
        assert msg.sha256 == hashlib.sha256(data).hexdigest()
        assert isinstance(decode(encode(msg)), EvidenceMessage)  # valid on the wire
        assert msg.event_id == "ev-1" and msg.camera_id == "cam-1"
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape[:2] == (msg.height, msg.width)
    annotated = cv2.imdecode(np.frombuffer(bundle.messages[0].data(), np.uint8), cv2.IMREAD_COLOR)
    clean = cv2.imdecode(np.frombuffer(bundle.messages[1].data(), np.uint8), cv2.IMREAD_COLOR)
    # The caption is a band added above the picture: the frame below it is whole (same width, full height).
    band = annotated.shape[0] - frame.shape[0]
    assert annotated.shape[1] == frame.shape[1] and 20 <= band <= 120 and clean.shape[1] == frame.shape[1]
    assert annotated[:band].std() > 20  # the band carries text
    # The zone outline is drawn in the annotated copy only: pixels along its top edge turn amber.
    edge = annotated[band + 262, 25:160].astype(int)
    assert np.mean(np.abs(edge - np.array(ZONE_COLOUR)).sum(axis=1) < 120) > 0.8
    cband = clean.shape[0] - frame.shape[0]
    assert np.mean(np.abs(clean[cband + 262, 25:160].astype(int) - np.array(ZONE_COLOUR)).sum(axis=1) < 120) < 0.2
    # ... and the clean copy is the frame itself below its band (only JPEG noise), caption nowhere over it.
    assert np.abs(clean[cband:].astype(int) - frame.astype(int)).mean() < 4


def test_a_small_objects_crop_is_the_frame_with_context_and_no_caption_over_it(frame: np.ndarray) -> None:
    """A 24 px object: its crop is at least crop_min_side a side with the object in it, and every pixel over
    the object's box is the source frame's own (before: a 22 px caption band covered most of a 24 px crop)."""
    writer = EvidenceWriter(site_id="s", options=EvidenceOptions(crop_min_side=128))
    box = np.array([[300, 400, 324, 424]], np.float32)  # 24 x 24 px
    pictures = writer.pictures(frame, polygon=np.array([[280, 380], [350, 380], [350, 440]], float), boxes=box,
                               caption=["2026-12-07 10:00:00 UTC  camera c", "zone z piled_goods start"],
                               crop_caption=["c", "2026-12-07 10:00:00"])
    assert [k for k, _ in pictures] == ["annotated", "clean", "crop"]
    crop = pictures[2][1]
    (xa, ya, xb, yb), = crop_regions(frame.shape, box, limit=1, pad=0.15, min_side=128)
    assert (xb - xa, yb - ya) == (128, 128) and xa <= 300 and xb >= 324 and ya <= 400 and yb >= 424
    assert crop.shape == (128, 128, 3)  # too narrow for a legible caption: none (the full frames carry it)
    # the crop's own pixels (the caption, if any, is a band below them) equal the frame's, object and context
    np.testing.assert_array_equal(crop[: yb - ya], frame[ya:yb, xa:xb])
    np.testing.assert_array_equal(crop[400 - ya : 424 - ya, 300 - xa : 324 - xa], frame[400:424, 300:324])
    # the clean full frame is untouched below its band; the annotated one has its caption above the frame
    clean = pictures[1][1]
    np.testing.assert_array_equal(clean[clean.shape[0] - frame.shape[0] :], frame)
    annotated = pictures[0][1]
    top = annotated.shape[0] - frame.shape[0]
    np.testing.assert_array_equal(annotated[top:][:300], frame[:300])  # rows above the zone: nothing drawn
    # near a frame corner the crop is shifted inside the frame, still 128 a side, still holding the object
    (xa, ya, xb, yb), = crop_regions(frame.shape, np.array([[2, 560, 20, 574]], np.float32), limit=1, pad=0.15,
                                     min_side=128)
    assert (xa, xb) == (0, 128) and (ya, yb) == (576 - 128, 576)


def test_a_wide_crop_gets_its_caption_below_it(frame: np.ndarray) -> None:
    writer = EvidenceWriter(site_id="s", options=EvidenceOptions(clean_copy=False))
    box = np.array([[100, 200, 400, 420]], np.float32)
    (_, crop), = writer.pictures(frame, polygon=np.array([[0, 0], [10, 0], [10, 10]], float), boxes=box,
                                 caption=["t"], crop_caption=["c", "time"])[1:]
    (xa, ya, xb, yb), = crop_regions(frame.shape, box, limit=1, pad=0.15, min_side=128)
    assert crop.shape[0] > yb - ya  # a band was added ...
    np.testing.assert_array_equal(crop[: yb - ya], frame[ya:yb, xa:xb])  # ... below the picture, not over it
    assert crop[yb - ya :].max() > 200  # white text on the band


def test_evidence_without_a_directory_writes_nothing(frame: np.ndarray, tmp_path: Path, monkeypatch) -> None:
    """No folder: no file anywhere (run in an empty working directory, where a relative default would land);
    the same call with a folder writes exactly its one picture there."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    args = dict(camera_id="c", event_id="e", unix_ts=0.0, polygon=np.array([[0, 0], [10, 0], [10, 10]], float),
                boxes=np.zeros((0, 4)), title="t", name="n")
    options = EvidenceOptions(crops=0, clean_copy=False)
    bundle = EvidenceWriter(site_id="s", options=options).make(frame, **args)
    assert [m.kind for m in bundle.messages] == ["annotated"] and bundle.paths == []
    assert list(work.rglob("*")) == []
    given = tmp_path / "given"
    bundle = EvidenceWriter(site_id="s", options=options, out_dir=given).make(frame, **args)
    assert [p.relative_to(given).parts[0] for p in given.rglob("*.jpg")] == ["c"]
    assert bundle.paths == list(given.rglob("*.jpg")) and bundle.paths[0].read_bytes() == bundle.messages[0].data()
    assert list(work.rglob("*")) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"quality": 5}, "quality"), ({"max_side": 10}, "max_side"), ({"max_bytes": 10**7}, "max_bytes")],
)
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EvidenceOptions(**kwargs)
