"""The lean edge install (docs/DEPLOY.md): the wheel `python -m build` makes carries the package data, and a
fresh venv with `pip install '<wheel>[edge]'` holds nothing of central and runs `doorline-edge run --no-mqtt`
on the dev clip, raising its ground truth's alerts. Minutes (pip), so opt-in: `-m deploy`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.deploy, pytest.mark.slow, pytest.mark.timeout(1200)]


def test_edge_extra_installs_and_runs_without_central(shared_dir: Path) -> None:
    truth = json.loads((shared_dir / "data" / "dev-events" / "clip_00.json").read_text())["truth"]
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "lean_edge.py")],
                         env=dict(os.environ, DOORLINE_SHARED=str(shared_dir)), capture_output=True, text=True,
                         timeout=1150)
    assert run.stdout.strip(), run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    print(report)  # the figures docs/DEPLOY.md quotes (pytest -s)
    assert run.returncode == 0, report
    assert report["wheel_missing"] == [] and report["wheel"].endswith("-py3-none-any.whl")
    assert report["central_only_installed"] == []
    assert "frames decoded" in report["edge_summary"] and "ended" in report["edge_summary"]
    assert set(report["zones_started"]) == {t["zone_id"] for t in truth}
    assert report["lean_venv_mb"] < report["dev_venv_mb"] / 2, report
