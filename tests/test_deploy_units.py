"""The systemd units pass `systemd-analyze verify` with no warning (their programs pointed at this venv)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[1] / "deploy" / "systemd"


def test_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    venv_bin = Path(sys.executable).parent
    names = []
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace("/opt/doorline/venv/bin/", f"{venv_bin}/")
        name = unit.name.replace("@.service", "@1.service")  # verify an instance of a template
        (tmp_path / name).write_text(text)
        names.append(str(tmp_path / name))
    assert len(names) == 2
    run = subprocess.run([analyze, "verify", "--man=no", *names], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr
    for name in names:
        text = Path(name).read_text()
        for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "User=doorline", "Restart=on-failure",
                       "StateDirectory=doorline/"):
            assert option in text, f"{name} lacks {option}"
        assert "EnvironmentFile=/etc/doorline/" in text  # secrets never in the unit itself
