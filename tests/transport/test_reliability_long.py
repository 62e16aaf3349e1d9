"""Longer fault runs for `make reliability` (skipped otherwise): a 60 s broker outage, and poison payloads mixed
into a stream of 2,000 events at a real central process."""

from __future__ import annotations

import time

import pytest

from central.orm.events import DeadLetter, EventPhaseRecord
from testkit.reliability import record
from testkit.transport import (
    POISON,
    SITE,
    central_db,
    central_process,
    count,
    distinct_events,
    make_event,
    raw_client,
    send,
    stop_process,
)
from testkit.transport import wait_for as wait
from wire import topics
from wire.schema import encode

pytestmark = [  # skipped outside `make reliability` by the `reliability` marker (tests/conftest.py)
    pytest.mark.reliability,
    pytest.mark.slow,
]


def test_a_60s_broker_outage_loses_and_doubles_nothing(broker, topic_prefix, make_central, make_edge) -> None:
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix)
    f = central.session_factory
    for i in range(150):
        edge.publish(make_event(i))
    wait(lambda: count(f, EventPhaseRecord) >= 50, 20, "the stream to be under way")
    broker.stop()
    down = time.monotonic()
    for i in range(150, 300):  # the edge goes on producing through the outage: 2.5 events/s for 60 s
        edge.publish(make_event(i))
        time.sleep(0.4)
    while time.monotonic() - down < 60:
        time.sleep(0.2)
    outage = time.monotonic() - down
    assert not edge.connected
    broker.start()
    wait(lambda: count(f, EventPhaseRecord) >= 300 and edge.depth == 0, 90, "all 300 after the outage")
    time.sleep(1.0)
    stored, distinct = count(f, EventPhaseRecord), distinct_events(f)
    assert stored == 300 and distinct == 300
    record("broker-outage-60s", outage_s=round(outage, 1), sent=300, stored=stored, doubled=stored - distinct,
           lost=300 - distinct)


def test_poison_mixed_into_2000_events_at_a_real_central(broker, topic_prefix, tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    _, f = central_db(db_url)
    central = central_process(broker, topic_prefix, db_url, tmp_path / "evidence", "central-1")
    try:
        c = raw_client(broker)
        t = topics.topic(SITE, "cam-1", "event", topic_prefix)
        started = time.monotonic()
        poison = 0
        for i in range(2000):
            send(c, t, encode(make_event(i)))
            if i % 10 == 0:
                send(c, t, POISON[poison % len(POISON)][1])
                poison += 1
        wait(lambda: count(f, EventPhaseRecord) == 2000 and count(f, DeadLetter) == poison, 120,
             f"2000 events and {poison} dead letters")
        took = time.monotonic() - started
        c.loop_stop()
    finally:
        stop_process(central)
    record("poison-soak", events=2000, poison=poison, stored=2000, dead_letters=poison, seconds=round(took, 1))
