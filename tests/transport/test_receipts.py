"""End-to-end receipts: an edge that waits for central's receipt keeps every message until central has
stored it, so a broker killed before it wrote what it had acknowledged loses nothing either."""

from __future__ import annotations

import sqlite3

from sqlalchemy import select

from central.orm.events import DeadLetter, Event, EventPhaseRecord, Evidence
from edge.spool import Spool
from testkit.transport import count, distinct_events, idle, kill_broker_mid_stream, make_event, wait_for


def test_spool_keeps_sent_rows_until_their_receipt(tmp_path) -> None:
    sp = Spool(tmp_path / "s.db")
    a, b, c = sp.put_many([("t", b"a", "event"), ("t", b"b", "event"), ("t", b"c", "event")],
                          message_ids=["m-a", "m-b", "m-c"])
    sp.mark_sent([a, b])
    assert [m.seq for m in sp.peek()] == [c]  # sent rows wait for their receipt, not sent again
    assert [m.seq for m in sp.peek(sent_before=float("inf"))] == [a, b, c]  # ... until it is overdue
    assert sp.oldest_sent() is not None and sp.depth == 3
    assert sp.ack_messages(["m-b", "m-unknown"]) == 1
    assert [m.seq for m in sp.peek(sent_before=float("inf"))] == [a, c] and sp.depth == 2
    assert sp.bytes == 2 * (1 + 1)
    sp.close()


def test_a_spool_from_before_receipts_opens_and_keeps_its_rows(tmp_path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL,"
        " qos INTEGER NOT NULL, retain INTEGER NOT NULL, kind TEXT NOT NULL, size INTEGER NOT NULL,"
        " created REAL NOT NULL);"
        "INSERT INTO spool(topic, payload, qos, retain, kind, size, created) VALUES ('t', x'01', 1, 0, 'event', 2, 0);"
    )
    db.commit()
    db.close()
    sp = Spool(path)
    assert sp.depth == 1 and [m.payload for m in sp.peek()] == [b"\x01"]
    sp.put("t", b"new", kind="event")
    assert sp.depth == 2
    sp.close()


def test_broker_sigkilled_in_full_flow_loses_nothing_with_receipts(
    broker, topic_prefix, make_central, make_edge
) -> None:
    """The broker dies by SIGKILL while 1,000 events stream; without receipts it loses what it had
    acknowledged but not written to disk (test_resilience_more shows it). With receipts the edge still holds
    those and sends them again: central ends with exactly the 1,000, none twice."""
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix, receipts=True, receipt_timeout_s=3.0)
    f = central.session_factory
    producer, at_kill = kill_broker_mid_stream(broker, edge, f)
    assert at_kill < 1000 and edge.depth > 0
    broker.start()
    producer.join(30)
    assert not producer.is_alive()
    wait_for(lambda: count(f, EventPhaseRecord) == 1000, 60, "all 1,000 events")
    wait_for(lambda: edge.depth == 0, 30, "every spooled message receipted")
    wait_for(lambda: idle(central), 30, "central to handle everything it received")
    assert count(f, Event) == 1000 and distinct_events(f) == 1000
    with f() as s:
        assert all(s.scalars(select(Evidence.stored)))
    assert count(f, Evidence) == 100 and count(f, DeadLetter) == 0
    st = edge.stats()
    assert st["receipted"] == st["spooled"] == 1000, st


def test_without_a_receipt_the_message_is_sent_again(broker, topic_prefix, make_central, make_edge) -> None:
    """Central is away (its session stays subscribed, so the broker PUBACKs and queues): the edge keeps the
    PUBACKed message, and deletes it only when central is back and its receipt comes."""
    edge = make_edge(broker, topic_prefix, receipts=True, receipt_timeout_s=1.0)
    central = make_central(broker, topic_prefix)
    central.stop()
    edge.publish(make_event(1, event_id="e-late"))
    wait_for(lambda: edge.stats()["acked"] >= 1, 10, "the broker's PUBACK")
    assert edge.depth == 1  # acknowledged by the broker, not yet stored by central: kept
    central = make_central(broker, topic_prefix)  # the same client id and database: it takes over the session
    wait_for(lambda: edge.depth == 0, 20, "central's receipt")
    assert count(central.session_factory, Event) == 1 and edge.stats()["receipted"] == 1


def test_a_wall_clock_step_neither_floods_nor_stalls_receipt_resends(
    broker, topic_prefix, make_central, make_edge, monkeypatch
) -> None:
    """The receipt timeout runs on the monotonic clock: NTP stepping the wall clock 10 minutes forward does not
    resend everything at once, 10 minutes back does not hold resends for 10 minutes; rows a stopped edge had
    sent go out again as soon as it restarts."""
    import time

    central = make_central(broker, topic_prefix)
    central.stop()  # its session stays subscribed: the broker PUBACKs and queues, no receipt comes
    edge = make_edge(broker, topic_prefix, receipts=True, receipt_timeout_s=2.0)
    edge.publish(make_event(1, event_id="e-step"))
    wait_for(lambda: edge.stats()["acked"] >= 1, 10, "the broker's PUBACK")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 600.0)
    time.sleep(1.2)
    assert edge.stats()["resent_for_receipt"] == 0, "a step forward made every sent row overdue at once"
    monkeypatch.setattr(time, "time", lambda: real() - 600.0)
    wait_for(lambda: edge.stats()["resent_for_receipt"] >= 1, 5, "the resend 2 s after sending, despite the step")
    monkeypatch.setattr(time, "time", real)
    edge.stop(timeout=3)
    again = make_edge(broker, topic_prefix, receipts=True, receipt_timeout_s=30.0)  # the same spool file
    wait_for(lambda: again.stats()["acked"] >= 1, 5, "the unreceipted row sent again at start")
    assert again.depth == 1
