"""Backpressure for real: central's database is locked while edges publish hundreds of events.

The lock comes from another connection (SQLite: `BEGIN EXCLUSIVE` held open; PostgreSQL: `LOCK TABLE events
IN ACCESS EXCLUSIVE MODE` in an open transaction), so central's writer waits inside its commit exactly as it
would on a slow or busy database. Real Mosquitto (with `sys_interval 1`, so its `$SYS` numbers are fresh),
real `IngestService`, real `Publisher`s with their spools, `GET /metrics` on the real app.

What the numbers must say while central is blocked: its Receive Maximum window is full
(`doorline_ingest_unacked` = capacity, part of it still in the queue), the edges' spools are empty (the
broker PUBACKs what it has queued; their statuses say so), and the rest sits in the broker
(`doorline_broker_store_messages` rises by at least what was published). Once the lock goes: every event
stored exactly once, no dead letters, every depth back to 0.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, select

from central import metrics
from central.app import create_app
from central.orm.events import DeadLetter, EdgeStatus, Event, EventPhaseRecord
from testkit.transport import METRICS_TOKEN, SITE, count, make_event, wait_for
from wire import topics
from wire.mqtt import MqttSettings

CAPACITY = 80  # central's Receive Maximum (below the test broker's max_inflight_messages 100, so it is ours)
BATCH = 10  # small batches: the prepare/ready/writer stages hold at most 4 of them, the rest stays queued
WAVES, PER_EDGE_PER_WAVE = 3, 50  # 2 edges × 3 waves × 50 = 300 events
SYS_BROKER = "sys_interval 1\n"
# the broker's store also holds retained messages (its own $SYS values, the edges' statuses): the baseline
# moves as topics appear (seen: +20 in a slow run, as more $SYS topics joined); a backlog moves it by hundreds
STORE_SLACK = 40


# ------------------------------------------------------------------------------------------------- helpers


class DbLock:
    """A write lock on central's database, held by another connection until `release()`."""

    def __init__(self, url: str):
        self.url = url
        self._sqlite: sqlite3.Connection | None = None
        self._engine = None
        self._conn = None
        self._trans = None

    def acquire(self) -> DbLock:
        if self.url.startswith("sqlite"):
            self._sqlite = sqlite3.connect(self.url.split("///", 1)[1], isolation_level=None, timeout=5)
            self._sqlite.execute("BEGIN EXCLUSIVE")
        else:
            self._engine = create_engine(self.url)
            self._conn = self._engine.connect()
            self._trans = self._conn.begin()
            self._conn.exec_driver_sql(f"LOCK TABLE {Event.__tablename__} IN ACCESS EXCLUSIVE MODE")
        return self

    def release(self) -> None:
        if self._sqlite is not None:
            self._sqlite.execute("ROLLBACK")
            self._sqlite.close()
            self._sqlite = None
        if self._trans is not None:
            self._trans.rollback()
            self._conn.close()
            self._engine.dispose()
            self._trans = self._conn = self._engine = None


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(http: TestClient) -> dict[tuple[str, frozenset], float]:
    """GET /metrics, parsed: (metric name, frozenset of label pairs) → value."""
    r = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[tuple[str, frozenset], float] = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        out[(m[1], frozenset(_LABEL.findall(m[2] or "")))] = float(m[3])
    return out


