"""Sustained MQTT ingest: N simulated edges, each event with a ~100 KB JPEG, through Mosquitto into central
on PostgreSQL, with 1 and then 2 central instances on the shared subscription.

    .venv/bin/python scripts/bench/ingest.py                 # default run, about a minute
    .venv/bin/python scripts/bench/ingest.py --edges 8 --rate 400 --duration 15 --instances 1,2

Everything is real: a private Mosquitto (persistence on), edge processes using `edge.publisher.Publisher`
(on-disk spool, QoS 1), central processes using `central.ingest.IngestService` (manual acks after commit,
evidence in a content-addressed store, central.workflow in the same transaction), a fresh PostgreSQL
database per run (dropped afterwards). Per instance count, two runs:

- saturation: every edge spools `--burst` events at once; events/s = events / (last commit − first publish);
- paced: the edges offer `--rate` events/s for `--duration` s; latency = commit stamp of the event row −
  the edge's `sent_at` (both clocks are this machine's), p50/p99 over every event.

Edges, broker, central and PostgreSQL share this machine's cores, so the figures are for the whole chain.

Scale-out (`--central-cpu CORES`, root with a cgroup v1 cpu controller): to see whether central's ingest
scales out on a machine where a second process only adds contention, each central process runs in its own
cgroup with `cpu.cfs_quota_us` = CORES cores (a high `cpu.shares` on the parent makes that budget available
even when the rest is busy), as if each instance had a machine of its own that small; the rest of the chain
keeps the remaining CPU. Then `--scale-instances` (default 1,2,3) instance counts run under the same budget:
- backlog (default `--scale-mode`): the central processes are paused (SIGSTOP) while the edges hand the whole
  burst to the broker, then resumed; events/s = events / (last commit − resume). The edges are out of the
  way, so only central, the broker and PostgreSQL are working;
- live: the saturation round above, the edges publishing while central stores.
CPU used per instance, by the edges, broker and every `postgres` process, and the machine's idle cores are
measured over each round from /proc; cgroup throttling from cpu.stat. Without cgroups the scale-out rounds
are skipped with the reason; the groups are removed at the end, also on error, Ctrl-C or SIGTERM.

    .venv/bin/python scripts/bench/ingest.py --central-cpu 0.2 --scale-burst 2000 --scale-repeat 2

Prints tables and writes JSON (default var/bench/ingest.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from testkit.ports import free_port

REPO = Path(__file__).resolve().parents[2]

PG_ADMIN = os.environ.get("DOORLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SITE = "bench-site"


# ----------------------------------------------------------------------------- worker modes


def unique_jpeg(base: bytes, token: bytes) -> bytes:
    """The same picture with a unique COM segment, so every evidence has its own hash (no store dedupe)."""
    seg = b"\xff\xfe" + (len(token) + 2).to_bytes(2, "big") + token
    return base[:2] + seg + base[2:]


def base_jpeg(kb: int) -> tuple[bytes, int, int]:
    import cv2

    side = max(16, int(300 * (kb / 83.0) ** 0.5))
    img = np.random.default_rng(7).integers(0, 255, (side, side, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes(), side, side


def edge_worker(args: argparse.Namespace) -> int:
    from edge.publisher import Publisher
    from wire.ids import new_id
    from wire.mqtt import MqttSettings
    from wire.schema import EventMessage, EvidenceMessage

    settings = MqttSettings(port=args.port, prefix=args.prefix)
    names = [f"edge-{args.worker}-{k}" for k in range(args.edges_here)]
    pubs = [
        Publisher(
            settings,
            edge_id=n,
            site_id=SITE,
            camera_ids=[f"cam-{n}"],
            spool_path=args.spool_dir / f"{n}.db",
            inflight_window=64,
            status_interval_s=30,
            bundle_evidence=not args.apart,
            receipts=False,
        )
        for n in names
    ]
    for p in pubs:
        p.start()
    deadline = time.monotonic() + 10
    while not all(p.connected for p in pubs) and time.monotonic() < deadline:
        time.sleep(0.02)
    jpeg, w, h = base_jpeg(args.kb)
    print("READY", flush=True)
    start = float(sys.stdin.readline().strip() or time.time())  # common start time from the driver
    while time.time() < start:
        time.sleep(0.001)
    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    t0 = time.monotonic()
    for i in range(args.count):
        if interval:
            due = t0 + i * interval
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        pub = pubs[i % len(pubs)]
        cam = pub.camera_ids[0]
        event_id = new_id()
        data = unique_jpeg(jpeg, uuid.uuid4().bytes)
        ev = EvidenceMessage.from_jpeg(
            data, width=w, height=h, site_id=SITE, camera_id=cam, evidence_id=new_id(), event_id=event_id
        )
        event = EventMessage(
            site_id=SITE,
            camera_id=cam,
            event_id=event_id,
            seq=0,
            zone_id="z1",
            violation="piled_goods",
            phase="start",
            ts=time.time(),
            score=0.9,
            evidence=[ev.ref()],
        )
        pub.publish_many([ev, event])  # as the pipeline does: one bundle (or, --apart, two messages)
    ok = all(p.wait_drained(args.timeout) for p in pubs)
    for p in pubs:
        p.stop(timeout=2)
    print("DRAINED" if ok else "NOT DRAINED", flush=True)
    return 0 if ok else 1


def central_worker(args: argparse.Namespace) -> int:
    import threading

    import central.orm  # noqa: F401
    from central.db import make_engine, make_session_factory
    from central.evidence_store import LocalEvidenceStore
    from central.ingest import IngestService
    from central.settings import CentralSettings
    from wire.mqtt import MqttSettings

    engine = make_engine(args.db_url)
    settings = CentralSettings(
        database_url=args.db_url,
        evidence_dir=args.evidence_dir,
        mqtt=MqttSettings(port=args.port, prefix=args.prefix),
    )
    svc = IngestService(
        settings,
        make_session_factory(engine),
        LocalEvidenceStore(args.evidence_dir),
        client_id=args.client_id,
        use_workflow=args.workflow_on,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    svc.start()
    if not svc.wait_ready(60):
        print(f"NOT READY {svc.stats()}", flush=True)
        return 1
    # this instance's own storing rate: from its first commit to its last (messages stored since the first)
    activity: dict[str, float] = {}

    def watch() -> None:
        last = 0
        while not stop.wait(0.02):
            n = svc.stats()["stored"]
            if n != last:
                now = time.time()
                if not activity:
                    activity.update(first_t=now, first_n=n)
                activity.update(last_t=now, last_n=n)
                last = n

    threading.Thread(target=watch, daemon=True).start()
    print("READY", flush=True)
    stop.wait()
    svc.stop()
    st = svc.stats()
    if activity and activity["last_t"] > activity["first_t"]:
        st["own_messages_per_s"] = round(
            (activity["last_n"] - activity["first_n"]) / (activity["last_t"] - activity["first_t"]), 1
        )
        st["active_s"] = round(activity["last_t"] - activity["first_t"], 2)
    print("STATS " + json.dumps(st), flush=True)
    engine.dispose()
    return 0


# ----------------------------------------------------------------------------- driver


def start_broker(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    text = (
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        f"persistence true\npersistence_location {workdir}/\n"
        "autosave_interval 30\nmax_queued_messages 1000000\nmax_inflight_messages 200\n"
        "message_size_limit 4194304\n"
    )
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        text += "user root\n"
    conf.write_text(text)
    log = open(workdir / "mosquitto.log", "ab")
    proc = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)], stdout=log, stderr=log
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def spawn(mode: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, mode, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def expect(proc: subprocess.Popen, word: str, timeout: float) -> None:
    import select

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.startswith(word):
                return
            if not line and proc.poll() is not None:
                break
    raise RuntimeError(f"{proc.args[2]} did not say {word}")


# ----------------------------------------------------------------------------- CPU budget (cgroup v1) and CPU use

CGROUP_CPU_ROOT = Path(os.environ.get("DOORLINE_BENCH_CGROUP_CPU", "/sys/fs/cgroup/cpu"))
CGROUP_PREFIX = "doorline-bench-ingest-"


class CpuCgroups:
    """One cgroup v1 `cpu` group per constrained central instance, under a parent group of this run.

    Each child gets `cpu.cfs_quota_us = cores × cpu.cfs_period_us`: a hard ceiling, as if the instance had
    its own machine with that much CPU. The parent gets a high `cpu.shares`, so when the rest of the chain
    (edges, broker, PostgreSQL) is busy the instances still get their whole budget. `close()` removes every
    group (it runs from a `finally`, also on error or Ctrl-C)."""

    PERIOD_US = 100_000

    def __init__(self, root: Path = CGROUP_CPU_ROOT):
        self.root = root
        self.parent = root / f"{CGROUP_PREFIX}{os.getpid()}"
        self.children: list[Path] = []

    @classmethod
    def unavailable_reason(cls, root: Path = CGROUP_CPU_ROOT) -> str | None:
        """None if per-instance CPU quotas can be set here, else why not."""
        if not hasattr(os, "geteuid"):
            return "no cgroups on this platform"
        if not (root / "cpu.cfs_quota_us").exists():
            unified = Path("/sys/fs/cgroup/cgroup.controllers")
            if unified.exists() and "cpu" in unified.read_text().split():
                return f"only cgroup v2 is mounted ({root} has no cgroup v1 cpu controller); not supported"
            return f"no cgroup v1 cpu controller at {root} (cpu.cfs_quota_us missing)"
        if os.geteuid() != 0 and not os.access(root, os.W_OK):
            return f"not root and {root} is not writable"
        return None

    def open(self) -> None:
        self._remove_stale()
        self.parent.mkdir()
        (self.parent / "cpu.shares").write_text("8192\n")

    def create(self, name: str, cores: float) -> Path:
        path = self.parent / name
        path.mkdir()
        self.children.append(path)
        (path / "cpu.cfs_period_us").write_text(f"{self.PERIOD_US}\n")
        (path / "cpu.cfs_quota_us").write_text(f"{max(1000, round(cores * self.PERIOD_US))}\n")
        return path

    @staticmethod
    def add(path: Path, pid: int) -> None:
        (path / "cgroup.procs").write_text(f"{pid}\n")  # moves every thread of the process

    @staticmethod
    def stat(path: Path) -> dict[str, int]:
        out = {}
        for line in (path / "cpu.stat").read_text().splitlines():
            k, _, v = line.partition(" ")
            out[k] = int(v)
        return out

    def release(self, path: Path) -> None:
        """Move whatever is left in `path` back to the root group and remove it."""
        if not path.exists():
            return
        try:
            for pid in (path / "cgroup.procs").read_text().split():
                try:
                    (self.root / "cgroup.procs").write_text(f"{pid}\n")
                except OSError:
                    pass  # already gone
        except OSError:
            pass
        for _ in range(50):
            try:
                path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)  # a just-killed process not reaped yet
        print(f"warning: could not remove cgroup {path}", file=sys.stderr)

    def close(self) -> None:
        for path in self.children:
            self.release(path)
        self.children.clear()
        self.release(self.parent)

    def _remove_stale(self) -> None:
        """Groups left by an earlier run of this script that was SIGKILLed (its pid is gone)."""
        for d in self.root.glob(f"{CGROUP_PREFIX}*"):
            pid = d.name[len(CGROUP_PREFIX) :]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                for child in d.iterdir():
                    if child.is_dir():
                        self.release(child)
                self.release(d)


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds; 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every `postgres` process on the machine (server + backends)."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "postgres":
                    out[int(d.name)] = proc_cpu_s(int(d.name))
            except OSError:
                pass
    return out


def system_busy_s() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


class CpuMeter:
    """CPU used by each part of the chain between `begin()` and `end()`, in cores (CPU s / wall s)."""

    def __init__(self, centrals: list[subprocess.Popen], edges: list[subprocess.Popen], broker: subprocess.Popen):
        self.centrals, self.edges, self.broker = centrals, edges, broker

    def _sample(self) -> dict:
        return {
            "t": time.monotonic(),
            "centrals": [proc_cpu_s(p.pid) for p in self.centrals],
            # an edge that has exited stays readable as a zombie until it is reaped (the driver reaps them
            # only in backlog rounds, before begin())
            "edges": {p.pid: proc_cpu_s(p.pid) for p in self.edges},
            "broker": proc_cpu_s(self.broker.pid),
            "postgres": postgres_cpu(),
            "system": system_busy_s(),
        }

    @staticmethod
    def _delta(a: dict[int, float], b: dict[int, float]) -> float:
        """CPU used by processes alive at the end (one that exited meanwhile counts 0, not negative)."""
        return sum(max(0.0, v - a.get(pid, 0.0)) for pid, v in b.items() if v > 0)

    def begin(self) -> None:
        self.a = self._sample()

    def end(self) -> dict:
        b = self._sample()
        wall = b["t"] - self.a["t"]
        pg = self._delta(self.a["postgres"], b["postgres"])
        cores = {
            "window_s": round(wall, 2),
            "central_per_instance": [
                round((y - x) / wall, 3) for x, y in zip(self.a["centrals"], b["centrals"], strict=True)
            ],
            "edges": round(self._delta(self.a["edges"], b["edges"]) / wall, 3),
            "broker": round((b["broker"] - self.a["broker"]) / wall, 3),
            "postgres": round(pg / wall, 3),
            "machine_busy": round((b["system"] - self.a["system"]) / wall, 3),
            "machine_cores": os.cpu_count(),
        }
        cores["rest_of_chain"] = round(cores["edges"] + cores["broker"] + cores["postgres"], 3)
        cores["machine_idle"] = round(max(0.0, (os.cpu_count() or 1) - cores["machine_busy"]), 3)
        return cores


class Database:
    """A fresh PostgreSQL database with every table; dropped on close."""

    def __init__(self, admin_url: str):
        from sqlalchemy import create_engine

        import central.orm  # noqa: F401
        from central.orm.base import Base

        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"doorline_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        self.url = admin_url.rsplit("/", 1)[0] + f"/{self.name}"
        self.engine = create_engine(self.url)
        Base.metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        with self.admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


def run_once(
    args: argparse.Namespace,
    instances: int,
    *,
    paced: bool,
    tmp: Path,
    workflow: bool = False,
    cpu: float | None = None,
    cgroups: CpuCgroups | None = None,
    burst: int | None = None,
    backlog: bool = False,
) -> dict:
    """One round. With `cpu` (and `cgroups`), each central process runs in its own cgroup with a quota of
    `cpu` cores. With `backlog`, the central processes are paused (SIGSTOP) while the edges hand the whole
    burst to the broker, then resumed: events/s is then the rate at which central drains the broker's
    backlog, with the edges done and out of the way."""
    from sqlalchemy import func, select

    from central.orm.events import EventPhaseRecord, Evidence

    db = Database(args.pg_url)
    broker, port = start_broker(Path(tempfile.mkdtemp(dir=tmp)))
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    evidence_dir = Path(tempfile.mkdtemp(dir=tmp))
    centrals: list[subprocess.Popen] = []
    edges: list[subprocess.Popen] = []
    groups: list[Path] = []
    try:
        for k in range(instances):
            centrals.append(
                spawn(
                    "--central-worker",
                    "--db-url",
                    db.url,
                    "--port",
                    str(port),
                    "--prefix",
                    prefix,
                    "--evidence-dir",
                    str(evidence_dir),
                    "--client-id",
                    f"bench-central-{k}",
                    *(["--workflow-on"] if workflow else []),
                )
            )
            if cpu is not None and cgroups is not None:
                groups.append(cgroups.create(f"central-{instances}-{k}", cpu))
                cgroups.add(groups[-1], centrals[-1].pid)
        for c in centrals:
            expect(c, "READY", 60 if groups else 30)
        procs = max(1, min(args.edge_procs, args.edges))
        total = int(args.rate * args.duration) if paced else (burst or args.burst)
        per_proc = [total // procs + (1 if i < total % procs else 0) for i in range(procs)]
        edges_per = [args.edges // procs + (1 if i < args.edges % procs else 0) for i in range(procs)]
        spool_dir = Path(tempfile.mkdtemp(dir=tmp))
        for i in range(procs):
            edges.append(
                spawn(
                    "--edge-worker",
                    "--port",
                    str(port),
                    "--prefix",
                    prefix,
                    "--worker",
                    str(i),
                    "--edges-here",
                    str(edges_per[i]),
                    "--count",
                    str(per_proc[i]),
                    "--rate",
                    str(args.rate / procs if paced else 0),
                    "--kb",
                    str(args.kb),
                    *(["--apart"] if args.apart else []),
                    "--spool-dir",
                    str(spool_dir),
                    "--timeout",
                    str(args.timeout),
                )
            )
        for e in edges:
            expect(e, "READY", 30)
        meter = CpuMeter(centrals, edges, broker)
        if backlog:
            for c in centrals:
                os.kill(c.pid, signal.SIGSTOP)
        start = time.time() + 0.5
        for e in edges:
            e.stdin.write(f"{start}\n")
            e.stdin.flush()
        time.sleep(max(0.0, start - time.time()))
        if not backlog:
            meter.begin()
            throttle_before = [CpuCgroups.stat(g) for g in groups]
        for e in edges:
            expect(e, "DRAINED", args.timeout + args.duration + 30)
        edges_drained_s = time.time() - start  # every event PUBACKed by the broker (not yet stored)
        paused_s = None
        if backlog:
            for e in edges:
                e.wait(30)  # the edges are done: the round measures central against the broker's backlog
            paused_s = round(time.time() - start, 2)
            if paused_s > 40:
                print(
                    f"  warning: central paused {paused_s:.0f} s, beyond the broker's keepalive timeout (45 s): "
                    "it reconnects and gets its messages redelivered",
                    flush=True,
                )
            meter.begin()
            throttle_before = [CpuCgroups.stat(g) for g in groups]
            start = time.time()
            for c in centrals:
                os.kill(c.pid, signal.SIGCONT)
        # a CPU-capped central may still be storing long after the broker has everything
        deadline = time.monotonic() + args.timeout * (3 if groups else 1)
        with db.engine.connect() as conn:
            while time.monotonic() < deadline:
                n = conn.scalar(select(func.count()).select_from(EventPhaseRecord))
                m = conn.scalar(select(func.count()).select_from(Evidence).where(Evidence.stored.is_(True)))
                if n >= total and m >= total:
                    break
                time.sleep(0.05)
            cpu_use = meter.end()  # a little after the last commit (≤ one poll + two count queries)
            throttle = [
                {k: y[k] - x.get(k, 0) for k in ("nr_periods", "nr_throttled", "throttled_time")}
                for x, y in zip(throttle_before, [CpuCgroups.stat(g) for g in groups], strict=True)
            ]
            rows = conn.execute(select(EventPhaseRecord.sent_at, EventPhaseRecord.received_at)).all()
            stored_evidence = conn.scalar(select(func.count()).select_from(Evidence).where(Evidence.stored.is_(True)))
        sent = np.array([r[0] for r in rows])
        committed = np.array([r[1].timestamp() for r in rows])
        lat_ms = (committed - sent) * 1000.0
        # saturation: first publish → last commit; backlog: central resumed → last commit
        span = committed.max() - (start if backlog else sent.min()) if len(rows) else float("nan")
        # steady commit rate: events committed between the 10th and 90th percentile of commit times, i.e.
        # without the start (first batches) and the tail
        steady = None
        if len(rows) >= 20:
            c10, c90 = np.percentile(committed, [10, 90])
            if c90 > c10:
                steady = round(float(((committed >= c10) & (committed <= c90)).sum() / (c90 - c10)), 1)
        stats = []
        for c in centrals:
            c.send_signal(signal.SIGTERM)
            out, _ = c.communicate(timeout=30)
            stats += [json.loads(line[6:]) for line in out.splitlines() if line.startswith("STATS ")]
        with db.admin.connect() as c:
            pg_rollbacks = c.exec_driver_sql(
                "SELECT xact_rollback FROM pg_stat_database WHERE datname = %s", (db.name,)
            ).scalar()
        return {
            "instances": instances,
            "mode": "paced" if paced else ("backlog" if backlog else "saturation"),
            "workflow": workflow,
            "offered_rate": args.rate if paced else None,
            "events": len(rows),
            "expected": total,
            "evidence_stored": int(stored_evidence),
            "events_per_s": round(float(len(rows) / span), 1) if len(rows) else 0.0,
            "steady_events_per_s": steady,
            "span_s": round(float(span), 2) if len(rows) else None,
            "edges_drained_s": round(edges_drained_s, 2),
            "central_paused_s": paused_s,
            "central_cpu_budget": cpu,
            "p50_ms": round(float(np.percentile(lat_ms, 50)), 1) if len(rows) else None,
            "p99_ms": round(float(np.percentile(lat_ms, 99)), 1) if len(rows) else None,
            "max_ms": round(float(lat_ms.max()), 1) if len(rows) else None,
            "per_instance_stored": [s.get("stored") for s in stats],
            # each instance's own rate between its first and last commit, in events/s (messages / 2)
            "per_instance_events_per_s": [
                round(s["own_messages_per_s"] / 2, 1) if "own_messages_per_s" in s else None for s in stats
            ],
            "per_instance_active_s": [s.get("active_s") for s in stats],
            "duplicates": sum(s.get("duplicates", 0) for s in stats),
            "dead_letters": sum(s.get("dead_letters", 0) for s in stats),
            "db_errors": sum(s.get("db_errors", 0) for s in stats),
            "pg_rollbacks": pg_rollbacks,
            "cpu_cores": cpu_use,
            "throttled": [
                {
                    "periods": t["nr_periods"],
                    "throttled_periods": t["nr_throttled"],
                    "throttled_fraction": (round(t["nr_throttled"] / t["nr_periods"], 3) if t["nr_periods"] else None),
                    "throttled_s": round(t["throttled_time"] / 1e9, 2),
                }
                for t in throttle
            ],
        }
    finally:
        for p in centrals + edges:
            if p.poll() is None:
                p.kill()  # SIGKILL ends a stopped (SIGSTOP) process too
                p.wait(5)
        broker.terminate()
        broker.wait(10)
        if cgroups is not None:
            for g in groups:
                cgroups.release(g)
        db.close()


def scale_summary(rounds: list[dict]) -> dict | None:
    """Events/s per instance count under one per-instance CPU budget, ratios against 1 instance."""
    if not rounds:
        return None
    ones = [r for r in rounds if r["instances"] == 1]

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    # the 1-instance reference: the mean over its rounds (ratios of single rounds are against that mean)
    base = (
        {
            "events_per_s": mean([r["events_per_s"] for r in ones]),
            "steady_events_per_s": mean([r["steady_events_per_s"] or 0 for r in ones]),
            "per_instance_events_per_s": [mean([sum(x or 0 for x in r["per_instance_events_per_s"]) for r in ones])],
        }
        if ones
        else None
    )
    rows = []
    for r in rounds:
        cpu = r["cpu_cores"]
        rows.append(
            {
                "instances": r["instances"],
                "events_per_s": r["events_per_s"],
                "steady_events_per_s": r["steady_events_per_s"],
                "ratio_vs_1": round(r["events_per_s"] / base["events_per_s"], 2) if base else None,
                "sum_ratio_vs_1": (
                    round(
                        sum(x or 0 for x in r["per_instance_events_per_s"])
                        / sum(x or 0 for x in base["per_instance_events_per_s"]),
                        2,
                    )
                    if base and any(base["per_instance_events_per_s"])
                    else None
                ),
                "steady_ratio_vs_1": (
                    round(r["steady_events_per_s"] / base["steady_events_per_s"], 2)
                    if base and r["steady_events_per_s"] and base["steady_events_per_s"]
                    else None
                ),
                "split_messages": r["per_instance_stored"],
                "per_instance_events_per_s": r["per_instance_events_per_s"],
                "sum_of_instance_rates": round(sum(x or 0 for x in r["per_instance_events_per_s"]), 1),
                "central_cores_per_instance": cpu["central_per_instance"],
                "throttled_fraction": [t["throttled_fraction"] for t in r["throttled"]],
                "edges_cores": cpu["edges"],
                "broker_cores": cpu["broker"],
                "postgres_cores": cpu["postgres"],
                "machine_idle_cores": cpu["machine_idle"],
                "edges_drained_s": r["edges_drained_s"],
                "span_s": r["span_s"],
                "events_per_central_core_s": round(r["events_per_s"] / sum(cpu["central_per_instance"]), 1),
                "complete": r["events"] == r["expected"] and r["evidence_stored"] == r["expected"],
            }
        )
    by_n = {}
    for n in sorted({r["instances"] for r in rows}):
        mine = [r for r in rows if r["instances"] == n]
        ev = mean([r["events_per_s"] for r in mine])
        by_n[n] = {
            "rounds": len(mine),
            "events_per_s": [r["events_per_s"] for r in mine],
            "mean_events_per_s": round(ev, 1),
            "ratio_vs_1": round(ev / base["events_per_s"], 2) if base else None,
            "mean_central_cores_total": round(mean([sum(r["central_cores_per_instance"]) for r in mine]), 3),
            "mean_events_per_central_core_s": round(mean([r["events_per_central_core_s"] for r in mine]), 1),
            "max_machine_idle_cores": max(r["machine_idle_cores"] for r in mine),
        }
    return {"central_cpu_budget_cores": rounds[0]["central_cpu_budget"], "rows": rows, "by_instances": by_n}


def print_scale(scale: dict, mode: str) -> None:
    budget = scale["central_cpu_budget_cores"]
    what = (
        "backlog (edges filled the broker while central was paused; timed from resume)"
        if mode == "backlog"
        else "live saturation (edges publishing while central stores)"
    )
    print(f"\nscale-out, {what}, each central instance capped at {budget} cores (own cgroup, cfs quota):")
    header = (
        f"{'instances':>9} {'ev/s':>7} {'x vs 1':>6} {'steady':>7} {'x vs 1':>6} {'sum':>6} {'x vs 1':>6}  "
        f"{'ev/s each':<18} {'central cores each':<18} {'throttled':<14} {'edges':>5} {'broker':>6} {'pg':>5} "
        f"{'idle':>5} {'drained/span s':>14} {'ev/core-s':>9}  split"
    )
    print(header)
    print("-" * len(header))
    for r in scale["rows"]:
        print(
            f"{r['instances']:>9} {r['events_per_s']:>7} {r['ratio_vs_1']!s:>6} {r['steady_events_per_s']!s:>7} "
            f"{r['steady_ratio_vs_1']!s:>6} {r['sum_of_instance_rates']!s:>6} {r['sum_ratio_vs_1']!s:>6}  "
            f"{' '.join(str(x) for x in r['per_instance_events_per_s']):<18} "
            f"{' '.join(f'{c:.2f}' for c in r['central_cores_per_instance']):<18} "
            f"{' '.join(f'{t:.0%}' if t is not None else '-' for t in r['throttled_fraction']):<14} "
            f"{r['edges_cores']:>5.2f} {r['broker_cores']:>6.2f} {r['postgres_cores']:>5.2f} "
            f"{r['machine_idle_cores']:>5.2f} {r['edges_drained_s']:>6.1f}/{r['span_s']!s:<7} "
            f"{r['events_per_central_core_s']:>9}  {r['split_messages']}" + ("" if r["complete"] else "  INCOMPLETE")
        )
    print(
        "(ev/s = events / span; steady = commits between the 10th and 90th percentile of commit times; sum = "
        "sum of each instance's own rate, first to last commit; cores = CPU s / wall s over the round; idle = "
        "machine cores not busy, other jobs included; drained = s until the broker had every event; span = "
        "first publish (backlog: central resumed) to last commit. Live: drained << span means central was "
        "the bottleneck; ev/core-s = events/s per core of CPU the central instances used)"
    )
    for n, a in scale["by_instances"].items():
        print(
            f"  {n} instance(s): mean {a['mean_events_per_s']} ev/s over {a['rounds']} round(s) {a['events_per_s']}, "
            f"{a['ratio_vs_1']}x vs 1 instance, central CPU {a['mean_central_cores_total']} cores in all, "
            f"{a['mean_events_per_central_core_s']} events per central core-second"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--edge-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--central-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--prefix", help=argparse.SUPPRESS)
    p.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--edges-here", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--spool-dir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--db-url", help=argparse.SUPPRESS)
    p.add_argument("--evidence-dir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--client-id", help=argparse.SUPPRESS)
    p.add_argument("--workflow-on", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--with-workflow",
        action="store_true",
        help="also run a saturation round with central.workflow (case handling) in the transaction",
    )
    p.add_argument("--edges", type=int, default=8, help="simulated edges (one camera each)")
    p.add_argument("--edge-procs", type=int, default=2, help="processes the edges are spread over")
    p.add_argument("--rate", type=float, default=300, help="offered events/s in the paced runs")
    p.add_argument("--duration", type=float, default=8, help="seconds of paced load")
    p.add_argument("--burst", type=int, default=2000, help="events spooled at once in the saturation runs")
    p.add_argument("--kb", type=int, default=100, help="JPEG size per event")
    p.add_argument(
        "--apart",
        action="store_true",
        help="send each picture as its own evidence message, not bundled with its event (the older wire form)",
    )
    p.add_argument(
        "--instances",
        default="1,2",
        help="central instance counts for the unconstrained saturation + paced rounds ('' or 0: none)",
    )
    p.add_argument(
        "--central-cpu",
        type=float,
        metavar="CORES",
        help="scale-out rounds: each central process in its own cgroup (v1 cpu controller, root) with a quota "
        "of CORES cores, as if each instance had its own machine; saturation mode, --scale-instances counts",
    )
    p.add_argument("--scale-instances", default="1,2,3", help="instance counts for the --central-cpu rounds")
    p.add_argument("--scale-burst", type=int, help="events per --central-cpu round (default: --burst)")
    p.add_argument(
        "--scale-repeat",
        type=int,
        default=1,
        help="run the --scale-instances sequence this many times, every other one reversed (1,2,3,3,2,1): "
        "drift in the machine's other load then hits every instance count alike",
    )
    p.add_argument(
        "--scale-mode",
        choices=("backlog", "live", "both"),
        default="backlog",
        help="--central-cpu rounds: 'backlog' = centrals paused while the edges hand every event to the "
        "broker, then timed draining it (edges out of the way); 'live' = saturation as above, edges "
        "publishing while central stores",
    )
    p.add_argument("--pg-url", default=PG_ADMIN, help="admin URL; a fresh database is made and dropped")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "ingest.json")
    args = p.parse_args(argv)
    if args.edge_worker:
        return edge_worker(args)
    if args.central_worker:
        return central_worker(args)

    results = []
    load_before = os.getloadavg()
    counts = [int(n) for n in args.instances.split(",") if n.strip() and int(n) > 0]
    # (instances, paced or backlog, workflow, CPU budget)
    plan: list[tuple[int, bool, bool, float | None]] = [
        (n, paced, False, None) for n in counts for paced in (False, True)
    ]
    if args.with_workflow:
        plan += [(n, False, True, None) for n in counts]
    cgroups: CpuCgroups | None = None
    scale_note = None
    if args.central_cpu is not None:
        if args.central_cpu <= 0:
            p.error("--central-cpu must be > 0")
        scale_note = CpuCgroups.unavailable_reason()
        if scale_note is None:
            cgroups = CpuCgroups()
            try:
                cgroups.open()
            except OSError as exc:
                scale_note = f"could not create a cgroup under {cgroups.root}: {exc}"
                cgroups = None
        if cgroups is None:
            print(f"SKIPPED the --central-cpu scale-out rounds: {scale_note}", flush=True)
        else:
            modes = {"backlog": [True], "live": [False], "both": [True, False]}[args.scale_mode]
            seq = [int(n) for n in args.scale_instances.split(",")]
            order = [n for k in range(max(1, args.scale_repeat)) for n in (seq if k % 2 == 0 else seq[::-1])]
            plan += [(n, bl, False, args.central_cpu) for bl in modes for n in order]
    # a SIGTERM ends the run through the finally blocks (processes, broker, database, cgroups)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with tempfile.TemporaryDirectory(prefix="doorline-bench-ingest-") as tmpdir:
            for n, flag, wf, cpu in plan:
                r = run_once(
                    args,
                    n,
                    paced=flag and cpu is None,
                    backlog=flag and cpu is not None,
                    tmp=Path(tmpdir),
                    workflow=wf,
                    cpu=cpu,
                    cgroups=cgroups,
                    burst=args.scale_burst if cpu is not None else None,
                )
                results.append(r)
                budget = f", {cpu} cores each" if cpu is not None else ""
                print(
                    f"  {n} instance(s){budget}, {r['mode']}{' +workflow' if wf else ''}: "
                    f"{r['events']}/{r['expected']} events, {r['events_per_s']} ev/s, p50 {r['p50_ms']} ms, "
                    f"p99 {r['p99_ms']} ms, central CPU {r['cpu_cores']['central_per_instance']} cores",
                    flush=True,
                )
    finally:
        if cgroups is not None:
            cgroups.close()
    header = (
        f"{'instances':>9} {'mode':>10} {'workflow':>8} {'events':>7} {'ev/s':>7} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8}  split"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if r["central_cpu_budget"] is not None:
            continue
        print(
            f"{r['instances']:>9} {r['mode']:>10} {('on' if r['workflow'] else 'off'):>8} {r['events']:>7} "
            f"{r['events_per_s']:>7} {r['p50_ms']!s:>8} {r['p99_ms']!s:>8} {r['max_ms']!s:>8}  "
            f"{r['per_instance_stored']}"
        )
    paced1 = [r for r in results if r["mode"] == "paced" and r["instances"] == 1 and not r["workflow"]]
    if paced1:
        r = paced1[0]
        # the target is 300 stored per second; at exactly 300 offered the last events' latency makes the rate
        # over the whole span a little lower, hence the 1 % allowance
        ok = (args.rate >= 300 and r["events_per_s"] >= 0.99 * 300 and r["p99_ms"] is not None
              and r["p99_ms"] < 500)
        print(
            f"paced, 1 unconstrained instance: {r['events_per_s']} ev/s at {args.rate:g} offered, p99 "
            f"{r['p99_ms']} ms -> target (>= 300 ev/s, p99 < 500 ms) {'met' if ok else 'NOT met'}"
            + ("" if args.rate >= 300 else f" (offered {args.rate:g} < 300: not the target load)")
        )
    scale = {
        mode: scale_summary([r for r in results if r["central_cpu_budget"] is not None and r["mode"] == mode])
        for mode in ("backlog", "saturation")
    }
    scale = {k: v for k, v in scale.items() if v}
    for mode, summary in scale.items():
        print_scale(summary, mode)
    if not scale and args.central_cpu is not None:
        print(f"scale-out rounds skipped: {scale_note}")
    report = {
        "bench": "ingest",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            "note": "edges, broker, central and PostgreSQL all run on this machine; other load counts",
        },
        "params": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k
            in (
                "edges",
                "edge_procs",
                "rate",
                "duration",
                "burst",
                "kb",
                "instances",
                "central_cpu",
                "scale_instances",
                "scale_burst",
                "scale_mode",
                "scale_repeat",
            )
        },
        "target": {"events_per_s": 300, "p99_ms": 500, "scale_out_ratio_2_over_1": 2.0},
        "results": results,
        "scale_out": (scale or {"skipped": scale_note}) if args.central_cpu is not None else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"load average before/after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
