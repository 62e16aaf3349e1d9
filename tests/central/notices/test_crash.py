"""SIGKILL the real central process (`doorline-central serve`) while it is delivering notices, start it
again: every notice arrives, none is lost; the only repeats are notices that were in flight at the kill,
and they carry the same idempotency key, so the receiver applies each notice once."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from central.db import make_engine, make_session_factory
from central.domain import cases
from central.migrate import upgrade
from central.orm.notices import NoticeDelivery, ShopChannel

from .conftest import T0, add_case, add_shop, make_settings
from .notice_receivers import WebhookReceiver

SECRET = "gateway-shared-secret"
N = 30


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str, tmp: Path, log: Path) -> subprocess.Popen:
    env = os.environ | {
        "DOORLINE_DATABASE_URL": url, "DOORLINE_INGEST_ENABLED": "false", "DOORLINE_PORT": str(_port()),
        "DOORLINE_EVIDENCE_DIR": str(tmp / "evidence"), "DOORLINE_NOTICES__LEASE_S": "2",
        "DOORLINE_NOTICES__WORKERS": "4", "DOORLINE_NOTICES__BATCH": "4", "DOORLINE_NOTICES__POLL_S": "0.05",
        "DOORLINE_NOTICES__TIMEOUT_S": "1.5", "DOORLINE_OWNER_LINK_SECRET": secrets.token_urlsafe(48),
        "DOORLINE_SECRET_KEY": secrets.token_urlsafe(48),
        "DOORLINE_TICK_INTERVAL_S": "3600",
    }
    return subprocess.Popen([sys.executable, "-m", "central.cli", "serve"], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_sigkill_mid_delivery_loses_nothing_and_repeats_only_in_flight_notices(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    settings = make_settings()
    rx = WebhookReceiver(SECRET).start()
    rx.stall_s = 0.25  # each delivery takes a while, so the kill lands mid-delivery
    procs: list[subprocess.Popen] = []
    try:
        with factory() as s:
            for i in range(N):
                add_shop(s, f"s{i}")
                s.add(ShopChannel(shop_id=f"s{i}", kind="webhook", target=rx.url, secret=SECRET))
                cases.confirm(s, add_case(s, f"s{i}").id, actor="op", settings=settings, now=T0)
            s.commit()
        procs.append(_serve(url, tmp_path, tmp_path / "central.log"))
        deadline = time.monotonic() + 30

        def claimed_now() -> int:
            with factory() as s:
                return s.scalar(select(func.count()).where(NoticeDelivery.status == "pending",
                                                           NoticeDelivery.claimed_by.is_not(None)))

        while len(rx.keys()) < 8 or not claimed_now():  # some delivered, a batch in the sender's hands
            assert time.monotonic() < deadline, (tmp_path / "central.log").read_text()[-2000:]
            time.sleep(0.01)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        with factory() as s:
            in_flight = set(s.scalars(select(NoticeDelivery.idempotency_key).where(
                NoticeDelivery.status == "pending", NoticeDelivery.claimed_by.is_not(None))))
            sent_before = s.scalar(select(func.count()).where(NoticeDelivery.status == "sent"))
        assert in_flight, "the kill should land while notices are in flight"
        assert sent_before < N
        procs.append(_serve(url, tmp_path, tmp_path / "central2.log"))
        deadline = time.monotonic() + 40
        while True:
            with factory() as s:
                counts = dict(s.execute(select(NoticeDelivery.status, func.count())
                                        .group_by(NoticeDelivery.status)).all())
            if counts.get("sent") == N:
                break
            assert time.monotonic() < deadline, (counts, (tmp_path / "central2.log").read_text()[-2000:])
            time.sleep(0.1)
        time.sleep(0.3)  # a late repeat would show up now
        received = Counter(rx.keys())
        with factory() as s:
            expected = set(s.scalars(select(NoticeDelivery.idempotency_key)))
        assert set(received) == expected  # no loss
        repeats = {k for k, n in received.items() if n > 1}
        assert repeats <= in_flight  # a repeat only for what the dead process had in hand
        assert all(n <= 2 for n in received.values())
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
        rx.stop()
        engine.dispose()
