"""Periodic jobs shared by several central instances: exactly one instance runs a job per interval.

`claim` locks the job's row in `job_leases` (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite
serialises writers) and, when the job is due, moves `last_run_at` to now; an instance that finds the row
locked skips the job (another one is running it). The lock is held until the caller's transaction ends,
so the job's own writes commit together with the claim: another instance either skips it while it runs or
finds it already done for this interval. The jobs themselves are idempotent too (a second run in the same
interval changes nothing).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.domain.clock import as_utc
from central.orm.grades import JobLease

HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def claim(session: Session, job: str, now: datetime, interval_s: float, *, force: bool = False) -> bool:
    """True when this instance should run `job` now (the caller runs it in this transaction)."""
    now = as_utc(now)
    # SKIP LOCKED (PostgreSQL): an instance running the job right now holds the row; the others go on with
    # their tick instead of waiting for it
    lease = session.get(JobLease, job, with_for_update={"skip_locked": True}, populate_existing=True)
    if lease is None:
        if session.scalar(select(JobLease.name).where(JobLease.name == job)) is not None:
            return False  # held by another instance
        try:
            with session.begin_nested():
                session.add(JobLease(name=job, last_run_at=now, holder=HOLDER))
                session.flush()
            return True
        except IntegrityError:  # another instance created it first: take its row lock, then decide
            lease = session.get(JobLease, job, with_for_update=True, populate_existing=True)
            if lease is None:
                raise
    last = as_utc(lease.last_run_at)
    # another instance slightly behind in time must not run it again; a clock set back by more than the
    # interval (simulated time, a corrected host clock) makes the job due
    if not force and abs(now - last) < timedelta(seconds=interval_s):
        return False
    lease.last_run_at, lease.holder = now, HOLDER
    session.flush()
    return True
