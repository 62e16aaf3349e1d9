"""ZoneStaticModel: gain, shake tolerance, no absorption of objects, no ghosts, unknown pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from testkit.static_zone import ZoneStaticModel

W, H = 200, 160
POLY = np.array([[40, 40], [160, 40], [160, 120], [40, 120]], float)
NO_BOXES = np.zeros((0, 4), np.float32)


def background() -> np.ndarray:
    rng = np.random.default_rng(7)
    t = cv2.GaussianBlur(rng.uniform(60, 200, (H, W, 3)).astype(np.float32), (0, 0), 1.2)
    yy, xx = np.mgrid[0:H, 0:W]
    t[((yy // 12) + (xx // 12)) % 2 == 1] *= 0.55  # paving slabs: hard edges that shake would light up
    return t


BG = background()


def frame(gain: float = 1.0, shift: tuple[float, float] = (0.0, 0.0), bag: bool = False,
          person: tuple[int, int] | None = None, seed: int = 0) -> np.ndarray:
    img = BG.copy()
    if bag:
        img[70:100, 70:120] = 35.0
    if person is not None:
        x, y = person
        img[y - 50:y, x - 10:x + 10] = 230.0
    img = cv2.warpAffine(img * gain, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (W, H),
                         borderMode=cv2.BORDER_REFLECT)
    img += np.random.default_rng(seed).normal(0, 2, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def warm(model: ZoneStaticModel, until: float = 5.0, fps: float = 2.0) -> float:
    ts = 0.0
    while ts < until:
        model.update(frame(seed=int(ts * 10)), ts, NO_BOXES)
        ts += 1 / fps
    return ts


def test_crop_is_zone_bbox_plus_margin_and_downscaled() -> None:
    m = ZoneStaticModel(POLY, (W, H))
    x1, y1, x2, y2 = m.crop
    assert x1 <= 40 and y1 <= 40 and x2 >= 160 and y2 >= 120
    big = ZoneStaticModel(np.array([[0, 0], [1900, 0], [1900, 1000], [0, 1000]], float), (1920, 1080))
    assert max(big.size) <= big.p.max_side
    with pytest.raises(ValueError, match="outside"):
        ZoneStaticModel(np.array([[500, 500], [600, 500], [600, 600]], float), (W, H))


@pytest.mark.parametrize(("gain", "shift"), [(1.22, (0, 0)), (0.78, (0, 0)), (1.0, (2.5, -2.0)),
                                             (1.2, (-2.0, 2.0))])
def test_exposure_and_shake_are_not_objects(gain: float, shift: tuple[float, float]) -> None:
    m = ZoneStaticModel(POLY, (W, H))
    ts = warm(m)
    for k in range(20):
        state = m.update(frame(gain, shift, seed=100 + k), ts, NO_BOXES)
        ts += 0.5
        assert state.coverage == 0.0
    assert state.gain[1] == pytest.approx(gain, rel=0.03)
    assert not m.fg[m.zone_mask].mean() > 0.01


def test_object_is_never_absorbed_and_leaves_no_ghost() -> None:
    m = ZoneStaticModel(POLY, (W, H))
    ts = warm(m)
    ref_before = m.ref.copy()
    covs = []
    for k in range(600):  # 5 minutes at 2 fps with drifting light
        g = 1 + 0.12 * np.sin(2 * np.pi * ts / 60)
        covs.append(m.update(frame(g, bag=True, seed=k), ts, NO_BOXES).coverage)
        ts += 0.5
    assert covs[10] == pytest.approx(1500 / (121 * 81), rel=0.25)  # the bag's share of the zone
    assert min(covs[10:]) > 0.9 * covs[10]
    np.testing.assert_allclose(m.ref, ref_before, atol=12)  # the bag did not leak into the reference
    state = m.update(frame(seed=999), ts, NO_BOXES)
    for k in range(6):  # taken away: released after release_s
        ts += 0.5
        state = m.update(frame(seed=1000 + k), ts, NO_BOXES)
    assert state.coverage == 0.0 and len(state.boxes) == 0
    assert not m.static.any()


def test_static_needs_persistence_and_reports_onset() -> None:
    m = ZoneStaticModel(POLY, (W, H))
    ts = warm(m)
    t_on = ts
    seen = []
    for k in range(12):
        seen.append((ts - t_on, m.update(frame(bag=True, seed=k), ts, NO_BOXES)))
        ts += 0.5
    first = next(age for age, s in seen if s.coverage > 0)
    assert first == pytest.approx(m.p.static_after_s, abs=0.5)
    assert seen[-1][1].onset_age_s == pytest.approx(seen[-1][0], abs=0.6)
    box = seen[-1][1].boxes[0]
    np.testing.assert_allclose(box, [70, 70, 120, 100], atol=3)


def test_person_in_front_holds_state_and_unknown_pixels_learn_later() -> None:
    m = ZoneStaticModel(POLY, (W, H))
    person_box = np.array([[80, 50, 120, 110]], np.float32)
    # the zone is first seen with someone standing in it: those pixels are unknown, not background
    s = m.update(frame(person=(100, 100)), 0.0, person_box)
    assert s.known < 1.0
    ts = 0.5
    for k in range(20):
        s = m.update(frame(seed=k), ts, NO_BOXES)  # person gone, zone empty: no ghost of them
        ts += 0.5
    assert s.known == 1.0 and s.coverage == 0.0
    for k in range(10):
        s = m.update(frame(bag=True, seed=50 + k), ts, NO_BOXES)
        ts += 0.5
    cov = s.coverage
    for k in range(30):  # someone stands in front of the bag for 15 s (detected): the bag stays static
        s = m.update(frame(bag=True, person=(95, 105), seed=80 + k), ts, person_box)
        ts += 0.5
        assert s.coverage == pytest.approx(cov, rel=0.05)


def test_reset_forgets() -> None:
    m = ZoneStaticModel(POLY, (W, H))
    warm(m)
    m.reset()
    assert not m.known.any() and m.t0 is None
    assert not m.update(frame(), 100.0, NO_BOXES).ready


@pytest.mark.parametrize(("max_fps", "steps_per_s"), [(2.0, 2.5), (10.0, 10.0)])
def test_runs_at_most_max_fps_and_still_finds_the_bag(max_fps: float, steps_per_s: float) -> None:
    from edge.background import StaticModelParams

    model = ZoneStaticModel(POLY, (W, H), StaticModelParams(max_fps=max_fps))
    steps = []
    real_step = model._sheet.step
    model._sheet.step = lambda *a: steps.append(a[1]) or real_step(*a)  # type: ignore[method-assign]
    ts, first_static = 0.0, None
    while ts < 20.0:  # 10 fps analysis; the bag is set down at 8 s
        state = model.update(frame(bag=ts >= 8.0, seed=int(ts * 10)), ts, NO_BOXES)
        if first_static is None and state.coverage > 0.05:
            first_static = ts
        ts = round(ts + 0.1, 3)
    assert len(steps) == pytest.approx(20.0 * steps_per_s, abs=2)
    # a first sighting counts the interval since the previous run, so up to one run early
    after = model.p.static_after_s
    assert first_static is not None and 8.0 + after - 1 / steps_per_s <= first_static <= 8.0 + after + 1
    # between two runs the state is the last run's, unchanged
    assert model.update(frame(bag=True), ts, NO_BOXES) is model.update(frame(), ts + 0.01, NO_BOXES)


def test_zones_of_a_camera_in_one_bank_behave_as_if_alone() -> None:
    """StaticBank stacks zones in shared canvases; each zone must see exactly what a model of its own sees,
    a bag in one zone must not bleed into the zones stacked next to it, and a reset touches one zone only."""
    from edge.background import StaticBank, StaticModelParams

    polys = {
        "bag": POLY,  # the bag lies here
        "below": np.array([[20, 125], [180, 125], [180, 150], [20, 150]], float),  # margins overlap "bag"
        "small": np.array([[150, 10], [190, 10], [190, 35], [150, 35]], float),  # another shake radius
        "shaky": np.array([[5, 5], [60, 5], [60, 30], [5, 30]], float),
    }
    params = {z: StaticModelParams(shake_px=6.0 if z == "shaky" else 3.0) for z in polys}
    bank = StaticBank({z: (p, params[z], 0) for z, p in polys.items()}, (W, H))
    assert len(bank.sheets) >= 2  # several sheets, some holding several zones
    alone = {z: ZoneStaticModel(p, (W, H), params[z]) for z, p in polys.items()}
    person = np.array([[90, 60, 115, 115]], np.float32)
    ts = 0.0
    while ts < 20.0:
        img = frame(bag=ts >= 8.0, person=(100, 115) if 10 <= ts < 12 else None, gain=1.1 if ts > 15 else 1.0,
                    seed=int(ts * 10))
        movers = person if 10 <= ts < 12 else NO_BOXES
        got = bank.update(img, ts, {0: movers})
        for z, model in alone.items():
            want = model.update(img, ts, movers)
            assert got[z].coverage == want.coverage and got[z].known == want.known, (z, ts)
            assert got[z].ready == want.ready and got[z].gain == want.gain, (z, ts)
            np.testing.assert_array_equal(got[z].boxes, want.boxes)
        ts += 0.5
    assert got["bag"].coverage > 0.1 and got["below"].coverage == 0.0 and got["small"].coverage == 0.0

    bank.reset("bag")
    after = bank.update(frame(bag=True, seed=1), ts, {0: NO_BOXES})
    assert not after["bag"].ready and after["below"].ready and after["below"].known == got["below"].known
    assert "bag" in bank and "nowhere" not in bank


def test_upper_bound_comes_back_after_a_clipped_spell() -> None:
    # Bright paving clips while the exposure is up; learned then, its channels have no upper bound. Once
    # the exposure is back down they must get it back, or a white sack set down later is never seen.
    rng = np.random.default_rng(3)
    ground = cv2.GaussianBlur(rng.uniform(130, 150, (H, W, 3)).astype(np.float32), (0, 0), 1.5)
    ground[:, :W // 2 + 20] += 65  # the left part is bright paving that clips, the right part gives the gain

    def bright(gain: float, sack: bool, k: int) -> np.ndarray:
        img = ground * gain
        if sack:
            img[70:100, 70:120] = 252.0
        img += np.random.default_rng(k).normal(0, 2, img.shape)
        return np.clip(img, 0, 255).astype(np.uint8)

    m = ZoneStaticModel(POLY, (W, H))
    ts, k = 0.0, 0
    for gain, seconds in ((1.0, 10.0), (1.35, 60.0), (1.0, 60.0)):  # clipped for a minute, then normal
        for _ in range(int(seconds * 2)):
            m.update(bright(gain, False, k), ts, NO_BOXES)
            ts, k = ts + 0.5, k + 1
    for _ in range(20):  # the sack, 10 s
        state = m.update(bright(1.0, True, k), ts, NO_BOXES)
        ts, k = ts + 0.5, k + 1
    assert state.coverage == pytest.approx(1500 / (121 * 81), rel=0.3)
