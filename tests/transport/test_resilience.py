"""Nothing lost, nothing doubled: broker restarts, killed edges, killed central, two central instances.

Real Mosquitto, real processes (testkit/run_edge.py, testkit/run_central.py), real SQLite; the killed-central
and two-centrals tests also on PostgreSQL (a fresh database per test, dropped afterwards)."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest

from central.orm.events import Event, EventPhaseRecord, Evidence
from testkit.transport import (
    central_db,
    central_process,
    count,
    distinct_events,
    expect_line,
    make_event,
    make_evidence,
    spawn,
    stop_process,
    wait_for,
)

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.slow


def test_broker_killed_mid_stream_of_1000_events(broker, topic_prefix, make_central, make_edge) -> None:
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix)
    f = central.session_factory

    def produce() -> None:
        for i in range(1000):
            evidence = [make_evidence(f"e{i}", kb=5, seed=i % 3)] if i % 10 == 0 else []
            for e in evidence:
                edge.publish(e)
            edge.publish(make_event(i, evidence=evidence, event_id=f"e{i}"))
            if i % 50 == 0:
                time.sleep(0.05)

    producer = threading.Thread(target=produce)
    producer.start()
    wait_for(lambda: count(f, EventPhaseRecord) >= 150, 20, "the stream to be under way")
    broker.stop()  # SIGTERM: Mosquitto saves its persistent store on the way down (see transport.md)
    stored_while_down = count(f, EventPhaseRecord)
    time.sleep(1.0)
    assert not edge.connected and stored_while_down < 1000
    broker.start()
    producer.join(30)
    wait_for(
        lambda: count(f, EventPhaseRecord) >= 1000 and edge.depth == 0,
        45,
        f"1000 events after the restart (have {count(f, EventPhaseRecord)}, spool {edge.depth})",
    )
    time.sleep(0.5)  # would a late duplicate still arrive?
    assert count(f, EventPhaseRecord) == 1000
    assert count(f, Event) == 1000 and distinct_events(f) == 1000
    assert count(f, Evidence, Evidence.stored.is_(True)) == 100


def test_sigkilled_edge_delivers_its_spool_after_restart(broker, topic_prefix, tmp_path) -> None:
    spool = tmp_path / "edge-spool.db"
    broker.stop()  # the broker is down while the edge produces
    edge = spawn([
        "-m",
        "testkit.run_edge",
        "--port",
        str(broker.port),
        "--prefix",
        topic_prefix,
        "--spool",
        str(spool),
        "--count",
        "200",
        "--evidence-every",
        "20",
    ])
    assert expect_line(edge, "SPOOLED") == "SPOOLED 210"  # 200 events + 10 evidence images
    edge.send_signal(signal.SIGKILL)
    edge.wait(10)
    broker.start()
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    central = central_process(broker, topic_prefix, db_url, tmp_path / "evidence", "central-1")
    try:
        edge2 = spawn([
            "-m",
        "testkit.run_edge",
            "--port",
            str(broker.port),
            "--prefix",
            topic_prefix,
            "--spool",
            str(spool),
            "--exit-when-drained",
            "--timeout",
            "30",
        ])
        assert expect_line(edge2, "DRAINED", 40) == "DRAINED"
        edge2.wait(10)
        _, f = central_db(db_url)
        wait_for(
            lambda: count(f, EventPhaseRecord) == 200 and count(f, Evidence, Evidence.stored.is_(True)) == 10,
            20,
            "the 200 spooled events and their evidence",
        )
    finally:
        stop_process(central)


def test_sigkilled_central_loses_and_doubles_nothing(
    broker, topic_prefix, tmp_path, make_edge, db_url, central_factory
) -> None:
    f = central_factory
    central = central_process(broker, topic_prefix, db_url, tmp_path / "evidence", "central-1")
    edge = make_edge(broker, topic_prefix)
    n = 600
    for i in range(n):
        evidence = [make_evidence(f"e{i}", kb=40, seed=i % 4)] if i % 3 == 0 else []
        for e in evidence:
            edge.publish(e)
        edge.publish(make_event(i, evidence=evidence, event_id=f"e{i}"))
    wait_for(lambda: count(f, EventPhaseRecord) >= 60, 30, "central to be busy")
    central.send_signal(signal.SIGKILL)  # with messages received, some committed, none of the rest acked
    central.wait(10)
    at_kill = count(f, EventPhaseRecord)
    assert at_kill < n, "central finished before it could be killed; make the stream longer"
    central = central_process(broker, topic_prefix, db_url, tmp_path / "evidence", "central-1")  # same session
    try:
        wait_for(
            lambda: count(f, EventPhaseRecord) >= n, 60, f"all {n} events (have {count(f, EventPhaseRecord)})"
        )
        assert edge.wait_drained(10)
        time.sleep(0.5)
    finally:
        out = stop_process(central)
    assert count(f, EventPhaseRecord) == n and count(f, Event) == n and distinct_events(f) == n
    assert count(f, Evidence, Evidence.stored.is_(True)) == n // 3
    assert "STATS" in out


def test_two_centrals_share_the_load_and_store_each_event_once(
    broker, topic_prefix, tmp_path, make_edge, db_url, central_factory
) -> None:
    f = central_factory
    a = central_process(broker, topic_prefix, db_url, tmp_path / "evidence", "central-a")
    b = central_process(broker, topic_prefix, db_url, tmp_path / "evidence", "central-b")
    edges = [make_edge(broker, topic_prefix, edge_id=f"edge-{k}", cameras=(f"cam-{k}",)) for k in range(2)]
    n = 400
    try:
        for i in range(n):
            edges[i % 2].publish(make_event(i, camera=f"cam-{i % 2}", event_id=f"e{i}"))
        wait_for(lambda: count(f, EventPhaseRecord) >= n, 45, f"{n} events")
        time.sleep(0.5)
    finally:
        out_a, out_b = stop_process(a), stop_process(b)
    assert count(f, EventPhaseRecord) == n and count(f, Event) == n
    stats = [
        json.loads(line.split("STATS ", 1)[1])
        for out in (out_a, out_b)
        for line in out.splitlines()
        if line.startswith("STATS ")
    ]
    stored = [s["stored"] for s in stats]
    brief = [{k: s[k] for k in ("received", "stored", "duplicates", "dead_letters", "db_errors")} for s in stats]
    assert sum(stored) == n, brief
    assert min(stored) >= n // 5, f"the shared subscription did not split the load: {stored}"
    if db_url.startswith("postgresql"):  # SQLite's single writer may make an instance retry a locked commit
        assert distinct_events(f) == n and len(stats) == 2, (out_a, out_b)
        assert all(s["db_errors"] == 0 for s in stats), brief
