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


def test_kinds_place_far_small_dull_straddling_and_crowded_objects(synth, data_dir: Path, tmp_path: Path) -> None:
    """A 5 s clip with every kind: far zones are small and in the far rows; each truth object lies partly
    across its zone's edge; the crowd's neighbours stand just outside their zone and in no zone; dull objects
    are near the ground's colour in the made video."""
    footage = synth.load_footage(data_dir / "pets2009" / "vtest.avi", max_frames=50)
    background = synth.median_background(footage, samples=10)
    bags = synth.bag_library(data_dir / "sidewalk-bags" / "valid")
    kinds = frozenset(synth.KINDS) - {"spill"}
    path = synth.make_clip(0, 5, footage, background, bags, tmp_path, seconds=5.0, kinds=kinds)
    meta = json.loads(path.read_text())
    assert meta["conditions"]["kinds"] == sorted(kinds) and "--kind crowd dull far straddle" in \
        meta["conditions"]["made_by"]
    masks = {z["zone_id"]: synth.zone_mask(z) for z in meta["zones"]}
    for z in meta["zones"]:
        poly = np.array(z["polygon"])
        w, h = poly.max(0) - poly.min(0)
        assert w <= 110 and h <= 30 and synth.FAR_ROWS[0] <= poly[:, 1].min() and poly[:, 1].max() <= synth.FAR_ROWS[1]
    cap = cv2.VideoCapture(str(tmp_path / meta["video"]))
    frames = [cap.read()[1] for _ in range(50)]
    bg = background.astype(np.float32)
    # the light drift taken out: each frame scaled to the footage's background's mean level
    first, last = (f.astype(np.float32) * (bg.mean() / f.mean()) for f in (frames[0], frames[-3]))
    for t in meta["truth"]:
        x1, y1, x2, y2 = t["box"]
        inside = masks[t["zone_id"]][y1:y2, x1:x2].mean()
        assert 0.05 < inside < 0.98, t  # partly outside the zone: straddling its edge
    neighbours = meta["conditions"]["neighbours"]
    assert neighbours and all(n["off"] == meta["duration_s"] for n in neighbours)
    for n in neighbours:
        x1, y1, x2, y2 = n["box"]
        assert not any(m[y1:y2, x1:x2].any() for m in masks.values())  # in no zone
        near = np.array(next(z for z in meta["zones"] if z["zone_id"] == n["near_zone"])["polygon"])
        gap = max(near[:, 0].min() - x2, x1 - near[:, 0].max(), near[:, 1].min() - y2, y1 - near[:, 1].max())
        assert gap <= 4, n  # just outside its zone's edge
        # it is in the video (differs from the footage's background more than before it stood there)
        change, before = (np.abs(f[y1:y2, x1:x2] - bg[y1:y2, x1:x2]).mean() for f in (last, first))
        assert change > before + 3, (n, change, before)


def test_spilled_neighbours_reach_a_little_into_their_zone_after_its_own_object(synth, data_dir: Path,
                                                                               tmp_path: Path) -> None:
    """`spill`: the next shop's objects reach 1-6 px across a truth zone's edge (at most 15 % of them), touch no
    other zone, come after the zone's own object and stay to the end."""
    footage = synth.load_footage(data_dir / "pets2009" / "vtest.avi", max_frames=50)
    background = synth.median_background(footage, samples=10)
    bags = synth.bag_library(data_dir / "sidewalk-bags" / "valid")
    spilled = 0
    for index in range(2):
        meta = json.loads(synth.make_clip(index, 7, footage, background, bags, tmp_path, seconds=60.0,
                                          kinds=frozenset({"spill"})).read_text())
        masks = {z["zone_id"]: synth.zone_mask(z) for z in meta["zones"]}
        first_on = {t["zone_id"]: t["on"] for t in meta["truth"]}
        for n in meta["conditions"]["neighbours"]:
            x1, y1, x2, y2 = n["box"]
            own = masks[n["near_zone"]][y1:y2, x1:x2]
            assert own.any() and own.mean() <= 0.2, n  # reaches in, mostly outside (the box is a bit larger)
            assert not any(m[y1:y2, x1:x2].any() for z, m in masks.items() if z != n["near_zone"]), n
            assert n["on"] > first_on[n["near_zone"]] and n["off"] == meta["duration_s"], n
            spilled += 1
    assert spilled >= 2


def test_dull_object_takes_the_grounds_colour_and_keeps_some_texture(synth) -> None:
    background = np.full((60, 80, 3), (90, 100, 110), np.uint8)
    rgb = np.full((20, 30, 3), 20, np.uint8)
    rgb[:, 15:] = 80  # a dark two-tone bag
    p = synth.Placement("z", 0.0, 1.0, 10, 10, rgb, np.ones((20, 30), np.float32))
    for seed in range(20):
        q = synth.dull(p, background, np.random.default_rng(seed))
        off = q.rgb.astype(np.float32).mean((0, 1)) - (90, 100, 110)
        assert 8 - 0.5 <= abs(off[0]) <= 20 + 0.5 and np.allclose(off, off[0], atol=1)  # 8-20 levels off, grey
        contrast = float(q.rgb[:, 15:].astype(np.float32).mean() - q.rgb[:, :15].astype(np.float32).mean())
        assert 0.5 * 60 - 1 <= contrast <= 0.9 * 60 + 1  # half to 90 % of its own texture's contrast
        assert (q.x, q.y, q.alpha is p.alpha) == (10, 10, True)


def test_kinds_leave_plain_clips_unchanged(synth) -> None:
    """Unknown kinds are refused; the kinds draw from their own generator, so zones made without them are the
    dev-events layout's (120-260 px wide)."""
    with pytest.raises(ValueError, match="unknown kinds"):
        synth.make_clip(0, 1, [], np.zeros((576, 768, 3), np.uint8), [], Path("/nonexistent"), kinds=frozenset({"x"}))
    zones = synth.random_zones(np.random.default_rng(3))
    assert all(120 <= np.ptp(np.array(z["polygon"])[:, 0]) <= 260 for z in zones)
    assert zones == synth.random_zones(np.random.default_rng(3))
