"""Periodic jobs shared by several central instances: exactly one instance runs a job per interval.

`claim` locks the job's row in `job_leases` (SELECT … FOR UPDATE on PostgreSQL; SQLite serialises writers)
and, when the job is due, moves `last_run_at` to now. The lock is held until the caller's transaction ends,
so the job's own writes commit together with the claim: another instance either waits and then finds the
job already done for this interval, or runs it after the first one's result is visible. The jobs themselves
are idempotent too (a second run in the same interval changes nothing).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.domain.clock import as_utc
from central.orm.grades import JobLease

HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def claim(session: Session, job: str, now: datetime, interval_s: float, *, force: bool = False) -> bool:
    """True when this instance should run `job` now (the caller runs it in this transaction)."""
    now = as_utc(now)
    lease = session.get(JobLease, job, with_for_update=True, populate_existing=True)
    if lease is None:
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
