"""`doorline-zones check`: door lines off the edge, zones of two shops overlapping, shops central does not
know; one line per problem, exit 1."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from testkit.ports import free_port
from zones.check import central_lookup, check_file, main

SQUARE = [[10, 10], [110, 10], [110, 60], [10, 60]]


def _file(tmp_path: Path, zones: list[dict], name: str = "cam.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"camera_id": "cam-1", "frame_size": [640, 480], "zones": zones}))
    return path


def test_a_clean_file_passes_and_prints_its_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _file(tmp_path, [{"zone_id": "z-1", "shop_id": "s-1", "polygon": SQUARE,
                             "door_line": [[10, 10], [110, 10]]}])
    assert main(["check", str(path)]) == 0
    assert "ok " in capsys.readouterr().out


def test_overlapping_shops(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _file(tmp_path, [
        {"zone_id": "z-1", "shop_id": "s-1", "polygon": SQUARE, "door_line": [[10, 10], [60, 10]]},
        {"zone_id": "z-2", "shop_id": "s-2", "polygon": [[60, 10], [160, 10], [160, 60], [60, 60]]},
        {"zone_id": "z-3", "shop_id": "s-1", "polygon": [[20, 20], [50, 20], [50, 50], [20, 50]]},
    ])
    problems = [str(p) for p in check_file(path)]
    assert any("zone 'z-1'" in p and "overlaps zone 'z-2'" in p and "50%" in p for p in problems)
    assert not any("'z-3'" in p for p in problems)  # the same shop's zones may overlap
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().err.count("INVALID") == len(problems) == 1


@pytest.mark.parametrize(("door", "says"), [
    ([[10, 10], [60, 35]], "door line point 2 (60, 35) is 25.0 px off the zone's edge"),  # an end inside
    ([[10, 35], [110, 35]], "crosses the zone's interior"),  # both ends on the edge, across the zone
])
def test_a_door_line_off_the_edge_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture, door: list,
                                             says: str) -> None:
    path = _file(tmp_path, [{"zone_id": "z-1", "shop_id": "s-1", "polygon": SQUARE, "door_line": door}])
    problems = [str(p) for p in check_file(path)]
    assert len(problems) == 1 and "zone 'z-1'" in problems[0] and says in problems[0]
    assert "migrate-door" in problems[0]  # it says how to convert an old file


def test_an_old_crossing_door_line_is_migrated_to_the_part_it_counted(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    # the old rule counted goods on the side of the vertex mean: below y=20 here (the larger part)
    old = _file(tmp_path, [{"zone_id": "z-1", "shop_id": "s-1", "polygon": SQUARE,
                            "door_line": [[10, 20], [110, 20]]}])
    new = tmp_path / "new.json"
    assert main(["migrate-door", str(old), "--out", str(new)]) == 0
    assert "1 zone(s) cut" in capsys.readouterr().out
    assert main(["check", str(new)]) == 0
    from zones.io import load_zones

    z = load_zones(new).zones[0]
    assert sorted(map(tuple, z.polygon.tolist())) == [(10, 20), (10, 60), (110, 20), (110, 60)]
    assert sorted(map(tuple, z.door_line.tolist())) == [(10, 20), (110, 20)]


def test_load_errors_come_through_and_the_old_entry_point_is_the_same_command(tmp_path: Path) -> None:
    bad = _file(tmp_path, [{"zone_id": "z-1", "polygon": [[10, 10], [110, 60], [110, 10], [10, 60]]}])
    problems = check_file(bad)
    assert len(problems) == 1 and "self-intersect" in problems[0].reason.lower()
    old = subprocess.run([sys.executable, "-m", "zones.validate", str(bad)], capture_output=True, text=True)
    assert old.returncode == 1 and "INVALID" in old.stderr


@pytest.fixture
def central(tmp_path: Path):
    import uvicorn

    import central.orm  # noqa: F401
    from central.app import create_app
    from central.auth import create_access_token
    from central.db import make_engine, make_session_factory
    from central.domain import registry
    from central.domain.shop_schema import ShopIn
    from central.orm.base import Base
    from central.settings import CentralSettings
    from central.users_cli import ensure_user

    port = free_port()
    url = f"sqlite:///{tmp_path / 'c.db'}"
    settings = CentralSettings(database_url=url, evidence_dir=tmp_path / "ev", ingest_enabled=False,
                               secret_key=secrets.token_urlsafe(48), port=port)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        user = ensure_user(s, "viewer", secrets.token_urlsafe(16), "viewer")
        registry.create_shop(s, ShopIn.model_validate({"id": "s-1", "name": "Fruit", "address": "1 Road"}),
                             actor="test")
        s.commit()
        token, _ = create_access_token(settings, user)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, factory), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token
    server.should_exit = True
    thread.join(10)
    engine.dispose()


def test_shops_unknown_to_central(tmp_path: Path, central) -> None:
    url, token = central
    path = _file(tmp_path, [{"zone_id": "z-1", "shop_id": "s-1", "polygon": SQUARE},
                            {"zone_id": "z-2", "shop_id": "s-9", "polygon": [[200, 200], [300, 200], [250, 280]]}])
    problems = [str(p) for p in check_file(path, shop_known=central_lookup(url, token))]
    assert problems == [f"{path}, zone 'z-2': shop 's-9' is not in central's registry"]
    unauthorised = check_file(path, shop_known=central_lookup(url, None))
    assert all("could not ask central" in p.reason for p in unauthorised) and len(unauthorised) == 2
