# ruff: noqa: E501  (the SRT samples keep the firmware's own long lines)
"""Drones: DJI SRT flight records, projecting detections onto the ground, and one event per shop a flight."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.drone import DroneAnalyzer, FlightGrouper, ShopFootprints
from edge.sources.dji_srt import parse_srt
from edge.sources.frame import SourceError
from edge.sources.telemetry import Telemetry, sidecar_for
from models.detections import Detections
from zones.geo import LocalProjection
from zones.projection import (
    CameraPose,
    Intrinsics,
    PoseError,
    ground_points,
    ground_uncertainty_m,
    image_points,
)

# One cue of each layout, as the firmware writes them (values made up, layout DJI's).
MINI3 = """1
00:00:00,000 --> 00:00:00,033
<font size="28">FrameCnt: 1, DiffTime: 33ms
2026-03-15 10:23:45.123
[iso: 100] [shutter: 1/1000.0] [fnum: 1.7] [ev: 0] [color_md: default] [focal_len: 24.00] [latitude: 31.230416] [longtitude: 121.473701] [rel_alt: 50.000 abs_alt: 62.500] [ct: 5500] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">FrameCnt: 2, DiffTime: 33ms
2026-03-15 10:23:45.156
[iso: 100] [shutter: 1/1000.0] [fnum: 1.7] [ev: 0] [color_md: default] [focal_len: 24.00] [latitude: 31.230426] [longtitude: 121.473711] [rel_alt: 50.100 abs_alt: 62.600] [ct: 5500] </font>
"""

MAVIC3E = """1
00:00:00,000 --> 00:00:00,033
<font size="28">SrtCnt : 1, DiffTime : 33ms
2026-03-15 10:23:45.123
[iso : 100] [shutter : 1/1000.0] [fnum : 2.8] [ev : 0] [dzoom_ratio: 1.00] [focal_len : 24.00] [latitude : 31.230416] [longitude : 121.473701] [rel_alt: 50.000 abs_alt: 62.500] [gb_yaw: 90.0 gb_pitch: -45.0 gb_roll: 0.0] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">SrtCnt : 2, DiffTime : 33ms
2026-03-15 10:23:45.156
[iso : 100] [shutter : 1/1000.0] [fnum : 2.8] [ev : 0] [dzoom_ratio: 2.00] [focal_len : 24.00] [latitude : 31.230420] [longitude : 121.473750] [rel_alt: 50.000 abs_alt: 62.500] [gb_yaw: 92.0 gb_pitch: -46.0 gb_roll: 0.5] </font>
"""

PHANTOM4 = """1
00:00:00,000 --> 00:00:01,000
HOME(121.473000,31.230000) 2019.05.01 10:23:45
GPS(121.473701,31.230416,16) BAROMETER:50.0
ISO:100 Shutter:60 EV:0 Fnum:F2.8

