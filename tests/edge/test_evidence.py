"""Evidence JPEGs: decodable, under the byte cap, hash matching, zone and boxes drawn, files written."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.evidence import ZONE_COLOUR, EvidenceOptions, EvidenceWriter, encode_bounded
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
    # The zone outline is drawn in the annotated copy only: pixels along its top edge turn amber.
    edge = annotated[262, 25:160].astype(int)
    assert np.mean(np.abs(edge - np.array(ZONE_COLOUR)).sum(axis=1) < 120) > 0.8
    assert np.mean(np.abs(clean[262, 25:160].astype(int) - np.array(ZONE_COLOUR)).sum(axis=1) < 120) < 0.2
    # Caption band: the top rows are darkened and carry text.
    assert annotated[:20].mean() < frame[:20].mean() * 0.7
    assert annotated[:40].std() > 20


def test_evidence_without_a_directory_writes_nothing(frame: np.ndarray, tmp_path: Path) -> None:
    writer = EvidenceWriter(site_id="s", options=EvidenceOptions(crops=0, clean_copy=False))
    bundle = writer.make(
        frame,
        camera_id="c",
        event_id="e",
        unix_ts=0.0,
        polygon=np.array([[0, 0], [10, 0], [10, 10]], float),
        boxes=np.zeros((0, 4)),
        title="t",
        name="n",
    )
    assert [m.kind for m in bundle.messages] == ["annotated"] and bundle.paths == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"quality": 5}, "quality"), ({"max_side": 10}, "max_side"), ({"max_bytes": 10**7}, "max_bytes")],
)
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EvidenceOptions(**kwargs)
