"""scripts/synth_event_clips.py: new event clips in the dev-events layout, to test on unseen zones."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from zones.io import load_zones

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synth():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("synth_event_clips", REPO / "scripts" / "synth_event_clips.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["synth_event_clips"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_play_order_is_forward_backward_forward(synth) -> None:
    order = synth.play_order(795)
    assert len(order) == 2383  # dev-events' 238.3 s at 10 fps
    assert order[:3] == [0, 1, 2] and order[794:797] == [794, 793, 792] and order[-1] == 794
    assert max(abs(a - b) for a, b in zip(order, order[1:], strict=False)) == 1  # no jump between passes


def test_composite_keeps_people_in_front(synth) -> None:
    background = np.full((40, 60, 3), 100, np.uint8)
    frame = background.copy()
    frame[10:30, 30:40] = 20  # a dark "person" over the background
    p = synth.Placement("z", 0.0, 1.0, 20, 5, np.full((30, 30, 3), 200, np.uint8), np.ones((30, 30), np.float32))
    synth.composite(frame, p, background)
    assert (frame[8:32, 22:28] == 200).all()  # the bag where nobody stands
    assert (frame[12:28, 32:38] == 20).all()  # the person stays in front of it
    assert (frame[:5] == 100).all() and (frame[:, :20] == 100).all()  # nothing outside the placement


def test_short_clip_round_trip(synth, data_dir: Path, tmp_path: Path) -> None:
    """A 12 s clip: the edge worker's zone loader reads its JSON, the roles cover every zone once, and the
    truth's bag is in the video while it is on and gone after."""
    footage = synth.load_footage(data_dir / "pets2009" / "vtest.avi", max_frames=120)
    background = synth.median_background(footage, samples=20)
    bags = synth.bag_library(data_dir / "sidewalk-bags" / "valid")
    path = synth.make_clip(0, 7, footage, background, bags, tmp_path, seconds=12.0)
    meta = json.loads(path.read_text())
    cz = load_zones(path)
    ids = sorted(z.zone_id for z in cz.zones)
    roles = [t["zone_id"] for t in meta["truth"]] + [s["zone_id"] for s in meta["short"]] + meta["negatives"]
    assert sorted(roles) == ids and len(ids) == 5
    assert cz.rules.min_dwell_s == 30 and meta["duration_s"] == 12.0

    cap = cv2.VideoCapture(str(tmp_path / meta["video"]))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    assert len(frames) == 120 and frames[0].shape == (576, 768, 3)
    # the bag's box differs from the footage's background while the bag is on, far more than before it is
    # set down (the light drift and shake move it by a few grey levels only)
    for t in [*meta["truth"], *meta["short"]]:
        x1, y1, x2, y2 = t["box"]
        on = int(t["on"] * 10) + 2, min(int(t["off"] * 10) - 2, 119)
        inside = [np.abs(frames[i][y1:y2, x1:x2].astype(np.float32) - background[y1:y2, x1:x2]).mean()
                  for i in range(*on)]
        before = [np.abs(frames[i][y1:y2, x1:x2].astype(np.float32) - background[y1:y2, x1:x2]).mean()
                  for i in range(0, max(int(t["on"] * 10) - 2, 1))]
        assert np.median(inside) > np.median(before) + 5, t