2
00:00:01,000 --> 00:00:02,000
HOME(121.473000,31.230000) 2019.05.01 10:23:46
GPS(121.473801,31.230516,16) BAROMETER:51.5
ISO:100 Shutter:60 EV:0 Fnum:F2.8
"""


def test_srt_layouts_of_three_firmware_families() -> None:
    mini = parse_srt(MINI3)
    assert [(c.lat, c.lon, c.rel_alt, c.abs_alt, c.focal35) for c in mini] == [
        (31.230416, 121.473701, 50.0, 62.5, 24.0), (31.230426, 121.473711, 50.1, 62.6, 24.0)]
    assert mini[1].start_s == pytest.approx(0.033)
    mavic = parse_srt(MAVIC3E)
    assert (mavic[1].yaw, mavic[1].pitch, mavic[1].roll, mavic[1].dzoom) == (92.0, -46.0, 0.5, 2.0)
    old = parse_srt(PHANTOM4)
    assert (old[0].lat, old[0].lon, old[0].rel_alt) == (31.230416, 121.473701, 50.0)  # GPS(lon, lat, sats)
    assert old[1].start_s == 1.0 and old[1].yaw is None


def test_srt_becomes_telemetry_with_a_pose(tmp_path: Path) -> None:
    video = tmp_path / "DJI_0001.MP4"
    video.write_bytes(b"")
    (tmp_path / "DJI_0001.SRT").write_text(MAVIC3E, encoding="utf-8")
    path = sidecar_for(video)
    assert path is not None and path.name == "DJI_0001.SRT"
    tel = Telemetry.load(path)
    pose = tel.pose_at(0.0165)  # half way: interpolated
    assert pose is not None
    assert pose.yaw_deg == pytest.approx(91.0) and pose.pitch_deg == pytest.approx(-45.5)
    assert pose.height_m == pytest.approx(50.0)
    assert pose.focal35_mm == pytest.approx(36.0)  # 24 mm x digital zoom 1 → 2, interpolated
    assert Telemetry.load(_write(tmp_path / "old.srt", PHANTOM4)).pose_at(0.5) is None  # no gimbal: no pose


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "line", "what"), [
    (MINI3.replace("00:00:00,033 --> 00:00:00,066", "00:00:00,033 -> 00:00:00,066"), 8, "timing"),
    (MINI3.replace("[latitude: 31.230426]", "[latitude: 31.23O426]"), 11, "latitude is not a number"),
    (MINI3.replace("2\n00:00:00,033", "two\n00:00:00,033"), 7, "cue number"),
    (PHANTOM4.replace("GPS(121.473801,31.230516,16) ", ""), 7, "no latitude/longitude"),
    (MINI3.replace("[latitude: 31.230416]", "[latitude: 131.230416]"), 5, "out of range"),
])
def test_a_malformed_srt_is_refused_with_its_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    path = _write(tmp_path / "bad.srt", text)
    with pytest.raises(SourceError) as err:
        Telemetry.load(path)
    assert f"bad.srt:{line}:" in str(err.value) and what in str(err.value)


def _render_and_measure(pose: CameraPose, cam: Intrinsics, ground_xy: np.ndarray) -> np.ndarray:
    """Draw a white disc at each ground point's pixel, find the discs again, return their pixels."""
    proj = LocalProjection(pose.lat, pose.lon)
    truth_px = image_points(proj.to_latlon(ground_xy), pose, cam)
    canvas = np.zeros((cam.height, cam.width), np.uint8)
    for u, v in truth_px:
        cv2.circle(canvas, (round(u * 16), round(v * 16)), 6 * 16, 255, -1, cv2.LINE_AA, shift=4)
    n, _, _, centroids = cv2.connectedComponentsWithStats((canvas > 127).astype(np.uint8))
    found = centroids[1:]
    order = [int(np.argmin(((found - p) ** 2).sum(axis=1))) for p in truth_px]  # match by nearness
    assert n - 1 == len(ground_xy)
    return found[order]


@pytest.mark.parametrize(("height", "pitch"), [(50.0, -45.0), (50.0, -90.0), (30.0, -60.0)])
def test_projection_error_is_under_half_a_metre(height: float, pitch: float) -> None:
    """Known pose, known ground points rendered into a 1080p image, found there and projected back."""
    pose = CameraPose(lat=31.2304, lon=121.4737, height_m=height, yaw_deg=30.0, pitch_deg=pitch, roll_deg=1.0)
    cam = Intrinsics.from_35mm(24.0, 1920, 1080)
    centre = ground_points([[960, 540]], pose, cam)
    centre_xy = LocalProjection(pose.lat, pose.lon).to_xy(centre)[0]
    rng = np.random.default_rng(7)
    ground = centre_xy + rng.uniform(-15, 15, size=(12, 2))
    pixels = _render_and_measure(pose, cam, ground)
    back = LocalProjection(pose.lat, pose.lon).to_xy(ground_points(pixels, pose, cam))
    error = np.linalg.norm(back - ground, axis=1)
    assert error.max() < 0.5, error


def test_uncertainty_grows_with_height_and_a_flatter_view() -> None:
    cam = Intrinsics.from_35mm(24.0, 1920, 1080)

    def sigma(h: float, p: float) -> float:
        pose = CameraPose(31.23, 121.47, h, 0.0, p)
        return float(ground_uncertainty_m([[960, 540]], pose, cam, PoseError(1.5, 1.0, 1.0))[0])

    assert sigma(50, -90) < sigma(100, -90) < sigma(100, -45)
    assert sigma(50, -90) >= 1.5  # never better than the GPS itself
    pose = CameraPose(31.23, 121.47, 50, 0.0, -10)
    assert np.isnan(ground_points([[960, 0]], pose, cam)).all()  # a ray above the horizon meets no ground


