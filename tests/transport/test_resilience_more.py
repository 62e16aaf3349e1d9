"""More of nothing lost, nothing doubled: a broker killed with SIGKILL (no final save).

Real Mosquitto (the broker fixture: persistence on, `autosave_interval 1`), real SQLite.

What a SIGKILLed Mosquitto keeps is its last autosave. The edge deletes a spool row when the broker PUBACKs
it, so a message the broker acknowledged, had not yet handed to central and had not autosaved is gone with
the broker (docs/TRANSPORT.md, "Running at scale"): it happens when central lags and the broker queues for
it. Hence two SIGKILL tests: one where, at the kill, the broker holds nothing it acknowledged but had not
delivered (central has caught up), which must end with exactly 1,000; and one killed in full flow, which
must double nothing, store no event without its pictures and drain the edge's spool (everything the broker
had not acknowledged is sent again), whatever the broker lost.
"""

from __future__ import annotations

import threading
import time
import warnings

import pytest
from sqlalchemy import select

from central.orm.events import DeadLetter, Event, EventPhaseRecord, Evidence
from testkit.transport import (
    count,
    distinct_events,
    idle,
    kill_broker_mid_stream,
    produce_events,
    wait_for,
)

pytestmark = pytest.mark.slow



def test_broker_sigkilled_mid_stream_of_1000_events(broker, topic_prefix, make_central, make_edge) -> None:
    """SIGKILL after central caught up with event 300; the edge goes on producing into its spool while the
    broker is dead, and the broker comes back from its autosave (which may still list messages central has
    since stored: they come again and must not be stored twice)."""
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix)
    f = central.session_factory
    paused, resume = threading.Event(), threading.Event()
    producer = threading.Thread(
        target=produce_events, args=(edge,), kwargs={"pause_at": 300, "paused": paused, "resume": resume}
    )
    producer.start()
    try:
        assert paused.wait(20), "the producer never reached event 300"
        wait_for(
            lambda: edge.depth == 0 and count(f, EventPhaseRecord) == 300,
            20,
            "central to store the first 300 events",
        )
        broker.stop(kill=True)  # SIGKILL: no save on the way down
        resume.set()
        wait_for(lambda: edge.depth >= 100, 10, "the edge to keep spooling while the broker is dead")
        assert not edge.connected and count(f, EventPhaseRecord) == 300
        broker.start()
        producer.join(30)
        assert not producer.is_alive()
        wait_for(
            lambda: count(f, EventPhaseRecord) >= 1000 and edge.depth == 0,
            30,
            "1000 events after the restart",
        )
        time.sleep(0.5)  # would a late duplicate still arrive?
    finally:
        resume.set()
        producer.join(5)
    assert count(f, EventPhaseRecord) == 1000, (count(f, EventPhaseRecord), central.stats(), edge.stats())
    assert count(f, Event) == 1000 and distinct_events(f) == 1000
    assert count(f, Evidence, Evidence.stored.is_(True)) == 100 and count(f, Evidence) == 100
    assert count(f, DeadLetter) == 0
    assert edge.stats()["acked"] == edge.stats()["spooled"] and edge.stats()["rejected"] == 0



def test_broker_sigkilled_in_full_flow_doubles_nothing_and_drains_the_spool(
    broker, topic_prefix, make_central, make_edge
) -> None:
    """SIGKILL while 1,000 events stream: what the broker had not acknowledged is sent again from the spool
    (the spool ends empty with every row acknowledged), nothing is stored twice, no event is stored without
    its picture. Events the dead broker had acknowledged but neither delivered nor autosaved are lost (a
    known limit without receipts, see the module docstring and test_receipts): never more than those, and the
    test reports how many."""
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix)
    f = central.session_factory
    producer, at_kill = kill_broker_mid_stream(broker, edge, f)
    time.sleep(1.0)
    assert not edge.connected and at_kill < 1000
    # what the dead broker can have lost is at most what it had acknowledged and not yet handed to central;
    # everything else is still in the edge's spool and must arrive
    acked_at_kill = edge.stats()["acked"]
    assert acked_at_kill < 1000
    broker.start()
    producer.join(30)
    assert not producer.is_alive()
    wait_for(lambda: edge.depth == 0, 30, "the edge to drain its spool")
    wait_for(lambda: idle(central), 30, "central to handle everything it received")
    time.sleep(1.0)  # a late redelivery?
    wait_for(lambda: idle(central), 30, "central to handle everything it received")
    stored = count(f, EventPhaseRecord)
    st = edge.stats()
    assert st["depth"] == 0 and st["acked"] == st["spooled"] == 1000 and st["rejected"] == 0, st
    assert stored <= 1000
    assert 1000 - stored <= acked_at_kill - at_kill, (
        f"lost {1000 - stored}, more than the {acked_at_kill - at_kill} the broker had acknowledged and not delivered"
    )
    assert count(f, Event) == stored and distinct_events(f) == stored  # nothing doubled
    with f() as s:
        ids = set(s.scalars(select(Event.event_id)))
        pictures = {r.event_id: r.stored for r in s.scalars(select(Evidence))}
    with_picture = {f"e{i}" for i in range(0, 1000, 10)}
    assert {e for e in ids if e in with_picture} == set(pictures), "a picture without its event or vice versa"
    assert all(pictures.values()), "an event was stored without its picture"
    assert count(f, DeadLetter) == 0
    if stored < 1000:
        warnings.warn(
            f"SIGKILLed broker lost {1000 - stored} events it had acknowledged (see docs/TRANSPORT.md)",
            stacklevel=1,
        )
