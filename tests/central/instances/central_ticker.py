"""One central instance over simulated time (run as a separate process by test_two_instances): waits for the
start signal, then every `step` minutes through `hours` hours ticks, committing like `central.cli.Ticker` (a
failed tick is rolled back and retried on the next one); takes the reviewer's confirmation of every case
waiting by then (the same click reaching both instances, as a double submit behind a load balancer does);
and runs its notice sender once over the shared outbox."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

import central.orm  # noqa: F401
from central import workflow
from central.db import make_engine, make_session_factory
from central.domain import cases
from central.domain.errors import InvalidTransition
from central.notices.sender import NoticeSender
from central.orm.cases import Case
from central.settings import CentralSettings


def confirm_waiting(factory, now: datetime, settings: CentralSettings) -> int:  # noqa: ANN001
    """Confirm every case opened by `now` that still waits; a case the other instance confirmed first is
    refused (InvalidTransition) and left alone. Returns how many this instance confirmed."""
    with factory() as session:
        waiting = list(session.scalars(select(Case.id).where(Case.state == "detected", Case.opened_at <= now)))
    done = 0
    for case_id in waiting:
        with factory() as session:
            try:
                cases.confirm(session, case_id, actor="reviewer", settings=settings, now=now)
                session.commit()
                done += 1
            except InvalidTransition:
                session.rollback()
    return done


def main(url: str, start: str, go: str, hours: int, step_min: int) -> int:
    settings = CentralSettings(database_url=url, ingest_enabled=False, recheck_timeout_s=600,
                               grade_refresh_interval_s=3600)
    factory = make_session_factory(make_engine(url))
    t0 = datetime.fromisoformat(start)
    while not Path(go).exists():
        time.sleep(0.005)
    sender = NoticeSender(settings, factory)
    failed = confirmed = 0
    for minute in range(0, hours * 60 + 1, step_min):
        now = t0 + timedelta(minutes=minute)
        with factory() as session:
            try:
                workflow.tick(session, now, settings)
                session.commit()
            except Exception as exc:  # noqa: BLE001  (as the real ticker: log, retry next tick)
                session.rollback()
                failed += 1
                print(f"tick at +{minute} min failed: {exc!r}", file=sys.stderr)
        confirmed += confirm_waiting(factory, now, settings)
        while sender.drain_once():
            pass
    sender.stop()
    print(f"failed ticks: {failed}")
    print(f"confirmed: {confirmed}; notices sent: {sender.sent}, retried: {sender.failed}, dead: {sender.dead}")
    return 0


if __name__ == "__main__":
    url, start, go, hours, step = sys.argv[1:6]
    sys.exit(main(url, start, go, int(hours), int(step)))
