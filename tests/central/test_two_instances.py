"""Two central instances (separate processes, each with its own ticker and notice sender) on one PostgreSQL
run a day of simulated time: every periodic job runs once, nothing is written twice: no hot spot, grade
change, recheck command, officer task, notice or notice delivery (issue 23, item 2 and "Done when")."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import central.orm  # noqa: F401
from central.db import make_engine, make_session_factory
from central.orm.base import Base
from central.orm.cases import Case, Notice, OfficerTask
from central.orm.events import Outbox
from central.orm.grades import GradeChange, HotSpot
from central.orm.notices import NoticeDelivery, OfficerContact, ShopChannel
from central.orm.shops import Shop
from wire.ids import new_id

from .notices.notice_receivers import WebhookReceiver

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
WORKER = Path(__file__).with_name("instances") / "central_ticker.py"


def _seed(factory, webhook: WebhookReceiver) -> dict[str, int]:
    """120 shops, 5 to an address. Shops 0–39 have 5 old violations (→ red at the first regrade); one shop
    of each of the first 8 addresses has an open case whose window ends during the day (→ one recheck
    command, then one officer task each); addresses 0–7 have 5+ tickets with an open case (→ hot spots).
    A second shop of each of those addresses has a case that comes in during the day and waits for a
    reviewer (→ one notice to the owner's webhook and one to the street officer's, then its own window,
    recheck command and officer task); those shops are red already, so confirming changes no grade."""
    with factory() as s:
        s.add(OfficerContact(area="North", name="officer", kind="webhook", target=webhook.url, secret=webhook.secret))
        for i in range(120):
            s.add(Shop(id=f"s{i:03d}", name=f"Shop {i}", address=f"{i // 5} Main Road", road="Main Road",
                       area="North", grade="green"))
        s.flush()
        for i in range(40):
            for d in range(5):
                at = T0 - timedelta(days=10 + d)
                s.add(Case(id=new_id(), shop_id=f"s{i:03d}", violation="piled_goods", state="resolved",
                           is_open=False, opened_at=at, confirmed_at=at, strike=d + 1))
        for a in range(8):
            ends = T0 + timedelta(hours=1 + a * 2)
            s.add(Case(id=new_id(), shop_id=f"s{a * 5:03d}", violation="cross_door_trading", state="notified",
                       is_open=True, site_id="site-1", camera_id=f"cam-{a}", zone_id=f"z-{a}", source_kind="fixed",
                       opened_at=T0 - timedelta(minutes=40), confirmed_at=T0 - timedelta(minutes=40),
                       notified_at=T0 - timedelta(minutes=40), window_ends_at=ends, strike=6))
            shop = f"s{a * 5 + 1:03d}"
            s.add(ShopChannel(shop_id=shop, kind="webhook", target=webhook.url, secret=webhook.secret))
            s.add(Case(id=f"new-{a}", shop_id=shop, violation="piled_goods", state="detected", is_open=True,
                       site_id="site-1", camera_id=f"cam-{a}", zone_id=f"y-{a}", source_kind="fixed",
                       opened_at=T0 + timedelta(hours=2 + a * 2, minutes=5)))
        s.commit()
    return {"red": 40, "open": 16, "notices": 8}


@pytest.mark.slow
@pytest.mark.postgres
def test_two_instances_run_a_day_without_duplicates(pg_icu_url: str, tmp_path: Path) -> None:
    engine = make_engine(pg_icu_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    webhook = WebhookReceiver(secrets.token_urlsafe(24)).start()
    expected = _seed(factory, webhook)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), pg_icu_url, T0.isoformat(), str(go), "24", "10"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    go.touch()  # both start at the same simulated instant
    outputs = [p.communicate(timeout=240) for p in procs]
    webhook.stop()
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0 and "failed ticks: 0" in out, err[-2000:]
    with factory() as s:
        spots = Counter(s.scalars(select(HotSpot.address).where(HotSpot.cleared_at.is_(None))))
        assert len(spots) == 8 and set(spots.values()) == {1}, spots
        changes = Counter(s.scalars(select(GradeChange.shop_id)))
        assert len(changes) == expected["red"] and set(changes.values()) == {1}, changes
        assert dict(s.execute(select(Shop.grade, func.count()).group_by(Shop.grade)).all()) == {
            "red": 40, "green": 80}
        commands = Counter(s.scalars(select(Outbox.command_id)))
        assert len(commands) == expected["open"] and set(commands.values()) == {1}
        tasks = Counter(s.scalars(select(OfficerTask.case_id)))
        assert len(tasks) == expected["open"] and set(tasks.values()) == {1}
        assert set(s.scalars(select(Case.state).where(Case.is_open.is_(True)))) == {"officer_recheck"}
        # each waiting case confirmed once: one notice, one delivery to the owner and one to the officer
        notices = Counter(s.scalars(select(Notice.case_id)))
        assert len(notices) == expected["notices"] and set(notices.values()) == {1}, notices
        assert set(s.scalars(select(Case.strike).where(Case.id.like("new-%")))) == {6}
        deliveries = list(s.scalars(select(NoticeDelivery)))
        assert len(deliveries) == 2 * expected["notices"]
        assert {(d.status, d.attempts) for d in deliveries} == {("sent", 1)}
    # and each reached the receiver once, whichever instance sent it
    received = Counter(webhook.keys())
    assert len(received) == 2 * expected["notices"] and set(received.values()) == {1}, received
    assert sum(int(out.split("confirmed: ")[1].split(";")[0]) for out, _ in outputs) == expected["notices"]
    engine.dispose()
