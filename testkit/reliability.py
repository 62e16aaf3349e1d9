"""Measured figures for RELIABILITY.md: a test calls `record(scenario, **figures)`; with DOORLINE_RELIABILITY_DIR
set (`make reliability` sets it) they are written to that directory as `<scenario>.json`, which
scripts/reliability_report.py renders. Without it, `record` does nothing (the ordinary suite writes no files)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def reliability_dir() -> Path | None:
    value = os.environ.get("DOORLINE_RELIABILITY_DIR")
    return Path(value) if value else None


def record(scenario: str, **figures: Any) -> None:
    """Write (or merge into) `<scenario>.json`: the figures a test measured, and when."""
    out = reliability_dir()
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{scenario}.json"
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            data = {}
    data.update(figures)
    data["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def examples(default: int, reliability: int) -> int:
    """Hypothesis max_examples: modest in the ordinary suite, more under `make reliability`."""
    return reliability if reliability_dir() is not None else default
