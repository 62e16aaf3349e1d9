"""The citizen report allowance lives in the database: one atomic count per client and hour, so concurrent
requests on several instances can never take more than the allowance between them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

import central.orm  # noqa: F401
from central.db import make_engine, make_session_factory
from central.domain import report_limits
from central.orm.base import Base

from .conftest import T0


def test_concurrent_takes_never_exceed_the_allowance(db_url: str) -> None:
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    # two "instances": each its own engine and connection pool on the one database
    factories = [make_session_factory(make_engine(db_url)) for _ in range(2)]

    def attempt(i: int) -> bool:
        with factories[i % 2]() as s:
            try:
                report_limits.take(s, "client-a", per_window=5, now=T0 + timedelta(seconds=i))
                return True
            except report_limits.TooManyReports:
                return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(attempt, range(16)))
    assert sum(taken) == 5
    with factories[0]() as s:
        with pytest.raises(report_limits.TooManyReports) as exc:
            report_limits.take(s, "client-a", per_window=5, now=T0 + timedelta(minutes=10))
        assert exc.value.retry_after == 50 * 60 + 1  # until the hour's window ends
        report_limits.take(s, "client-b", per_window=5, now=T0)  # another client: its own allowance
        start = report_limits.take(s, "client-a", per_window=5, now=T0 + timedelta(hours=1))  # the next hour
        report_limits.give_back(s, "client-a", start)  # refused report: its place comes back
        for k in range(5):
            report_limits.take(s, "client-a", per_window=5, now=T0 + timedelta(hours=1, minutes=k))
        with pytest.raises(report_limits.TooManyReports):
            report_limits.take(s, "client-a", per_window=5, now=T0 + timedelta(hours=1, minutes=6))
    engine.dispose()


def test_the_client_key_is_a_keyed_hash() -> None:
    key = report_limits.client_key("k" * 48, "203.0.113.7")
    assert len(key) == 64 and "203.0.113.7" not in key
    assert key != report_limits.client_key("j" * 48, "203.0.113.7")
