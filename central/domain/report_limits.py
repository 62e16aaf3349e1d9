"""How many citizen reports one client may send: `per_window` in each fixed window of `window_s` seconds,
counted in the database (`report_allowances`), so every central instance on it shares one count.

A report takes its place before it is checked (`take`: one atomic INSERT … ON CONFLICT DO UPDATE … RETURNING
on SQLite and PostgreSQL, so two instances can never both take the last place) and gives it back if it is
refused (`give_back`): a citizen whose photo would not decode is not charged for it. The client is known by a
keyed hash of its address; rows older than a day are deleted as new ones are written. Unlike most domain
functions these commit: the count must be seen by the other instances at once, whatever becomes of the
report."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from central.domain.clock import as_utc, from_unix, now_utc
from central.domain.errors import DomainError
from central.orm.reports import ReportAllowance

PER_WINDOW = 5
WINDOW_S = 3600
KEEP = timedelta(days=1)


class TooManyReports(DomainError):
    """This client has sent its reports for the window; `retry_after` seconds until the next one."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def client_key(secret: str, address: str) -> str:
    return hmac.new(secret.encode(), f"citizen-report|{address}".encode(), hashlib.sha256).hexdigest()


def window_start(now: datetime, window_s: int = WINDOW_S) -> datetime:
    ts = as_utc(now).timestamp()
    return from_unix(ts - ts % window_s)


def take(session: Session, key: str, *, per_window: int = PER_WINDOW, window_s: int = WINDOW_S,
         now: datetime | None = None) -> datetime:
    """Count one report for `key` in the current window and commit; TooManyReports (nothing counted) when the
    window is full. Returns the window's start (for `give_back`)."""
    now = as_utc(now) or now_utc()
    start = window_start(now, window_s)
    table = ReportAllowance.__table__
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table).values(client_key=key, window_start=start, count=1)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.client_key, table.c.window_start],
                                      set_={"count": table.c.count + 1}).returning(table.c.count)
    count = int(session.execute(stmt).scalar_one())
    if count > per_window:
        session.rollback()
        wait = int((start + timedelta(seconds=window_s) - now).total_seconds()) + 1
        raise TooManyReports(f"too many reports from this client; try again in {wait} s", wait)
    session.execute(delete(ReportAllowance).where(ReportAllowance.window_start < now - KEEP))
    session.commit()
    return start


def give_back(session: Session, key: str, start: datetime) -> None:
    """The report `take` counted in the window beginning at `start` was refused: uncount it (commits)."""
    session.execute(update(ReportAllowance)
                    .where(ReportAllowance.client_key == key, ReportAllowance.window_start == start,
                           ReportAllowance.count > 0)
                    .values(count=ReportAllowance.count - 1))
    session.commit()
