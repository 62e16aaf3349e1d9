"""The VisDrone figure's core on its frame: the pose fitted from the street explains its ground control and an
independent check (cars' widths), the labelled tricycles on the pavement fall on our drawn plots, a flight
record's error moves some of them to another shop, and the frame flies through the drone pipeline."""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from zones.projection import contact_pixel, ground_points

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scripts(data_dir: Path):
    if not (data_dir / "visdrone-street" / "images").is_dir():
        pytest.skip("../shared/data/visdrone-street is not here")
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(REPO / "scripts"))
    try:
        yield importlib.import_module("visdrone_street"), importlib.import_module("visdrone_shops")
    finally:
        mp.undo()


def test_the_pose_fitted_from_the_street_explains_it(scripts) -> None:
    street, _ = scripts
    plan = street.Plan.load()
    fit = street.fit_pose(plan)
    assert fit.points_rms_px < 3.0 and fit.points_max_px < 5.0 and fit.lines_rms_px < 2.0
    assert 20 < fit.pose.height_m < 60 and -50 < fit.pose.pitch_deg < -20
    # not part of the fit: the taxi and the white car side by side on the road are 1.6-2.0 m wide
    for left, right in (([872, 650], [922, 650]), ([951, 660], [1008, 660])):
        xy = fit.plan_xy(np.array([left, right], np.float64), plan.projection)
        assert 1.6 < np.linalg.norm(xy[1] - xy[0]) < 2.0
    assert -9.0 < street.kerb_x(plan, fit) < -6.5  # the pavement begins ~2 lanes left of the centre line


def test_labelled_tricycles_land_on_the_drawn_shops_and_a_record_error_moves_some(scripts) -> None:
    street, shops_script = scripts
    plan = street.Plan.load()
    fit = street.fit_pose(plan)
    plots = street.shop_plots(plan, street.kerb_x(plan, fit))
    boxes, truth = shops_script.on_pavement(plan, fit, plots)
    labelled = street.labelled_tricycles(plan.frame)
    assert len(labelled) == 19 and 12 <= len(boxes) < len(labelled)  # the others are on the road
    assert len(set(truth)) >= 5  # spread over several shops
    shops = street.footprints(plots, plan.projection)
    assert street.shops_of(boxes, fit, shops, 2.0) == truth  # the same pose agrees (the circular row)
    tilted = replace(fit.pose, pitch_deg=fit.pose.pitch_deg + 1.0)  # a 1 deg gimbal error
    moved = shops.match(ground_points(contact_pixel(boxes, tilted), tilted, fit.cam))
    assert 0 < sum(m != t for m, t in zip(moved, truth, strict=True)) < len(truth)
    rng = np.random.default_rng(3)
    shares = shops_script.with_record_errors(plan, fit, plots, boxes, truth, 20, rng)
    assert 0.0 <= min(shares) < 1.0 and max(shares) <= 1.0


def test_the_frame_flies_through_the_drone_pipeline(scripts, tmp_path: Path) -> None:
    street, shops_script = scripts
    plan = street.Plan.load()
    fit = street.fit_pose(plan)
    plots = street.shop_plots(plan, street.kerb_x(plan, fit))
    flight = shops_script.detector_flight(plan, fit, plots, "yolox_nano.onnx", ["car"], 0.1, tmp_path, frames=3)
    rows = flight["rows"]
    assert len(rows) == len(shops_script.on_pavement(plan, fit, plots)[0])
    assert any(r["detected"] for r in rows)  # COCO's "car" finds a few tricycles at 0.1
    placed = [r for r in rows if r["shop"] is not None]
    assert placed and all(r["detected"] for r in placed) and flight["events"] >= 1
