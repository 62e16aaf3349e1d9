"""The site script (docs/DEPLOY.md, `make site`): an authenticated TLS Mosquitto from broker-config,
PostgreSQL, two central instances on one shared subscription, one edge with its own account on the dev clip;
the script's own checks (cases for the ground truth, every phase stored once, strangers refused), then the
database read directly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_site_end_to_end(tmp_path: Path, shared_dir: Path, pg_url: str) -> None:
    work = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOORLINE_")}
    env.update(DOORLINE_SHARED=str(shared_dir), DOORLINE_DATABASE_URL=pg_url, SITE_WORKDIR=str(work))
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "site.py")], env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-3000:]
    for check in ("doorline-edge check passed", "refuses an anonymous client", "refuses a wrong password",
                  "opened cases for the ground truth", "the two central instances shared the work"):
        assert any(check in ln and ln.strip().startswith("ok") for ln in run.stdout.splitlines()), check

    conf = (work / "broker" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "certfile" in conf and "password_file" in conf
    assert re.search(r"^listener \d+ 127\.0\.0\.1$", conf, re.M), "the site's broker listens on loopback only"
    truth = json.loads((shared_dir / "data" / "dev-events" / "clip_00.json").read_text())
    lines = [json.loads(x) for x in (work / "events.jsonl").read_text().splitlines() if x.strip()]
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        phases = conn.execute(text("select message_id from event_phases")).all()
        zones = {r.zone_id for r in conn.execute(text("select zone_id from cases"))}
        dead = conn.execute(text("select count(*) from dead_letters")).scalar()
    engine.dispose()
    assert len(phases) == len({p.message_id for p in phases}) == len(lines)
    assert {t["zone_id"] for t in truth["truth"]} <= zones
    assert dead == 0, "central refused some of the edge's signed messages"
    # each instance connected with its own client id; their JSON-lines logs name the case of each event put on
    # one, with its camera and zone
    on_cases = []
    for i in (1, 2):
        log = (work / f"central-{i}.log").read_text()
        assert f"ingest doorline-central-site-{i} connected" in log
        on_cases += [r for r in (json.loads(x) for x in log.splitlines() if x.startswith("{")) if "case_id" in r]
    assert {r["zone_id"] for r in on_cases} == zones
    assert all(r["camera_id"] == "dev-cam-00" and r["shop_id"] and r["event_id"] for r in on_cases)
