"""ByteTracker: one object keeps one id through occlusions; crossing objects keep theirs."""

from __future__ import annotations

import numpy as np
import pytest

from edge.tracker import ByteTracker, box_iou
from models.detections import Detections


def dets(
    boxes: list[list[float]], conf: list[float] | None = None, cls: list[int] | None = None
) -> Detections:
    n = len(boxes)
    return Detections(
        xyxy=np.asarray(boxes, np.float32).reshape(-1, 4),
        confidence=np.asarray(conf if conf is not None else [0.9] * n, np.float32),
        class_id=np.asarray(cls if cls is not None else [0] * n, np.int32),
    )


def walker(x: float, y: float = 100.0, w: float = 30.0, h: float = 80.0) -> list[float]:
    return [x, y, x + w, y + h]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
        ([0, 0, 10, 10], [2, 2, 4, 4], 4 / 100),
    ],
)
def test_box_iou(a, b, expected) -> None:
    assert box_iou(np.array([a], np.float32), np.array([b], np.float32))[0, 0] == pytest.approx(expected)


def test_box_iou_shapes() -> None:
    assert box_iou(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)
    assert box_iou(np.random.rand(5, 4) * 10, np.random.rand(7, 4) * 10).shape == (5, 7)


def test_one_object_one_id_through_a_short_occlusion() -> None:
    tracker = ByteTracker(lost_track_buffer_s=3.0, minimum_consecutive_frames=2)
    ids = []
    for i in range(20):  # 2 fps, walking 12 px per frame; hidden for frames 8..11 (2 s)
        ts = i * 0.5
        out = tracker.update(dets([] if 8 <= i < 12 else [walker(50 + 12 * i)]), ts)
        ids.extend(out.tracker_id.tolist())
    confirmed = [t for t in ids if t >= 0]
    assert ids[0] == -1  # needs two consecutive frames before it gets an id
    assert len(confirmed) == 15 and set(confirmed) == {1}


def test_a_stationary_object_keeps_its_id_while_someone_passes_in_front() -> None:
    tracker = ByteTracker(lost_track_buffer_s=5.0)
    bag = [200, 300, 260, 340]
    seen = set()
    for i in range(30):
        boxes = [bag]
        if 10 <= i < 16:  # a person covers the bag: the bag is not detected, the person is
            boxes = [[190 + 5 * (i - 10), 220, 240 + 5 * (i - 10), 350]]
        out = tracker.update(dets(boxes, cls=[1] if 10 <= i < 16 else [0]), i * 0.5)
        for box, tid, cls in zip(out.xyxy, out.tracker_id, out.class_id, strict=True):
            if cls == 0 and tid >= 0:
                seen.add(int(tid))
                assert box.tolist() == bag
    assert seen == {1}


def test_two_crossing_objects_keep_their_ids() -> None:
    tracker = ByteTracker(minimum_consecutive_frames=1)
    history: dict[int, list[float]] = {}
    for i in range(16):
        a = walker(20 + 20 * i, y=100)  # left to right
        b = walker(320 - 20 * i, y=110)  # right to left, overlapping a around i = 7..8
        out = tracker.update(dets([a, b]), i * 0.5)
        for box, tid in zip(out.xyxy, out.tracker_id, strict=True):
            history.setdefault(int(tid), []).append(float(box[0]))
    assert sorted(history) == [1, 2]
    moves = {tid: np.sign(np.diff(xs)) for tid, xs in history.items()}
    assert all(len(set(m.tolist())) == 1 for m in moves.values()), "an id jumped to the other object"


def test_low_confidence_detections_extend_tracks_but_do_not_start_them() -> None:
    tracker = ByteTracker(minimum_consecutive_frames=1, track_activation_threshold=0.5, low_threshold=0.1)
    assert tracker.update(dets([walker(10)], [0.2]), 0.0).tracker_id.tolist() == [-1]
    assert tracker.update(dets([walker(100)], [0.9]), 0.5).tracker_id.tolist() == [1]
    assert tracker.update(dets([walker(104)], [0.2]), 1.0).tracker_id.tolist() == [1]  # half occluded


def test_lost_longer_than_the_buffer_gets_a_new_id() -> None:
    tracker = ByteTracker(lost_track_buffer_s=1.0, minimum_consecutive_frames=1)
    assert tracker.update(dets([walker(10)]), 0.0).tracker_id.tolist() == [1]
    tracker.update(dets([]), 0.5)
    assert tracker.update(dets([walker(10)]), 3.0).tracker_id.tolist() == [2]


def test_ids_are_per_instance_and_reset_restarts_them() -> None:
    cam1, cam2 = ByteTracker(minimum_consecutive_frames=1), ByteTracker(minimum_consecutive_frames=1)
    assert cam1.update(dets([walker(10)]), 0.0).tracker_id.tolist() == [1]
    assert cam2.update(dets([walker(10), walker(200)]), 0.0).tracker_id.tolist() == [1, 2]
    cam1.reset()
    assert cam1.update(dets([walker(300)]), 1.0).tracker_id.tolist() == [1]


def test_input_not_mutated_and_first_seen_time_reported() -> None:
    tracker = ByteTracker(minimum_consecutive_frames=1)
    d = dets([walker(10)])
    before = d.xyxy.copy()
    tracker.update(d, 2.0)
    out = tracker.update(dets([walker(12)]), 2.5)
    assert d.tracker_id is None and np.array_equal(d.xyxy, before)
    assert out.data["track_first_ts"].tolist() == [2.0]


def test_classes_do_not_share_tracks() -> None:
    tracker = ByteTracker(minimum_consecutive_frames=1)
    tracker.update(dets([walker(10)], cls=[0]), 0.0)
    assert tracker.update(dets([walker(10)], cls=[2]), 0.5).tracker_id.tolist() == [2]


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        ByteTracker(minimum_consecutive_frames=0)
    with pytest.raises(ValueError):
        ByteTracker(lost_track_buffer_s=-1)