def _street(n_shops: int = 4) -> tuple[ShopFootprints, LocalProjection, dict[str, np.ndarray]]:
    """Shops 8 m wide along a street running east, their pavement strips 4 m deep."""
    proj = LocalProjection(31.2304, 121.4737)
    rects = {f"shop-{i}": np.array([[i * 8.0, 0], [i * 8.0 + 8, 0], [i * 8.0 + 8, 4], [i * 8.0, 4]])
             for i in range(n_shops)}
    fp = ShopFootprints.from_latlon({k: [tuple(p) for p in proj.to_latlon(v)] for k, v in rects.items()})
    return fp, proj, rects


def test_one_stall_seen_over_a_flight_is_one_event_on_its_shop() -> None:
    fp, proj, _ = _street()
    cam = Intrinsics.from_35mm(24.0, 1920, 1080)
    stalls = {"shop-1": np.array([12.0, 2.0]), "shop-2": np.array([19.0, 1.5])}  # two stalls, two shops
    drone = DroneAnalyzer(fp, goods_classes=["umbrella"], min_frames=3, gap_s=5.0,
                          intrinsics=Intrinsics.from_35mm(24.0, 3840, 2160))  # calibrated at 4K, flown at 1080p
    rng = np.random.default_rng(3)
    events = []
    for k in range(40):  # 40 frames at 2 fps, flying east along the street at 3 m/s
        x = -10.0 + 1.5 * k
        ll = proj.to_latlon([[x, -25.0]])[0]
        pose = CameraPose(float(ll[0]), float(ll[1]), 40.0, 0.0, -60.0)
        truth = proj.to_latlon(np.array(list(stalls.values())))
        px = image_points(truth, pose, cam) + rng.normal(0, 1.0, (len(stalls), 2))  # detector jitter
        inside = np.isfinite(px).all(axis=1) & (px[:, 0] >= 0) & (px[:, 0] < 1920) & (px[:, 1] < 1080)
        boxes = np.column_stack([px[:, 0] - 20, px[:, 1] - 40, px[:, 0] + 20, px[:, 1]])[inside]
        n = len(boxes)
        people = np.array([[900, 500, 930, 560]])  # a passer-by is not goods
        dets = Detections(np.vstack([boxes, people]).astype(np.float32), np.full(n + 1, 0.8, np.float32),
                          np.zeros(n + 1, np.int32), data={"class_name": np.array(["umbrella"] * n + ["person"])})
        events += drone.update((1920, 1080), k * 0.5, pose if k != 7 else None, dets)  # frame 7 has no pose
    events += drone.finish()
    assert drone.frames_without_pose == 1
    starts = [e for e in events if e.phase == "start"]
    assert sorted(e.sighting.shop_id for e in starts) == ["shop-1", "shop-2"]
    assert sorted(e.sighting.shop_id for e in events if e.phase == "end") == ["shop-1", "shop-2"]
    for e in starts:
        assert e.sighting.frames >= 20  # seen in most frames, still one episode
        err = np.linalg.norm(proj.to_xy([e.sighting.latlon])[0] - stalls[e.sighting.shop_id])
        assert err < 0.5
        assert 0 < e.sighting.accuracy_m < 5


def test_a_shop_seen_again_after_the_gap_is_a_new_episode_and_misses_are_not_shops() -> None:
    fp, proj, _ = _street(2)
    grouper = FlightGrouper(fp, min_frames=2, gap_s=5.0)
    at_shop0 = proj.to_latlon([[4.0, 2.0]])
    off_street = proj.to_latlon([[4.0, -30.0]])
    out = []
    for t in (0.0, 1.0, 2.0):
        out += grouper.add(t, np.vstack([at_shop0, off_street]), "piled_goods")
    out += grouper.add(20.0, at_shop0, "piled_goods")  # 18 s later: the first episode ended
    out += grouper.add(21.0, at_shop0, "piled_goods")
    phases = [(e.phase, e.sighting.shop_id) for e in out]
    assert phases == [("start", "shop-0"), ("end", "shop-0"), ("start", "shop-0")]
    assert out[0].sighting.event_id != out[2].sighting.event_id
    assert grouper.unmatched == 3
