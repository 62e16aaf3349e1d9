"""Letterbox, decoders and NMS on synthetic inputs whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from models.postprocess import (
    Candidates,
    decode_ultralytics,
    decode_yolox,
    nms,
    to_detections,
    yolox_grid,
)
from models.preprocess import Letterbox, letterbox, nchw_blob, quantise_lut


@pytest.mark.parametrize(
    ("frame_hw", "size", "center", "scale", "pad"),
    [
        ((1080, 810), (416, 416), False, 416 / 1080, (0, 0)),
        ((1080, 810), (640, 640), True, 640 / 1080, (80, 0)),
        ((576, 768), (640, 640), True, 640 / 768, (0, 80)),
        ((576, 768), (416, 416), False, 416 / 768, (0, 0)),
        ((640, 640), (640, 640), True, 1.0, (0, 0)),
        ((100, 300), (320, 320), True, 320 / 300, (0, 106)),  # 107 rows placed, 106 above
    ],
)
def test_letterbox_geometry_and_round_trip(frame_hw, size, center, scale, pad) -> None:
    h, w = frame_hw
    frame = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    img, box = letterbox(frame, size, center=center)
    assert img.shape == (size[1], size[0], 3) and img.dtype == np.uint8
    assert box.scale == pytest.approx(scale)
    assert (box.pad_x, box.pad_y) == pad
    placed_w, placed_h = round(w * scale), round(h * scale)
    if (placed_w, placed_h) != size:  # the bottom-right corner is padding, grey 114
        assert img[-1, -1].tolist() == [114, 114, 114]
    if scale == 1.0:
        np.testing.assert_array_equal(img[box.pad_y : box.pad_y + h, box.pad_x : box.pad_x + w], frame)
    boxes = np.array([[0, 0, w, h], [10, 20, 50, 60], [w * 0.5, h * 0.25, w * 0.75, h]], np.float32)
    back = box.to_original(box.to_input(boxes))
    np.testing.assert_allclose(back, boxes, atol=1e-3)


def test_to_original_clips_to_frame() -> None:
    box = Letterbox(scale=0.5, pad_x=10, pad_y=0, width=100, height=80)
    out = box.to_original(np.array([[0, -5, 500, 30]], np.float32))
    assert out.tolist() == [[0, 0, 100, 60]]


@pytest.mark.parametrize(
    ("shape", "dtype", "error"),
    [
        ((10, 10), np.uint8, "uint8 BGR frame"),
        ((10, 10, 4), np.uint8, "uint8 BGR frame"),
        ((10, 10, 3), np.float32, "uint8 BGR frame"),
        ((0, 10, 3), np.uint8, "empty frame"),
    ],
)
def test_letterbox_rejects_bad_frames(shape, dtype, error) -> None:
    with pytest.raises(ValueError, match=error):
        letterbox(np.zeros(shape, dtype), (64, 64), center=True)


def test_blob_channel_order_and_scale() -> None:
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 0], img[..., 2] = 10, 200  # B=10, R=200
    bgr = nchw_blob([img, img], rgb=False, normalise=False)
    rgb = nchw_blob([img], rgb=True, normalise=True)
    assert bgr.shape == (2, 3, 4, 4) and bgr.dtype == np.float32
    assert bgr[0, 0, 0, 0] == 10 and bgr[0, 2, 0, 0] == 200
    assert rgb[0, 0, 0, 0] == pytest.approx(200 / 255) and rgb[0, 2, 0, 0] == pytest.approx(10 / 255)


def test_quantise_lut_matches_formula() -> None:
    lut = quantise_lut(1 / 255, -128, np.dtype(np.int8), normalise=True)
    assert lut.dtype == np.int8 and lut[0] == -128 and lut[255] == 127 and lut[128] == 0


def test_yolox_decode_one_anchor() -> None:
    grid = yolox_grid(64, 64)
    assert grid.shape == (64 + 16 + 4, 3)
    raw = np.zeros((len(grid), 85), np.float32)
    i = 64 + 5  # stride-16 level, grid cell (1, 1)
    assert grid[i].tolist() == [1, 1, 16]
    raw[i, :4] = [0.5, 0.5, np.log(2.0), np.log(1.0)]
    raw[i, 4], raw[i, 5 + 7] = 0.9, 0.8
    cand = decode_yolox(raw, grid, conf=0.25)
    assert cand.class_id.tolist() == [7]
    assert cand.score[0] == pytest.approx(0.72)
    np.testing.assert_allclose(cand.xyxy[0], [24 - 16, 24 - 8, 24 + 16, 24 + 8])
    assert len(decode_yolox(raw, grid, conf=0.75).xyxy) == 0


def test_ultralytics_decode_and_box_scale() -> None:
    raw = np.zeros((84, 5), np.float32)
    raw[:4, 2] = [0.5, 0.25, 0.2, 0.1]
    raw[4 + 5, 2] = 0.6
    raw[4 + 0, 3] = 0.1  # below conf
    cand = decode_ultralytics(raw, conf=0.25, box_scale=640)
    assert cand.class_id.tolist() == [5] and cand.score.tolist() == pytest.approx([0.6])
    np.testing.assert_allclose(cand.xyxy[0], [256, 128, 384, 192], atol=1e-3)


def test_nms_is_class_aware() -> None:
    xyxy = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    score = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    cls = np.array([0, 0, 1, 0], np.int32)
    assert sorted(nms(xyxy, score, cls, 0.5).tolist()) == [0, 2, 3]
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), 0.5).size == 0


def test_to_detections_maps_back_and_names() -> None:
    cand = Candidates(
        xyxy=np.array([[10, 20, 110, 220], [10, 20, 110, 220]], np.float32),
        score=np.array([0.9, 0.5], np.float32),
        class_id=np.array([1, 1], np.int32),
    )
    box = Letterbox(scale=0.5, pad_x=10, pad_y=20, width=400, height=400)
    det = to_detections(cand, box, np.array(["person", "bus"]), iou=0.45)
    assert len(det) == 1
    np.testing.assert_allclose(det.xyxy[0], [0, 0, 200, 400])
    assert det.data["class_name"].tolist() == ["bus"]
    empty = to_detections(
        Candidates(cand.xyxy[:0], cand.score[:0], cand.class_id[:0]), box, np.array(["a"]), iou=0.45
    )
    assert len(empty) == 0 and "class_name" in empty.data
