"""Zone files: both layouts load; every kind of bad input raises ZoneFileError naming file, zone, reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from wire.schema import CROSS_DOOR_TRADING, PILED_GOODS
from zones.io import ZoneFileError, load_zones, parse_zones
from zones.rules import RuleConfig
from zones.validate import main as validate_main

SQUARE = [[10, 10], [110, 10], [110, 60], [10, 60]]


def camera(**extra: object) -> dict:
    base = {
        "camera_id": "cam-1",
        "site_id": "market",
        "frame_size": [640, 480],
        "rules": {"min_dwell_s": 60},
        "zones": [
            {"zone_id": "z-1", "shop_id": "s-1", "polygon": SQUARE, "door_line": [[10, 10], [110, 10]],
             "rules": {"min_coverage": 0.1}},
            {"zone_id": "z-2", "polygon": [[200, 200], [300, 200], [250, 280]],
             "violations": ["piled_goods"]},
        ],
    }
    base.update(extra)
    return base


def test_own_yaml_layout(tmp_path: Path) -> None:
    f = tmp_path / "cam.yaml"
    f.write_text(yaml.safe_dump(camera()))
    cz = load_zones(f)
    assert (cz.camera_id, cz.site_id, cz.frame_size) == ("cam-1", "market", (640, 480))
    assert cz.rules.min_dwell_s == 60
    z1, z2 = cz.zones
    assert z1.shop_id == "s-1" and z2.shop_id is None
    np.testing.assert_allclose(z1.polygon, SQUARE)
    assert z1.door_line is not None and z1.door_line.shape == (2, 2)
    assert z1.violations == (CROSS_DOOR_TRADING, PILED_GOODS) and z2.violations == (PILED_GOODS,)
    merged = cz.rules_for("z-1")
    assert merged.min_coverage == 0.1 and merged.min_dwell_s == 60
    assert cz.rules_for("z-2").min_coverage == RuleConfig().min_coverage
    with pytest.raises(ValueError):
        z1.polygon[0, 0] = 5  # read-only


def test_own_json_layout_same_as_yaml(tmp_path: Path) -> None:
    f = tmp_path / "cam.json"
    f.write_text(json.dumps(camera()))
    assert [z.zone_id for z in load_zones(f).zones] == ["z-1", "z-2"]


def test_dev_events_clip_layout(data_dir: Path) -> None:
    cz = load_zones(data_dir / "dev-events" / "clip_00.json")
    assert cz.camera_id == "clip_00" and cz.frame_size == (768, 576)
    assert [z.zone_id for z in cz.zones] == ["dz-1", "dz-2", "dz-3", "dz-4", "dz-5"]
    assert cz.rules.min_dwell_s == 30 and cz.rules.clear_s == 10
    assert all(z.violations == (PILED_GOODS,) for z in cz.zones)
    assert cz.zones[0].shop_id == "shop-dz-1"


def test_clip_layout_ignores_extra_metadata(tmp_path: Path, data_dir: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """A clip made with one more field (a seed, a zone label) still runs, and the log names the field."""
    data = json.loads((data_dir / "dev-events" / "clip_00.json").read_text())
    data["made_by"] = "another generator"
    data["zones"][0]["label"] = "bakery"
    f = tmp_path / "clip_09.json"
    f.write_text(json.dumps(data))
    with caplog.at_level("WARNING", logger="zones.io"):
        cz = load_zones(f)
    assert [z.zone_id for z in cz.zones] == ["dz-1", "dz-2", "dz-3", "dz-4", "dz-5"]
    assert (cz.zones[0].polygon == load_zones(data_dir / "dev-events" / "clip_00.json").zones[0].polygon).all()
    assert "made_by" in caplog.text and "label" in caplog.text


def _zone(**kw: object) -> dict:
    return {"zone_id": "bad", "polygon": SQUARE, **kw}


@pytest.mark.parametrize(
    ("data", "zone_id", "reason"),
    [
        (camera(zones=[_zone(polygon=[[0, 0], [100, 100], [100, 0], [0, 100]])]), "bad", "not simple"),
        (camera(zones=[_zone(polygon=[[0, 0], [50, 50], [100, 100]])]), "bad", "degenerate"),
        (camera(zones=[_zone(polygon=[[0, 0], [10, 0]])]), "bad", "at least 3 points"),
        (camera(zones=[_zone(polygon=[[0, 0], [700, 0], [700, 50]])]), "bad", "outside the frame 640x480"),
        (camera(zones=[_zone(polygon="square")]), "bad", "[x, y]"),
        (camera(zones=[_zone(), _zone()]), "bad", "duplicate zone_id"),
        (camera(zones=[_zone(colour="red")]), "bad", "unknown key(s) colour"),
        (camera(zones=[_zone(rules={"min_dwell_s": -1})]), "bad", "rules.min_dwell_s"),
        (camera(zones=[_zone(rules={"dwell": 5})]), "bad", "rules.dwell"),
        (camera(zones=[_zone(violations=["loitering"])]), "bad", "violations"),
        (camera(zones=[_zone(door_line=[[1, 1], [1, 1]])]), "bad", "door_line"),
        (camera(zones=[{"polygon": SQUARE}]), None, "needs a non-empty zone_id"),
        (camera(zones=[]), None, "non-empty list"),
        (camera(owner="me"), None, "unknown key(s) owner"),
        (camera(frame_size=[640]), None, "frame_size"),
        (camera(camera_id=""), None, "camera_id is required"),
        ([1, 2], None, "top level must be a mapping"),
        ({"size": [768, 576], "zones": [_zone(polygon=[[0, 0], [10, 0]])], "seed": 1}, "bad",
         "at least 3 points"),
    ],
)
def test_bad_zone_files(tmp_path: Path, data: object, zone_id: str | None, reason: str) -> None:
    f = tmp_path / "zones.json"
    f.write_text(json.dumps(data))
    with pytest.raises(ZoneFileError) as err:
        load_zones(f)
    assert err.value.zone_id == zone_id
    assert reason in err.value.reason
    assert str(f) in str(err.value)


def test_unreadable_and_unparsable(tmp_path: Path) -> None:
    with pytest.raises(ZoneFileError, match="cannot read"):
        load_zones(tmp_path / "missing.yaml")
    f = tmp_path / "broken.yaml"
    f.write_text("zones: [\n  - {")
    with pytest.raises(ZoneFileError, match="neither JSON nor YAML"):
        load_zones(f)


def test_parse_zones_without_file() -> None:
    assert parse_zones(camera()).camera_id == "cam-1"


def test_validate_cli(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = data_dir / "dev-events" / "clip_01.json"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(camera(zones=[_zone(), _zone()])))
    assert validate_main([str(good)]) == 0
    assert "5 zone(s)" in capsys.readouterr().out
    assert validate_main([str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "INVALID" in err and "duplicate zone_id" in err and "'bad'" in err
