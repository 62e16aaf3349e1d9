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
Prints a table and writes JSON (default var/bench/ingest.json).
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

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

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
        pub.publish(ev)
        pub.publish(
            EventMessage(
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
        )
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
    if not svc.wait_ready(15):
        print(f"NOT READY {svc.stats()}", flush=True)
        return 1
    print("READY", flush=True)
    stop.wait()
    svc.stop()
    print("STATS " + json.dumps(svc.stats()), flush=True)
    engine.dispose()
    return 0


# ----------------------------------------------------------------------------- driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    args: argparse.Namespace, instances: int, *, paced: bool, tmp: Path, workflow: bool = False
) -> dict:
    from sqlalchemy import func, select

    from central.orm.events import EventPhaseRecord, Evidence

    db = Database(args.pg_url)
    broker, port = start_broker(Path(tempfile.mkdtemp(dir=tmp)))
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    evidence_dir = Path(tempfile.mkdtemp(dir=tmp))
    centrals: list[subprocess.Popen] = []
    edges: list[subprocess.Popen] = []
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
        for c in centrals:
            expect(c, "READY", 30)
        procs = max(1, min(args.edge_procs, args.edges))
        total = int(args.rate * args.duration) if paced else args.burst
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
                    "--spool-dir",
                    str(spool_dir),
                    "--timeout",
                    str(args.timeout),
                )
            )
        for e in edges:
            expect(e, "READY", 30)
        start = time.time() + 0.5
        for e in edges:
            e.stdin.write(f"{start}\n")
            e.stdin.flush()
        for e in edges:
            expect(e, "DRAINED", args.timeout + args.duration + 30)
        deadline = time.monotonic() + args.timeout
        with db.engine.connect() as conn:
            while time.monotonic() < deadline:
                n = conn.scalar(select(func.count()).select_from(EventPhaseRecord))
                m = conn.scalar(select(func.count()).select_from(Evidence).where(Evidence.stored.is_(True)))
                if n >= total and m >= total:
                    break
                time.sleep(0.1)
            rows = conn.execute(select(EventPhaseRecord.sent_at, EventPhaseRecord.received_at)).all()
            stored_evidence = conn.scalar(
                select(func.count()).select_from(Evidence).where(Evidence.stored.is_(True))
            )
        sent = np.array([r[0] for r in rows])
        committed = np.array([r[1].timestamp() for r in rows])
        lat_ms = (committed - sent) * 1000.0
        span = committed.max() - sent.min() if len(rows) else float("nan")
        stats = []
        for c in centrals:
            c.send_signal(signal.SIGTERM)
            out, _ = c.communicate(timeout=30)
            stats += [json.loads(line[6:]) for line in out.splitlines() if line.startswith("STATS ")]
        return {
            "instances": instances,
            "mode": "paced" if paced else "saturation",
            "workflow": workflow,
            "offered_rate": args.rate if paced else None,
            "events": len(rows),
            "expected": total,
            "evidence_stored": int(stored_evidence),
            "events_per_s": round(len(rows) / span, 1) if len(rows) else 0.0,
            "p50_ms": round(float(np.percentile(lat_ms, 50)), 1) if len(rows) else None,
            "p99_ms": round(float(np.percentile(lat_ms, 99)), 1) if len(rows) else None,
            "max_ms": round(float(lat_ms.max()), 1) if len(rows) else None,
            "per_instance_stored": [s.get("stored") for s in stats],
            "duplicates": sum(s.get("duplicates", 0) for s in stats),
            "dead_letters": sum(s.get("dead_letters", 0) for s in stats),
        }
    finally:
        for p in centrals + edges:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        broker.terminate()
        broker.wait(10)
        db.close()


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
    p.add_argument("--instances", default="1,2", help="central instance counts to compare")
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
    with tempfile.TemporaryDirectory(prefix="doorline-bench-ingest-") as tmpdir:
        plan = [(int(n), paced, False) for n in args.instances.split(",") for paced in (False, True)]
        if args.with_workflow:
            plan += [(int(n), False, True) for n in args.instances.split(",")]
        for n, paced, wf in plan:
            r = run_once(args, n, paced=paced, tmp=Path(tmpdir), workflow=wf)
            results.append(r)
            print(
                f"  {n} instance(s), {r['mode']}{' +workflow' if wf else ''}: {r['events']}/{r['expected']} "
                f"events, {r['events_per_s']} ev/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms",
                flush=True,
            )
    header = (
        f"{'instances':>9} {'mode':>10} {'workflow':>8} {'events':>7} {'ev/s':>7} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8}  split"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['instances']:>9} {r['mode']:>10} {('on' if r['workflow'] else 'off'):>8} {r['events']:>7} "
            f"{r['events_per_s']:>7} {r['p50_ms']!s:>8} {r['p99_ms']!s:>8} {r['max_ms']!s:>8}  "
            f"{r['per_instance_stored']}"
        )
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
            if k in ("edges", "edge_procs", "rate", "duration", "burst", "kb", "instances")
        },
        "target": {"events_per_s": 300, "p99_ms": 500},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(
        f"load average before/after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
