"""1,000 simulated edges against a real central (issue 15): `scripts/bench/fleet.py --short` (heartbeats from
every edge, events with pictures, a 10x burst) through a real Mosquitto into `doorline-central serve` on
PostgreSQL. Nothing lost or doubled; the CPU, memory and latency it measured go to RELIABILITY.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.reliability import record
from testkit.transport import REPO_DIR

pytestmark = [pytest.mark.slow, pytest.mark.reliability]  # ~90 s: 20 s to connect, 30 s of load, the drain


def test_a_fleet_of_1000_edges_loses_and_doubles_nothing(tmp_path: Path) -> None:
    out = tmp_path / "fleet.json"
    run = subprocess.run(
        [sys.executable, str(REPO_DIR / "scripts" / "bench" / "fleet.py"), "--edges", "1000", "--short",
         "--workdir", str(tmp_path / "work"), "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO_DIR)
    assert out.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["connected"] == 1000, r["connected"]
    assert r["events_sent"] > 0 and r["lost"] == 0 and r["doubled"] == 0, run.stdout[-2000:]
    assert r["dead_letters"] == 0
    by = {p["phase"]: p for p in r["phases"]}
    assert by["burst 10x"]["events_sent"] > 5 * by["steady 1x"]["events_sent"]
    assert all(p["statuses_per_s"] > 0 for p in r["phases"])  # the heartbeats were applied all along
    assert run.returncode == 0, run.stdout[-2000:]
    figures = {"edges": r["edges"], "events": r["events_sent"], "lost": r["lost"], "doubled": r["doubled"],
               "backlog_gone_after_s": r["backlog_drained_s_after_end"],
               "peak_stored_per_s_over_10s": r["peak_stored_rate_10s"],
               "load_avg_1min": round(r["host"]["load_avg"][0], 1)}
    for p in r["phases"]:
        key = p["phase"].split()[0]
        u = p["use"]
        figures[f"{key}_offered_per_s"] = p["offered_measured_rate"]
        figures[f"{key}_stored_per_s"] = p["stored_rate"]
        figures[f"{key}_statuses_per_s"] = p["statuses_per_s"]
        figures[f"{key}_p99_s"] = p["p99_s"]
        figures[f"{key}_central_cpu_pct"] = u["central"]["cpu_pct"]
        figures[f"{key}_central_rss_mb"] = u["central"]["rss_mb_peak"]
        figures[f"{key}_mosquitto_rss_mb"] = u["mosquitto"]["rss_mb_peak"]
        figures[f"{key}_postgresql_cpu_pct"] = u["postgresql"]["cpu_pct"]
    record("fleet-1000", **figures)
