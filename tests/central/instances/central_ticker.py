"""One central instance's ticker over simulated time (run as a separate process by test_two_instances):
waits for the start signal, then ticks every `step` minutes through `hours` hours, committing each tick
like `central.cli.Ticker` (a failed tick is rolled back and retried on the next one)."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import central.orm  # noqa: F401
from central import workflow
from central.db import make_engine, make_session_factory
from central.settings import CentralSettings


def main(url: str, start: str, go: str, hours: int, step_min: int) -> int:
    settings = CentralSettings(database_url=url, ingest_enabled=False, recheck_timeout_s=600,
                               grade_refresh_interval_s=3600)
    factory = make_session_factory(make_engine(url))
    t0 = datetime.fromisoformat(start)
    while not Path(go).exists():
        time.sleep(0.005)
    failed = 0
    for minute in range(0, hours * 60 + 1, step_min):
        with factory() as session:
            try:
                workflow.tick(session, t0 + timedelta(minutes=minute), settings)
                session.commit()
            except Exception as exc:  # noqa: BLE001  (as the real ticker: log, retry next tick)
                session.rollback()
                failed += 1
                print(f"tick at +{minute} min failed: {exc!r}", file=sys.stderr)
    print(f"failed ticks: {failed}")
    return 0


if __name__ == "__main__":
    url, start, go, hours, step = sys.argv[1:6]
    sys.exit(main(url, start, go, int(hours), int(step)))
