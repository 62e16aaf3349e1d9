"""SceneAnalyzer on synthetic street scenes built with numpy: a textured pavement, a pasted object,
a walking person (with its detector box), slow lighting drift, an exposure step and 2 px of shake."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import pytest

from edge.analyzer import SceneAnalyzer, standing_on
from edge.background.layout import StaticModelParams, StaticState
from edge.events import ZoneEvent
from models.detections import Detections
from zones.membership import ZoneMembership
from zones.model import CameraZones, Zone
from zones.rules import RuleConfig

W, H = 320, 240
ZONE = np.array([[90, 110], [230, 110], [240, 180], [85, 180]], float)
OBJECT = (120, 130, 175, 170)  # x1, y1, x2, y2 of the pasted bag (inside the zone)
RULES = RuleConfig(min_dwell_s=20, clear_s=5, cooldown_s=5, update_interval_s=30)


def _texture(seed: int, h: int, w: int, lo: float, hi: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.uniform(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 1.5)
    t = (t - t.min()) / (t.max() - t.min())
    return lo + (hi - lo) * t


def _background() -> np.ndarray:
    bg = _texture(1, H, W, 90, 170)
    bg[:, ::16] *= 0.6  # paving joints: sharp edges that shake would light up
    bg[::12, :] *= 0.7
    return bg


@dataclass
class Scene:
    object_on: float | None = None
    object_off: float | None = None
    half_taken_at: float | None = None  # from then on only the bag's left half is there
    person: tuple[float, float] | None = (5.0, 25.0)  # walks across the zone in this time window
    person_detected: bool = True
    standing_person: tuple[float, float] | None = None  # someone waiting inside the zone
    missed_every: int = 0  # the detector misses the standing person on every n-th frame (at 2 fps)
    shadow: tuple[float, float] | None = None  # a soft shadow over the zone in this time window
    drift: float = 0.12
    drift_period: float = 40.0
    exposure: tuple[float, float, float] | None = None  # (start, duration, factor)
    shake_px: float = 2.0
    bg: np.ndarray = field(default_factory=_background)
    bag: np.ndarray = field(default_factory=lambda: _texture(2, OBJECT[3] - OBJECT[1], OBJECT[2] - OBJECT[0],
                                                              25, 70))
    body: np.ndarray = field(default_factory=lambda: _texture(3, 60, 22, 150, 230))

    def frame(self, t: float) -> tuple[np.ndarray, Detections]:
        img = self.bg.copy()
        if self.object_on is not None and self.object_on <= t < (self.object_off or np.inf):
            x1, y1, x2, y2 = OBJECT
            yy, xx = np.mgrid[y1:y2, x1:x2]
            cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
            inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
            if self.half_taken_at is not None and t >= self.half_taken_at:
                inside &= xx < cx
            img[y1:y2, x1:x2][inside] = self.bag[inside]
        boxes = []
        if self.person is not None and self.person[0] <= t <= self.person[1]:
            f = (t - self.person[0]) / (self.person[1] - self.person[0])
            x = int(40 + f * 240)
            boxes.append(self._paste_person(img, x, 185))
        if self.standing_person is not None and self.standing_person[0] <= t <= self.standing_person[1]:
            box = self._paste_person(img, 200 + int(2 * np.sin(t)), 175)
            if not (self.missed_every and round(2 * t) % self.missed_every == 0):
                boxes.append(box)
        if self.shadow is not None and self.shadow[0] <= t < self.shadow[1]:
            yy, xx = np.mgrid[0:H, 0:W]
            img *= (1 - 0.12 * np.exp(-((xx - 160) ** 2 + (yy - 145) ** 2) / (2 * 15.0 ** 2)))[..., None]
        gain = 1 + self.drift * np.sin(2 * np.pi * t / self.drift_period)
        if self.exposure and self.exposure[0] <= t < self.exposure[0] + self.exposure[1]:
            gain *= self.exposure[2]
        img = img * gain
        dx, dy = self.shake_px * np.sin(t * 7.3), self.shake_px * np.cos(t * 5.1)
        img = cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, dy]]), (W, H), borderMode=cv2.BORDER_REFLECT)
        noise = np.random.default_rng(int(t * 1000)).normal(0, 2.0, img.shape)
        frame = np.clip(img + noise, 0, 255).astype(np.uint8)
        if not boxes or not self.person_detected:
            return frame, Detections.empty()
        xyxy = np.array(boxes, np.float32)
        n = len(xyxy)
        return frame, Detections(xyxy, np.full(n, 0.8, np.float32), np.zeros(n, np.int32),
                                 data={"class_name": np.array(["person"] * n)})

    def _paste_person(self, img: np.ndarray, x: int, feet_y: int) -> list[float]:
        h, w = self.body.shape[:2]
        x1, y1 = x - w // 2, feet_y - h
        img[y1:feet_y, x1:x1 + w] = self.body
        return [x1, y1, x1 + w, feet_y]


def camera(violations: tuple[str, ...] = ("piled_goods",)) -> CameraZones:
    return CameraZones("cam-t", "site-t", (W, H), [Zone("z-1", "s-1", ZONE, violations=violations)], RULES)


def play(scene: Scene, seconds: float, fps: float = 2.0, analyzer: SceneAnalyzer | None = None,
         t0: float = 0.0) -> tuple[list[ZoneEvent], SceneAnalyzer, list[float]]:
    analyzer = analyzer or SceneAnalyzer(camera())
    events: list[ZoneEvent] = []
    coverage = []
    for ts in np.arange(t0, t0 + seconds, 1.0 / fps):
        frame, dets = scene.frame(float(ts))
        events += analyzer.update(frame, float(ts), dets)
        coverage.append(analyzer.last_static["z-1"].coverage)
    return events, analyzer, coverage


def test_object_arrives_stays_leaves_one_start_one_end() -> None:
    scene = Scene(object_on=10.0, object_off=60.0, person=(30.0, 45.0), exposure=(40.0, 12.0, 1.22))
    events, _, _ = play(scene, 85.0)
    phases = [(e.phase, round(e.ts, 1)) for e in events]
    starts = [e for e in events if e.phase == "start"]
    ends = [e for e in events if e.phase == "end"]
    assert len(starts) == 1 and len(ends) == 1, phases
    assert 10.0 + 20.0 - 1 <= starts[0].ts <= 10.0 + 20.0 + 3, phases
    assert 60.0 <= ends[0].ts <= 60.0 + 5.0 + 5, phases
    assert starts[0].event_id == ends[0].event_id
    x1, y1, x2, y2 = starts[0].boxes[0]
    assert abs(x1 - OBJECT[0]) < 8 and abs(y2 - OBJECT[3]) < 8  # the box is the bag's


def test_person_walking_through_triggers_nothing() -> None:
    events, analyzer, coverage = play(Scene(person=(2.0, 60.0)), 70.0)
    assert events == [] and max(coverage) == 0.0
    assert analyzer.assess("z-1")[0] == "clear"


def test_person_waiting_in_the_zone_triggers_nothing() -> None:
    events, _, _ = play(Scene(person=None, standing_person=(5.0, 60.0)), 70.0)
    assert events == []


@pytest.mark.parametrize("factor", [1.22, 0.78])
def test_exposure_step_and_shake_do_not_trigger(factor: float) -> None:
    events, _, coverage = play(Scene(person=None, exposure=(10.0, 40.0, factor), shake_px=2.5), 60.0)
    assert events == [] and max(coverage) == 0.0


@pytest.mark.slow
def test_stationary_object_does_not_fade() -> None:
    events, analyzer, coverage = play(Scene(object_on=6.0, person=(100.0, 130.0)), 300.0, fps=1.0)
    assert [e.phase for e in events if e.phase != "update"] == ["start"]
    early = float(np.mean(coverage[20:40]))
    assert early > 0.1
    assert min(coverage[20:]) > 0.8 * early  # still there after 5 minutes of drift and shake
    status, score, boxes = analyzer.assess("z-1")
    assert status == "present" and score > 0 and len(boxes) == 1


@pytest.mark.parametrize("fps", [1.0, 5.0])
def test_same_result_at_other_rates(fps: float) -> None:
    events, _, _ = play(Scene(object_on=10.0, object_off=45.0, person=None), 60.0, fps=fps)
    assert [e.phase for e in events] == ["start", "end"]
    assert abs(events[0].ts - 30.0) <= 2.0 and 45.0 <= events[1].ts <= 55.0


@pytest.mark.parametrize("stay_s", [8.0, 18.0])  # dwell is 20 s
def test_short_object_never_starts(stay_s: float) -> None:
    events, _, _ = play(Scene(object_on=10.0, object_off=10.0 + stay_s, person=None), 45.0)
    assert events == []


def test_reset_zone_relearns_and_unknown_zone() -> None:
    scene = Scene(object_on=5.0, person=None)
    events, analyzer, _ = play(scene, 40.0)
    assert [e.phase for e in events] == ["start"]
    analyzer.reset_zone("z-1")
    assert analyzer.assess("z-1")[0] == "unknown"
    # after a reset the bag is part of the learned empty zone (an operator accepted it)
    events, _, coverage = play(scene, 30.0, analyzer=analyzer, t0=40.0)
    assert events == [] and max(coverage) == 0.0
    with pytest.raises(KeyError):
        analyzer.assess("nope")


def test_polygons_scale_with_frame_size() -> None:
    cz = CameraZones("c", None, (W * 2, H * 2), [Zone("z-1", None, ZONE * 2)], RULES)
    events, _, _ = play(Scene(object_on=5.0, object_off=35.0, person=None), 50.0, analyzer=SceneAnalyzer(cz))
    assert [e.phase for e in events] == ["start", "end"]


def test_pile_partly_taken_away_keeps_its_episode() -> None:
    # the bag covers ~17 % of the zone; half of it is taken away: 8.5 % is below min_coverage (15 %) but
    # above the hold level (half of it), so the running episode neither ends nor restarts
    rules = RuleConfig(min_dwell_s=20, clear_s=5, cooldown_s=5, update_interval_s=300, min_coverage=0.15)
    cz = CameraZones("c", None, (W, H), [Zone("z-1", None, ZONE, violations=("piled_goods",))], rules)
    scene = Scene(object_on=5.0, object_off=70.0, half_taken_at=40.0, person=None)
    events, _, coverage = play(scene, 85.0, analyzer=SceneAnalyzer(cz))
    assert [e.phase for e in events] == ["start", "end"]
    assert 0.075 < coverage[int(55 * 2)] < 0.15
    assert events[1].ts >= 70.0


@pytest.mark.parametrize(("max_aspect", "phases"), [(1.25, ["start"]), (100.0, [])])
def test_sack_the_detector_calls_a_person_is_still_a_pile(max_aspect: float, phases: list[str]) -> None:
    # YOLOX labels some sacks "person" (seen on made clips: a box 2.3x wider than tall, for minutes). Masked
    # as a mover, the sack would never become static; a box wider than person_max_aspect x its height is
    # not masked. With the limit lifted the same scene raises nothing, so the limit is what finds it.
    rules = RULES.merged({"person_max_aspect": max_aspect})
    zone = Zone("z-1", "s-1", ZONE, violations=("piled_goods",))
    analyzer = SceneAnalyzer(CameraZones("cam-t", "site-t", (W, H), [zone], rules))
    scene = Scene(object_on=5.0, person=None)
    x1, y1, x2, y2 = OBJECT  # 55 x 40 px
    sack = Detections(np.array([[x1 - 2, y1 - 2, x2 + 2, y2 + 2]], np.float32), np.array([0.4], np.float32),
                      np.zeros(1, np.int32), data={"class_name": np.array(["person"])})
    events = []
    for ts in np.arange(0.0, 40.0, 0.5):
        frame, _ = scene.frame(float(ts))
        events += analyzer.update(frame, float(ts), sack if ts >= 5.0 else Detections.empty())
    assert [e.phase for e in events] == phases
    if phases:
        assert 5.0 + 20.0 - 1 <= events[0].ts <= 5.0 + 20.0 + 3


def _redrawn(zone: Zone, dx: float) -> Zone:
    return Zone(zone.zone_id, zone.shop_id, zone.polygon + (dx, 0.0), violations=zone.violations)


def test_reloaded_zones_keep_what_is_unchanged_and_end_what_is_not() -> None:
    """A zones reload mid-episode: the unchanged zone carries on (no second start, one end when the bag
    goes); a redrawn zone ends its open episode at once, so central never waits for an end."""
    scene = Scene(object_on=5.0, object_off=70.0, person=None)
    events, old, _ = play(scene, 40.0)
    assert [e.phase for e in events] == ["start"]
    start = events[0]
    # the same zone plus another camera zone: the piled-goods background is rebuilt only if a piled-goods
    # zone changed, so here everything carries over
    extra = Zone("z-2", "s-2", np.array([[0, 0], [60, 0], [60, 40], [0, 40]], float),
                 violations=("cross_door_trading",))
    new = SceneAnalyzer(CameraZones("cam-t", "site-t", (W, H), [camera().zones[0], extra], RULES))
    assert new.take_over(old, 40.0) == []
    events, _, coverage = play(scene, 45.0, analyzer=new, t0=40.0)
    # the episode goes on (its 30 s update comes on time) and ends once, when the bag is taken away
    assert [e.phase for e in events] == ["update", "end"], [(e.phase, e.ts) for e in events]
    assert {e.event_id for e in events} == {start.event_id} and events[-1].ts >= 70.0
    assert max(coverage) > 0.02  # the bag stayed visible across the reload: the background was kept


def test_redrawn_zone_ends_its_open_episode_at_the_reload() -> None:
    scene = Scene(object_on=5.0, person=None)
    events, old, _ = play(scene, 40.0)
    start = events[0]
    assert start.phase == "start"
    moved = SceneAnalyzer(CameraZones("cam-t", "site-t", (W, H), [_redrawn(camera().zones[0], dx=4.0)], RULES))
    ended = moved.take_over(old, 40.0)
    assert [(e.phase, e.event_id, e.ts) for e in ended] == [("end", start.event_id, 40.0)]
    assert not moved.trackers[("z-1", "piled_goods")].holding


def _vehicle_scene(at: Callable[[float], tuple[float, float] | None], ids: Callable[[float], int],
                   seconds: float, score: float = 0.8) -> list[ZoneEvent]:
    """A dark block (a car, or a sack the detector calls one) whose top-left is `at(t)` (None: not there),
    detected as a `car` on track `ids(t)` (-1: no confirmed track) whenever it is there; 2 fps."""
    scene = Scene(person=None)
    car = _texture(4, 36, 60, 20, 60)
    analyzer = SceneAnalyzer(camera())
    events: list[ZoneEvent] = []
    for ts in np.arange(0.0, seconds, 0.5):
        frame, _ = scene.frame(float(ts))
        place = at(float(ts))
        dets = Detections.empty()
        if place is not None:
            x, y = int(place[0]), int(place[1])
            frame[y:y + 36, x:x + 60] = car.astype(np.uint8)
            dets = Detections(np.array([[x - 2, y - 2, x + 62, y + 38]], np.float32), np.array([score], np.float32),
                              np.zeros(1, np.int32), np.array([ids(float(ts))]),
                              data={"class_name": np.array(["car"])})
        events += analyzer.update(frame, float(ts), dets)
    return events


@pytest.mark.parametrize("track", [7, -1])
def test_sack_the_detector_calls_a_car_is_still_a_pile(track: int) -> None:
    # YOLOX calls a small far sack a `car` (score 0.3-0.5) on nearly every frame (docs/ACCURACY.md). It never
    # moved, so it does not earn a vehicle's mask: the static-object model sees it and the zone alerts on time.
    events = _vehicle_scene(lambda t: (130, 132) if t >= 15 else None, lambda t: track, 60.0, score=0.4)
    assert [e.phase for e in events] == ["start"], [(e.phase, e.ts) for e in events]
    assert 15.0 + 20.0 - 1 <= events[0].ts <= 15.0 + 20.0 + 3


def _drive_in(t: float) -> tuple[float, float] | None:  # from the left edge, parked in the zone from 16 s
    return None if t < 10 else (min(0.0 + (t - 10) * 22, 130.0), 132.0)


@pytest.mark.parametrize("refound_at", [None, 30.0])
def test_a_car_that_drove_in_and_parked_is_not_a_pile(refound_at: float | None) -> None:
    # the car came in moving: it keeps its mask while it stands, also when its track is lost and found again
    # under a new id that never moved (the place it stood in is remembered)
    def ids(t: float) -> int:
        return 9 if refound_at is not None and t >= refound_at else 3

    assert _vehicle_scene(_drive_in, ids, 70.0) == []


def test_a_car_parked_from_the_start_that_drives_away_is_not_a_pile() -> None:
    # seen in the first seconds, before the zone's empty look is known: masked, so it is never learned as
    # the empty zone, and the bare asphalt it leaves is not a pile
    def at(t: float) -> tuple[float, float] | None:
        return (130.0, 132.0) if t < 40 else (None if t > 46 else (130 + (t - 40) * 20, 132.0))

    assert _vehicle_scene(at, lambda t: 5, 80.0) == []


def test_a_big_object_no_box_covered_does_not_leave_a_pile_behind() -> None:
    # a car the detector missed drives over the zone and fills its whole crop for a moment: the gain read off
    # it is wrong, so when it has gone every pixel of the zone reads too dark and nothing is left to correct
    # the gain by. The zone must recover, not become a pile for good (seen on a parking lot: a start 30 s
    # after a car passed, with no object there). A second zone elsewhere keeps the view itself unchanged.
    zones = [Zone("z-1", "s-1", ZONE, violations=("piled_goods",)),
             Zone("z-2", "s-2", np.array([[10, 10], [70, 10], [70, 40], [10, 40]], float), violations=("piled_goods",))]
    analyzer = SceneAnalyzer(CameraZones("cam-t", "site-t", (W, H), zones, RULES))
    scene = Scene(person=None, shake_px=1.0)
    car = _texture(5, 170, 260, 60, 100) * np.array([0.6, 0.9, 1.4])  # bluish, with light and dark panels
    car = (car * np.where((np.arange(260) // 16) % 2 == 1, 0.4, 1.9)[None, :, None]).clip(0, 255)
    events: list[ZoneEvent] = []
    for ts in np.arange(0.0, 70.0, 0.5):
        frame, _ = scene.frame(float(ts))
        if 20.0 <= ts < 22.0:
            frame[65:235, 40:300] = car.astype(np.uint8)
        events += analyzer.update(frame, float(ts), Detections.empty())
    assert events == [], [(e.zone_id, e.phase, e.ts) for e in events]


@pytest.mark.parametrize(("inside_px", "phases"), [(6, []), (30, ["start"])])
def test_the_next_shops_goods_reaching_across_the_edge_are_not_this_zones(inside_px: int,
                                                                          phases: list[str]) -> None:
    # a 60 x 40 px object below the zone's bottom edge (y 180), reaching `inside_px` rows into it: 15 % inside
    # is the next shop's; 75 % inside is this zone's (objects set across an edge stand 40-70 % inside)
    scene = Scene(person=None)
    top = 180 - inside_px
    box = _texture(6, 40, 60, 20, 60)
    analyzer = SceneAnalyzer(camera())
    events = []
    for ts in np.arange(0.0, 45.0, 0.5):
        frame, _ = scene.frame(float(ts))
        if ts >= 5.0:
            frame[top:top + 40, 130:190] = box.astype(np.uint8)
        events += analyzer.update(frame, float(ts), Detections.empty())
    assert [e.phase for e in events] == phases


# ---------------------------------------------------------------------------------- objects of the ground's grey
def _pale() -> np.ndarray:
    """Pale, plain paving (levels 176-194): the full threshold there is 12 + 10 % of ~185, about 30 levels."""
    return _texture(1, H, W, 176, 194)


def _dull(h: int, w: int, off: float, amp: float, cell: int, seed: int = 4) -> np.ndarray:
    """A sack of nearly the paving's grey: its mean `off` levels above it, folds `cell` px across, ±`amp`."""
    rng = np.random.default_rng(seed)
    folds = rng.uniform(-amp, amp, (h // cell + 1, w // cell + 1, 1)).astype(np.float32)
    return np.repeat(185.0 + off + np.repeat(np.repeat(folds, cell, 0), cell, 1)[:h, :w], 3, axis=2)


DULL_SACK = _dull(OBJECT[3] - OBJECT[1], OBJECT[2] - OBJECT[0], 10, 25, 6)
GREY_ONLY = StaticModelParams(texture_rise=math.inf)  # the static-object model without its texture cue


def test_a_dull_sack_of_the_pavings_grey_is_a_pile() -> None:
    scene = Scene(object_on=10.0, object_off=70.0, person=(30.0, 45.0), bg=_pale(), bag=DULL_SACK)
    events, _, _ = play(scene, 90.0)
    phases = [(e.phase, round(e.ts, 1)) for e in events if e.phase != "update"]
    assert [p for p, _ in phases] == ["start", "end"], phases
    assert 10.0 + 20.0 - 1 <= phases[0][1] <= 10.0 + 20.0 + 3 and 70.0 <= phases[1][1] <= 70.0 + 5 + 5, phases
    # its grey level alone is within the full threshold: without the texture cue it is not seen at all
    assert play(scene, 90.0, analyzer=SceneAnalyzer(camera(), static_params=GREY_ONLY))[0] == []


def test_a_fainter_sack_is_kept_by_the_lower_threshold_s_hysteresis() -> None:
    """Folds of ±20 levels: a pixel of it passes the lower threshold on some frames and not on others, so on its
    own it would never stand 3 s as foreground. A pixel already foreground stays so at half the rise and half the
    threshold (`weak_keep`), and the sack is found; without that it is not."""
    sack = _dull(OBJECT[3] - OBJECT[1], OBJECT[2] - OBJECT[0], 10, 20, 6)
    scene = Scene(object_on=10.0, object_off=70.0, person=(30.0, 45.0), bg=_pale(), bag=sack)
    phases = [e.phase for e in play(scene, 90.0)[0] if e.phase != "update"]
    assert phases == ["start", "end"]
    no_keep = StaticModelParams(weak_keep=1.0)
    assert play(scene, 90.0, analyzer=SceneAnalyzer(camera(), static_params=no_keep))[0] == []


def test_a_soft_shadow_on_pale_paving_is_not_an_object() -> None:
    """A shadow darkens the paving by up to ~22 levels, beyond the texture cue's lower threshold, but it brings
    no texture: still ground. With the texture test taken out (any pixel may use the lower threshold) it is
    a pile, so the texture test is what keeps it out."""
    scene = Scene(person=None, bg=_pale(), shadow=(10.0, 70.0))
    events, _, coverage = play(scene, 80.0)
    assert events == [] and max(coverage) == 0.0
    anywhere = StaticModelParams(texture_rise=-1e6)
    assert any(e.phase == "start" for e in play(scene, 80.0, analyzer=SceneAnalyzer(camera(),
                                                                                       static_params=anywhere))[0])


def test_a_person_in_dull_clothes_standing_whom_the_detector_misses_is_not_a_pile() -> None:
    """Missed on every third frame, a standing person's clothes would be judged behind no box: near the ground's
    grey they pass the texture cue's lower threshold. Where a person stood still lately only the full threshold
    counts (edge.standing), so they never become an object; without that hold they do."""
    body = _dull(60, 22, 8, 25, 6, seed=9)
    scene = Scene(person=None, standing_person=(5.0, 80.0), missed_every=3, bg=_pale(), body=body)
    assert play(scene, 90.0)[0] == []
    no_hold = StaticModelParams(weak_hold_s=0.0)
    events, _, _ = play(scene, 90.0, analyzer=SceneAnalyzer(camera(), static_params=no_hold))
    assert any(e.phase == "start" for e in events)


def test_an_object_whose_last_row_lies_along_the_zones_bottom_edge_stands_in_the_zone() -> None:
    """A static box ends at the bottom edge of its last row of model pixels; in a downscaled crop (here 2.5 frame
    px a pixel) that edge can lie a pixel beyond the zone while the row itself is inside. The trading rule places
    objects by where they stand, the centre of that row, so such an object is this zone's, not the margin's."""
    zones = ZoneMembership([Zone("z-1", "s-1", ZONE, violations=("piled_goods",))], (W, H))
    bottom = 180.0 + 1.0  # ZONE's bottom edge is y = 180
    state = StaticState(0.05, np.array([[120, 150, 170, bottom]], np.float32), 1.0, True, 40.0, (1, 1, 1), 2.5)
    feet = standing_on(state)
    assert feet[0, 3] == pytest.approx(bottom - 1.25)
    as_boxes = [Detections(b, np.ones(1, np.float32), np.zeros(1, np.int32)) for b in (state.boxes, feet)]
    assert zones.anchors_in(as_boxes[1])[0, 0] and not zones.anchors_in(as_boxes[0])[0, 0]
