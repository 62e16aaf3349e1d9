"""A spool that cannot take a message (the disk is full) loses nothing: the publisher holds the messages in
memory, in order, says so on the status topic, and spools and sends them once the spool takes them again.
The "full disk" is SQLite's own: `max_page_count` makes every write fail with SQLITE_FULL, the error a full
file system gives."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select

from central.orm.events import EdgeStatus, Event
from edge.spool import SpoolError
from testkit.transport import SITE, count, make_event, make_evidence, raw_client, wait_for
from wire import topics
from wire.schema import decode


def _fill_disk(edge) -> None:
    """No page left: the file may not grow, and a filler table takes up its free pages. (The spool's pages
    are 64 KiB, so its own empty table page still holds a small row: the tests send ~100 KB pictures.)"""
    db = edge.spool._db  # noqa: SLF001
    with edge.spool._lock:  # noqa: SLF001
        db.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        for size in (65536, 4096, 512, 64, 1):
            try:
                while True:
                    db.execute("INSERT INTO filler VALUES (?)", (b"f" * size,))
            except sqlite3.OperationalError as exc:
                assert "full" in str(exc)


def _free_disk(edge) -> None:
    with edge.spool._lock:  # noqa: SLF001
        edge.spool._db.execute("PRAGMA max_page_count = 1073741823")  # noqa: SLF001


def _status(f) -> EdgeStatus | None:
    with f() as s:
        return s.get(EdgeStatus, (SITE, "cam-1"))


@pytest.mark.parametrize("receipts", [False, True], ids=["puback", "receipts"])
def test_messages_the_spool_cannot_take_are_held_in_order_and_sent_later(
    broker, topic_prefix, make_central, make_edge, receipts
) -> None:
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix, receipts=receipts, status_interval_s=0.5)
    f = central.session_factory
    seen: list[str] = []  # the order the broker passes the events on
    watcher = raw_client(broker, "watcher")
    watcher.on_message = lambda _c, _u, m: seen.append(decode(m.payload).head.event_id)
    watcher.subscribe(topics.topic(SITE, "cam-1", "event", topic_prefix), qos=1)
    wait_for(lambda: edge.connected, 10, "edge connected")
    _fill_disk(edge)

    events = []
    for i in range(20):
        pic = make_evidence(f"e-{i}", seed=i, kb=100)
        ev = make_event(i, event_id=f"e-{i}", evidence=[pic], seq=i)
        assert edge.publish_many([pic, ev]) == []  # held, not refused
        events.append(ev)
    st = edge.stats()
    assert st["held"] == 20 and st["depth"] == 0 and "full" in st["last_spool_error"]
    # the status tells central: degraded, the held messages in the depth, why in the detail
    wait_for(lambda: (_status(f) is not None and _status(f).state == "degraded" and _status(f).spool_depth == 20),
             10, "a degraded status counting the 20 held messages")
    row = _status(f)
    assert "20 message(s) held in memory" in row.detail and "full" in row.detail
    assert not edge.wait_drained(1.5)  # retried every second, still full
    assert count(f, Event) == 0

    _free_disk(edge)
    assert edge.wait_drained(15), edge.stats()
    wait_for(lambda: count(f, Event) == 20, 10, "all 20 events")
    assert edge.stats()["held"] == 0 and edge.stats()["spooled_late"] == 20
    wait_for(lambda: len(seen) >= 20, 10, "the watcher saw all 20")
    watcher.loop_stop()
    assert seen == [e.event_id for e in events]  # spooled, and so sent, in the order they were published
    wait_for(lambda: _status(f).state == "online" and _status(f).spool_depth == 0, 10, "back online")


def test_memory_for_held_messages_is_bounded_and_refusal_is_loud(broker, topic_prefix, make_central, make_edge) -> None:
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix, held_max_bytes=450_000)
    wait_for(lambda: edge.connected, 10, "edge connected")
    _fill_disk(edge)

    def pair(name: str) -> list:
        pic = make_evidence(name, kb=100, seed=len(name))
        return [pic, make_event(0, event_id=name, evidence=[pic])]

    for i in range(3):
        assert edge.publish_many(pair(f"k-{i}")) == []
    with pytest.raises(SpoolError, match=r"held in memory \(limit 450000\); 1 message\(s\) refused"):
        for i in range(5):
            edge.publish_many(pair(f"x-{i}"))
    held = edge.stats()["held"]
    assert edge.stats()["refused"] == 1 and 3 <= held < 5
    _free_disk(edge)
    assert edge.wait_drained(15), edge.stats()
    f = central.session_factory
    wait_for(lambda: count(f, Event) == held, 10, "every held event")
    with f() as s:
        ids = [e.event_id for e in s.scalars(select(Event))]
    assert sorted(ids) == sorted([f"k-{i}" for i in range(3)] + [f"x-{i}" for i in range(held - 3)])


def test_a_message_larger_than_the_whole_spool_is_refused_at_once(
    broker, topic_prefix, make_central, make_edge
) -> None:
    """It could never be spooled, so holding it would only block everything behind it."""
    make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix, spool_max_bytes=100_000)
    with pytest.raises(SpoolError, match="larger than the whole spool"):
        edge.publish(make_evidence("e-big", kb=150))
    assert edge.stats()["held"] == 0
    edge.publish(make_event(1))  # the next one is spooled as usual
    assert edge.wait_drained(10)