def val(sample: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in sample, f"{name}{labels} not in /metrics: {sorted(k for k in sample if k[0] == name)}"
    return sample[key]


def wait_metric(http: TestClient, name: str, labels: dict[str, str], ok, timeout: float, what: str) -> float:
    """Scrape until `ok(value)`; the last value seen is in the failure message."""
    seen: list[float] = []

    def check() -> bool:
        seen.append(val(scrape(http), name, **labels))
        return bool(ok(seen[-1]))

    try:
        wait_for(check, timeout, what, interval=0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {name} went {seen[:3]} ... {seen[-3:]}") from None
    return seen[-1]


def settled_store(http: TestClient, labels: dict[str, str]) -> float:
    """The broker's store count once it holds still for a $SYS round (Mosquitto reports it a round late, and
    its own $SYS retained messages join the store in its first rounds)."""
    prev = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = val(scrape(http), "doorline_broker_store_messages", **labels)
        if prev is not None and abs(now - prev) <= 2:  # a status or two may be on its way
            return now
        prev = now
        time.sleep(1.2)
    raise AssertionError(f"the broker's store count kept moving (last {prev})")


class StatusWatcher:
    """Every status message the edges publish, as the broker hands them out (not blocked by central)."""

    def __init__(self, broker, prefix: str):
        self.seen: list[tuple[float, dict]] = []  # (monotonic time, payload)
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bp-status-watcher", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: ready.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(topics.upstream_filter(prefix, "status"), qos=1)
        assert ready.wait(5), "status watcher not subscribed"

    def _on_message(self, _c, _u, m) -> None:
        with self._lock:
            self.seen.append((time.monotonic(), json.loads(m.payload)))

    def between(self, start: float, end: float) -> list[dict]:
        with self._lock:
            return [p for t, p in self.seen if start <= t <= end]

    def latest(self, camera: str) -> dict | None:
        with self._lock:
            mine = [p for _t, p in self.seen if p["camera_id"] == camera]
        return mine[-1] if mine else None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# --------------------------------------------------------------------------------------------------- tests


@pytest.mark.slow
def test_slow_central_shows_its_backlog_and_loses_nothing(
    broker_factory, topic_prefix, db_url, make_central, make_edge
) -> None:
    broker = broker_factory(SYS_BROKER)
    central = make_central(
        broker, topic_prefix, db_url, client_id="central-bp", receive_maximum=CAPACITY, batch_size=BATCH
    )
    f = central.session_factory
    inst = {"instance": "central-bp"}
    brk = {"broker": f"{broker.host}:{broker.port}"}
    monitor = metrics.watch_broker(MqttSettings(host=broker.host, port=broker.port), "central-bp-sys")
    watcher = StatusWatcher(broker, topic_prefix)
    lock = DbLock(db_url)
    try:
        assert monitor.wait_ready(5), "no $SYS value from the broker"
        app = create_app(central.settings, f, store=central.store)
        with TestClient(app) as http:
            edges = [
                make_edge(broker, topic_prefix, edge_id=f"edge-{k}", cameras=(f"cam-{k}",), status_interval_s=0.5)
                for k in (1, 2)
            ]
            wait_for(lambda: count(f, EdgeStatus) == 2, 10, "both edges' first status stored")
            # statuses come every 0.5 s: wait for a moment with none in flight
            wait_for(lambda: val(scrape(http), "doorline_ingest_unacked", **inst) == 0, 5, "nothing unacked")
            before = scrape(http)
            assert val(before, "doorline_ingest_queue_capacity", **inst) == CAPACITY
            baseline = settled_store(http, brk)
            statuses_before, statuses_since = central.stats()["statuses"], time.monotonic()

            lock.acquire()
            locked_at = time.monotonic()
            published: list[str] = []
            received: list[float] = []
            try:
                for wave in range(WAVES):
                    for k, edge in enumerate(edges, 1):
                        msgs = [make_event(i, camera=f"cam-{k}") for i in range(PER_EDGE_PER_WAVE)]
                        edge.publish_many(msgs)
                        published += [m.message_id for m in msgs]
                    # everything published so far is held by the broker: queued, or in flight to central
                    total = len(published)
                    wait_metric(
                        http,
                        "doorline_broker_store_messages",
                        brk,
                        lambda v, total=total: v - baseline >= total,
                        10,
                        f"the broker's store to grow by the {total} events published so far (wave {wave + 1})",
                    )
                    m = scrape(http)
                    assert val(m, "doorline_ingest_unacked", **inst) == CAPACITY, "the window is not full"
                    depth = val(m, "doorline_ingest_queue_depth", **inst)
                    assert CAPACITY - 4 * BATCH <= depth <= CAPACITY, depth
                    received.append(val(m, "doorline_ingest_received_total", **inst))
                    assert val(m, "doorline_ingest_stored_total", **inst) == 0
                    assert val(m, "doorline_broker_dropped_messages_total", **brk) == 0
                    assert val(m, "doorline_broker_sys_age_seconds", **brk) < 3, "stale $SYS numbers"
                # the edges are not where the backlog is: the broker PUBACKed everything, their spools are
                # empty while central still has stored nothing, and their statuses say so
                for k, edge in enumerate(edges, 1):
                    assert edge.wait_drained(10), edge.stats()
                    st = edge.stats()
                    assert st["acked"] == WAVES * PER_EDGE_PER_WAVE and st["unrouted"] == 0, st
                    wait_for(
                        lambda k=k: (watcher.latest(f"cam-{k}") or {}).get("spool_depth") == 0,
                        5,
                        f"edge-{k}'s status to report an empty spool",
                    )
                assert count(f, EventPhaseRecord) == 0, "central stored while its database was locked"
                m = scrape(http)
                assert val(m, "doorline_ingest_unacked", **inst) == CAPACITY
                # with its window full, the broker sent central nothing more, however much came in
                received.append(val(m, "doorline_ingest_received_total", **inst))
                assert len(set(received)) == 1, received
                held = val(m, "doorline_broker_store_messages", **brk) - baseline
                assert held >= len(published), (held, len(published))
                # the table gauges (central's last stored status of each edge) still answer with the lock held
                for k in (1, 2):
                    assert val(m, "doorline_edge_spool_depth", site=SITE, camera=f"cam-{k}", edge=f"edge-{k}") == 0
            finally:
                lock.release()
            released_at = time.monotonic()

            n = len(published)
            wait_for(lambda: count(f, EventPhaseRecord) == n, 20, f"all {n} events stored")
            wait_metric(http, "doorline_ingest_unacked", inst, lambda v: v == 0, 10, "central's window empty")
            wait_metric(http, "doorline_ingest_queue_depth", inst, lambda v: v == 0, 5, "central's queue empty")
            wait_metric(
                http,
                "doorline_broker_store_messages",
                brk,
                lambda v: v - baseline <= STORE_SLACK,
                10,
                f"the broker's backlog gone (baseline {baseline})",
            )
            with f() as s:
                stored_ids = list(s.scalars(select(EventPhaseRecord.message_id)))
            assert len(stored_ids) == n and set(stored_ids) == set(published)
            assert count(f, Event) == n
            assert count(f, DeadLetter) == 0
            st = central.stats()
            assert st["stored"] == n and st["duplicates"] == 0 and st["dead_letters"] == 0, st
            # the statuses published while central was blocked waited in the broker too: central applied as
            # many as the edges published (give or take the one per edge on its way)
            blocked = len(watcher.between(locked_at, released_at))
            assert blocked >= 4, blocked  # two edges, every 0.5 s, for several seconds
            applied = central.stats()["statuses"] - statuses_before
            published_statuses = len(watcher.between(statuses_since, time.monotonic()))
            assert abs(applied - published_statuses) <= 3, (applied, published_statuses)
            m = scrape(http)
            assert val(m, "doorline_dead_letters") == 0
            assert val(m, "doorline_broker_dropped_messages_total", **brk) == 0
            for k in (1, 2):
                assert val(m, "doorline_edge_spool_depth", site=SITE, camera=f"cam-{k}", edge=f"edge-{k}") == 0
                assert val(m, "doorline_edge_online", site=SITE, camera=f"cam-{k}", edge=f"edge-{k}") == 1
    finally:
        lock.release()
        watcher.close()
        monitor.stop()


def test_what_the_broker_drops_at_its_queue_limit_shows_in_metrics(
    broker_factory, topic_prefix, tmp_path, make_central, make_edge
) -> None:
    """Mosquitto drops a session's messages past `max_queued_messages` (its default: 1000) although it has
    PUBACKed them: the edge deletes them from its spool and central never sees them. Only the broker's
    dropped counter tells; /metrics must carry it, exactly."""
    limit = 20  # the broker's queue per session, and central's window
    broker = broker_factory(SYS_BROKER + f"max_queued_messages {limit}\n")
    url = f"sqlite:///{tmp_path / 'central.db'}"
    central = make_central(broker, topic_prefix, url, client_id="central-drop", receive_maximum=limit, batch_size=5)
    f = central.session_factory
    brk = {"broker": f"{broker.host}:{broker.port}"}
    monitor = metrics.watch_broker(MqttSettings(host=broker.host, port=broker.port), "central-drop-sys")
    lock = DbLock(url)
    try:
        assert monitor.wait_ready(5)
        app = create_app(central.settings, f, store=central.store)
        with TestClient(app) as http:
            edge = make_edge(broker, topic_prefix, status_interval_s=600)  # one status, before the lock
            wait_for(lambda: count(f, EdgeStatus) == 1, 10, "the edge's status stored")
            wait_for(lambda: central.stats()["unacked"] == 0, 5, "the status acknowledged")
            assert val(scrape(http), "doorline_broker_dropped_messages_total", **brk) == 0
            lock.acquire()
            try:
                n = 100
                edge.publish_many([make_event(i) for i in range(n)])
                assert edge.wait_drained(10), edge.stats()
                assert edge.stats()["acked"] == n and edge.stats()["rejected"] == 0, edge.stats()
            finally:
                lock.release()
            # central gets its window (`limit`) and the broker's queue (`limit`), and nothing more comes
            wait_for(lambda: count(f, EventPhaseRecord) >= 2 * limit, 20, "the window and the queue stored")
            time.sleep(1.5)  # one more $SYS round; anything else still on its way would arrive meanwhile
            stored = count(f, EventPhaseRecord)
            assert stored == 2 * limit and central.stats()["unacked"] == 0, (stored, central.stats())
            dropped = val(scrape(http), "doorline_broker_dropped_messages_total", **brk)
            assert dropped == n - stored, (dropped, n, stored)
    finally:
        lock.release()
        monitor.stop()
