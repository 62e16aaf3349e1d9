"""PostgreSQL goes away under a running central and comes back (issue 15): nothing lost, nothing doubled, and
`/healthz` says so while it is down.

A real `doorline-central serve` process (HTTP, MQTT ingest, workflow timers, notice sender) on a private
throwaway PostgreSQL cluster (testkit.postgres), a real Mosquitto, an edge publisher sending events (pictures
with every 10th) at a steady rate. The cluster is stopped twice mid-stream for ~12 s each, first with
`pg_ctl stop -m fast` (sessions ended, clean shutdown), then `-m immediate` (the server dies, crash recovery
on start), and started again each time."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from central.orm.events import Event, EventPhaseRecord, Evidence
from testkit.ports import free_port
from testkit.postgres import ENV_URL, ThrowawayCluster, fresh_database
from testkit.reliability import record
from testkit.transport import METRICS_TOKEN, central_db, count, distinct_events, make_event, make_evidence, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.reliability]  # ~60 s: two outages of 12 s each

OUTAGE_S = 12.0
RATE = 20.0  # events per second from the edge
N = 900  # 45 s of events: the stream outlasts both outages


class HealthProbe(threading.Thread):
    """GET /healthz every 0.25 s; keeps (monotonic time, HTTP status or 0 for no answer)."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.seen = base, []
        self.stopped = threading.Event()

    def status(self) -> int:
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def run(self) -> None:
        while not self.stopped.wait(0.25):
            self.seen.append((time.monotonic(), self.status()))

    def between(self, a: float, b: float) -> list[int]:
        return [s for t, s in self.seen if a <= t <= b]

    def first_ok_after(self, t0: float) -> float | None:
        return next((t for t, s in self.seen if t >= t0 and s == 200), None)


def _serve(db_url: str, broker, prefix: str, port: int, tmp: Path) -> subprocess.Popen:
    env = os.environ | {
        "DOORLINE_DATABASE_URL": db_url, "DOORLINE_PORT": str(port),
        "DOORLINE_MQTT__HOST": broker.host, "DOORLINE_MQTT__PORT": str(broker.port),
        "DOORLINE_MQTT__PREFIX": prefix, "DOORLINE_EVIDENCE_DIR": str(tmp / "evidence"),
        "DOORLINE_SECRET_KEY": secrets.token_urlsafe(48), "DOORLINE_OWNER_LINK_SECRET": secrets.token_urlsafe(48),
        "DOORLINE_METRICS_TOKEN": METRICS_TOKEN, "DOORLINE_TICK_INTERVAL_S": "1",
    }
    log = (tmp / "central.log").open("ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "central.cli", "serve"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    finally:
        log.close()


def _metric(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}\{{[^}}]*\}} (\S+)$", text, re.M))


@pytest.mark.skipif(bool(os.environ.get(ENV_URL)), reason="stops its own PostgreSQL: needs initdb, not a shared server")
def test_postgresql_stopped_twice_mid_stream_loses_and_doubles_nothing(broker, topic_prefix, make_edge,
                                                                        tmp_path) -> None:
    cluster = ThrowawayCluster(durable=True).start()  # fsync and synchronous commit on, as in production
    central = probe = None
    try:
        with fresh_database(cluster.url) as db_url:
            port = free_port()
            central = _serve(db_url, broker, topic_prefix, port, tmp_path)
            base = f"http://127.0.0.1:{port}"
            probe = HealthProbe(base)
            wait_for(lambda: probe.status() == 200, 60, "central to serve /healthz")
            engine, f = central_db(db_url)

            def stored() -> int:
                try:
                    return count(f, EventPhaseRecord)
                except OperationalError:
                    return -1  # the database is down: the test's own reads wait too

            edge = make_edge(broker, topic_prefix, status_interval_s=1.0)
            stop_producing = threading.Event()

            def produce() -> None:
                for i in range(N):
                    evidence = [make_evidence(f"e{i}", kb=10, seed=i % 3)] if i % 10 == 0 else []
                    for e in evidence:
                        edge.publish(e)
                    edge.publish(make_event(i, evidence=evidence, event_id=f"e{i}"))
                    if stop_producing.wait(1.0 / RATE):
                        return

            probe.start()
            producer = threading.Thread(target=produce, daemon=True)
            producer.start()
            outages = []
            for mode, after in (("fast", 100), ("immediate", 400)):
                wait_for(lambda a=after: stored() >= a, 60, f"{after} events stored before the {mode} stop")
                at_stop = stored()
                t_down = time.monotonic()
                cluster.stop(mode)
                time.sleep(OUTAGE_S)
                assert central.poll() is None, (tmp_path / "central.log").read_text()[-3000:]
                cluster.restart()
                t_up = time.monotonic()
                outages.append((mode, t_down, t_up, at_stop))
            producer.join(N / RATE + 30)
            assert not producer.is_alive()
            deadline = time.monotonic() + 90
            while not (stored() >= N and edge.depth == 0):
                assert time.monotonic() < deadline, (
                    f"after 90 s: {stored()} of {N} events stored, edge spool {edge.depth}; central log:\n"
                    + (tmp_path / "central.log").read_text()[-2000:])
                time.sleep(0.2)
            time.sleep(1.0)  # would a late duplicate still arrive?
            probe.stopped.set()
            probe.join(5)
            with urllib.request.urlopen(urllib.request.Request(
                    base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}), timeout=10) as r:
                metrics_text = r.read().decode()
            events, phases, distinct = count(f, Event), count(f, EventPhaseRecord), distinct_events(f)
            pictures = count(f, Evidence, Evidence.stored.is_(True))
            engine.dispose()
            alive_to_the_end = central.poll() is None
            central.terminate()  # before the database is dropped under it
            central.wait(30)
    finally:
        if probe is not None:
            probe.stopped.set()
        if central is not None and central.poll() is None:
            central.terminate()
            central.wait(20)
        cluster.remove()
    assert alive_to_the_end, (tmp_path / "central.log").read_text()[-3000:]
    assert phases == N and events == N and distinct == N, (phases, events, distinct)
    assert pictures == N // 10
    figures: dict[str, object] = {}
    for mode, t_down, t_up, at_stop in outages:
        assert 0 < at_stop < N, f"the {mode} stop did not land mid-stream ({at_stop} stored)"
        down = probe.between(t_down + 1.0, t_up)  # a probe answered just before the stop may still say 200
        assert down and all(s == 503 for s in down), f"/healthz while PostgreSQL was down ({mode}): {down}"
        back = probe.first_ok_after(t_up)
        assert back is not None and back - t_up < 15, f"/healthz never recovered after the {mode} restart"
        figures[f"{mode}_outage_s"] = round(t_up - t_down, 1)
        figures[f"{mode}_healthz_503_probes"] = len(down)
        figures[f"{mode}_healthz_ok_again_s"] = round(back - t_up, 1)
    db_errors = _metric(metrics_text, "doorline_ingest_db_errors_total")
    assert db_errors >= 1, "the ingest never met the outage: the test proved nothing"
    assert _metric(metrics_text, "doorline_ingest_dead_letters_total") == 0
    record("postgres-restart", events=N, stored=phases, lost=N - distinct, doubled=phases - distinct,
           pictures=pictures, commit_retries=int(db_errors),
           duplicates_refused=int(_metric(metrics_text, "doorline_ingest_duplicates_total")), **figures)
