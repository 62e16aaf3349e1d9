"""The vendor-model path for drone-vendors tiles: tiles flown as nadir frames over a drawn plot layer through the
drone pipeline with a model named like any other (yolox_nano stands in: COCO knows no street vendor, so this
checks the path, not the vendor figure), per-plot truth from the labels, and `--model auto` finding a
registered vendor model or saying there is none."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from models.model_card import sha256_of
from zones.projection import ground_points

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def script(data_dir: Path):
    if not (data_dir / "drone-vendors" / "train" / "images").is_dir():
        pytest.skip("../shared/data/drone-vendors is not here")
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(REPO / "scripts"))
    try:
        yield importlib.import_module("drone_vendor_tiles")
    finally:
        mp.undo()


def test_two_tiles_fly_through_the_pipeline_with_a_model_named_by_the_registry(script, tmp_path: Path) -> None:
    images = [p for p in script.tiles("val", 40) if len(script.vendor_boxes(p))][:2]
    assert len(images) == 2
    report = script.run("yolox_nano.onnx", images, tmp_path / "out", plot_m=6.0)
    labelled = sum(len(script.vendor_boxes(p)) for p in images)
    assert 0 < report["labelled_vendors"] <= labelled  # a vendor off every plot is not counted
    assert report["hit"] + report["missed"] == report["plots_with_vendor"] > 0
    assert report["hit"] + report["false"] == report["plots_with_event"]
    assert "umbrella" in report["goods_classes"]  # a COCO model: its goods group stands in
    assert all(a["shop_id"].startswith(("t000-", "t001-")) for a in report["assignments"])
    assert (tmp_path / "out" / "assignments.json").is_file() and (tmp_path / "out" / "footprints.geojson").is_file()


def test_the_plots_hold_each_vendors_ground_point(script) -> None:
    from edge.drone import ShopFootprints

    flight = script.Flight(2)
    shops = ShopFootprints.from_latlon(flight.plots(6.0))
    corner = ground_points([[1.0, 1.0]], flight.pose(1), flight.cam)  # top-left pixel of tile 1: its first plot
    centre = ground_points([[320.0, 320.0]], flight.pose(1), flight.cam)
    assert shops.match(corner, 1e-6) == ["t001-r5c0"]  # y up is north: the image's top row is the last plot row
    assert shops.match(centre, 1e-6)[0].startswith("t001-")
    assert np.isclose(flight.cam.fx * flight.gsd, flight.height)


def test_auto_finds_a_registered_vendor_model_or_none(script, models_dir: Path, tmp_path: Path) -> None:
    assert script.vendor_model([models_dir]) is None  # only COCO models are here today
    model = tmp_path / "vendors.onnx"
    shutil.copy(models_dir / "yolox_nano.onnx", model)
    card = yaml.safe_load((REPO / "models" / "cards" / "yolox_nano.yaml").read_text())
    card.update(file=model.name, sha256=sha256_of(model), classes=[script.VENDOR_CLASS],
                roles={script.VENDOR_CLASS: "goods"})
    (tmp_path / "vendors.card.yaml").write_text(yaml.safe_dump(card))
    assert script.vendor_model([models_dir, tmp_path]) == model
    # its fp16 copy sorts first by name ("-" < "."), the full-precision model is still the one taken
    variant = tmp_path / "vendors-fp16.onnx"
    shutil.copy(model, variant)
    (tmp_path / "vendors-fp16.card.yaml").write_text(yaml.safe_dump({**card, "file": variant.name}))
    assert script.vendor_model([models_dir, tmp_path]) == model
    assert script.goods_classes(str(model)) == [script.VENDOR_CLASS]
