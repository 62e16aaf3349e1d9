"""End to end, as a user runs it: the README's demo (real edge worker on real footage → a real Mosquitto →
the real central service), on SQLite and on PostgreSQL. Then the stored rows are checked directly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_demo_end_to_end(backend: str, tmp_path: Path, broker, shared_dir: Path, request) -> None:
    workdir = tmp_path / "demo"
    db_url = (f"sqlite:///{workdir / 'doorline.db'}" if backend == "sqlite"
              else request.getfixturevalue("pg_url"))
    env = dict(os.environ, DOORLINE_SHARED=str(shared_dir), DOORLINE_DATABASE_URL=db_url,
               DOORLINE_MQTT__HOST=broker.host, DOORLINE_MQTT__PORT=str(broker.port),
               DEMO_WORKDIR=str(workdir), DEMO_KEEP_SERVING="0", DOORLINE_PORT="0")
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py")], env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "operator console" in run.stdout

    lines = [json.loads(x) for x in (workdir / "events.jsonl").read_text().splitlines() if x.strip()]
    starts = [e for e in lines if e["phase"] == "start"]
    assert starts, "the edge raised no alert on a clip with two piled-goods episodes"

    engine = create_engine(db_url)
    with engine.connect() as conn:
        phases = conn.execute(text("select message_id, event_id, phase from event_phases")).all()
        evidence = conn.execute(text("select sha256 from evidence")).all()
        cases = conn.execute(text("select id, shop_id, zone_id, state from cases")).all()
        attached = {r.event_id for r in conn.execute(text("select event_id from case_events"))}
    engine.dispose()
    # every alert was matched to its zone's shop and put on a case (the demo registers the clip's shops)
    assert cases, "central opened no case for the edge's alerts"
    assert {e["event_id"] for e in starts} <= attached
    assert all(c.state == "detected" and c.shop_id for c in cases)
    assert {c.zone_id for c in cases} == {e["zone_id"] for e in starts}
    # every phase the edge wrote arrived, and each was stored once
    assert len(phases) == len(lines)
    assert len({p.message_id for p in phases}) == len(phases)
    assert {(p.event_id, p.phase) for p in phases} == {(e["event_id"], e["phase"]) for e in lines}
    # every start carries evidence that central stored and that decodes as an image
    assert evidence
    store = workdir / "evidence-store"
    heights = []
    for (sha,) in evidence:
        files = list(store.rglob(sha + "*"))
        assert files, f"evidence {sha} not in the store"
        img = cv2.imdecode(np.frombuffer(files[0].read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        assert img is not None, f"evidence {sha} does not decode"
        heights.append(img.shape[0])
    assert max(heights) >= 576, "no full-frame evidence picture among the stored ones"
