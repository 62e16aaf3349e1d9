"""A simulated fleet of 1,000 edges against a real central: heartbeats and events, a 10x burst, a ramp to where
it saturates; CPU, memory and latency of each part.

    .venv/bin/python scripts/bench/fleet.py                          # 1,000 edges, about 3 minutes
    .venv/bin/python scripts/bench/fleet.py --edges 1000 --short     # about 1 minute (the reliability run)

Everything but the edges is real: a private Mosquitto (persistence on), `doorline-central serve` (HTTP, MQTT
ingest, workflow timers, notice sender) on a throwaway PostgreSQL cluster (testkit.postgres, or the server
DOORLINE_TEST_PG_URL names). The edges are simulated, `--procs` processes of `--edges / --procs` each: every
edge is its own MQTT v5 connection (its own client id, persistent session and `offline` last will, as a real
edge has), sends a retained QoS 1 status (heartbeat) per camera every `--status-s` seconds and QoS 1 events
(each with a `--evidence-kb` picture in front, as a separate message) at random times, at the rate the
schedule gives. No spool, no detector: what is measured is the broker, central and PostgreSQL.

Schedule (rates are the whole fleet's events per second, `--base` = 1x): a steady phase at 1x, the ramp
`--ramp` (multiples of 1x, `--step-s` seconds each), a burst at 10x, then 1x again (does the backlog drain,
does latency come back). Per phase: events sent in it, events committed in it (`stored/s`), the latency of
the events sent in it (central's commit stamp − the edge's `sent_at`, one clock), statuses applied per
second, and the CPU (% of one core) and peak memory (RSS) of central, Mosquitto, PostgreSQL (all its
processes) and the simulators. A phase is saturated when the p99 of its events exceeds `--p99-limit-s`
(past saturation the queue grows as long as the phase lasts); the first saturated ramp step (or the burst)
is where the fleet saturates this machine.

Prints a table, writes JSON (default var/bench/fleet.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SITE = "fleet"
METRICS_TOKEN = secrets.token_urlsafe(32)


# ----------------------------------------------------------------------------------------- simulated edges


Schedule = list[tuple[str, float, float]]  # (phase name, seconds, fleet events per second)


def _rate_at(schedule: Schedule, t: float) -> float:
    """The fleet's event rate `t` seconds after the start (0 after the end)."""
    for _name, start, end, rate in _phases(schedule):
        if start <= t < end:
            return rate
    return 0.0


def _phase_index(schedule: Schedule, t: float) -> int:
    for k, (_name, start, end, _rate) in enumerate(_phases(schedule)):
        if start <= t < end:
            return k
    return len(schedule) - 1


def _phases(schedule: Schedule) -> list[tuple[str, float, float, float]]:
    """(name, start s, end s, rate) of each phase."""
    out, t = [], 0.0
    for name, seconds, rate in schedule:
        out.append((name, t, t + seconds, rate))
        t += seconds
    return out


def sim_worker(args: argparse.Namespace) -> int:
    """`--sim`: run edges `--first` .. `--first + --count - 1` until the schedule ends; print STATS json."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from wire import topics
    from wire.schema import EventMessage, EvidenceMessage, StatusMessage, encode

    schedule = json.loads(args.schedule)
    total_s = sum(s for _, s, _ in schedule)
    fleet = args.edges
    jpeg = _jpeg(args.evidence_kb) if args.evidence_kb else None
    rng = random.Random(args.first)
    sel = selectors.DefaultSelector()
    clients: dict[int, mqtt.Client] = {}
    acked = [0]
    published = {"events": 0, "evidence": 0, "statuses": 0}
    per_phase = [0] * len(schedule)  # events sent in each phase
    connected: set[int] = set()

    def cam(i: int) -> str:
        return f"cam-{i:04d}"

    for i in range(args.first, args.first + args.count):
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fleet-edge-{i:04d}", protocol=mqtt.MQTTv5,
                        clean_session=None)
        c.max_inflight_messages_set(64)
        c.max_queued_messages_set(0)
        will = StatusMessage(site_id=SITE, camera_id=cam(i), edge_id=f"edge-{i:04d}", state="offline")
        c.will_set(topics.topic(SITE, cam(i), "status", args.prefix), encode(will), qos=1, retain=True)
        c.on_connect = lambda _c, _u, _f, rc, _p, i=i: connected.add(i) if not rc.is_failure else None
        c.on_publish = lambda *_a: acked.__setitem__(0, acked[0] + 1)
        c.connect(args.host, args.port, keepalive=60, clean_start=False)
        c.socket().setblocking(False)
        sel.register(c.socket(), selectors.EVENT_READ, i)
        clients[i] = c

    def pump(timeout: float) -> None:
        for key, _ in sel.select(timeout):
            clients[key.data].loop_read()
        for c in clients.values():
            if c.want_write():
                c.loop_write()

    deadline = time.time() + 60
    while len(connected) < len(clients) and time.time() < deadline:
        pump(0.05)
        for c in clients.values():
            c.loop_misc()
    print(f"CONNECTED {len(connected)}", flush=True)
    start = args.start_at
    while time.time() < start:
        pump(min(0.05, max(0.0, start - time.time())))
    # each edge's next heartbeat, staggered over the interval; the fleet's events come as a Poisson process
    next_status = {i: start + rng.random() * args.status_s for i in clients}
    next_event = start + rng.expovariate(max(_rate_at(schedule, 0) * args.count / fleet, 1e-9))
    last_misc = 0.0
    ids = list(clients)
    while True:
        now = time.time()
        t = now - start
        if t >= total_s:
            break
        for i in ids:
            if next_status[i] <= now:
                msg = StatusMessage(site_id=SITE, camera_id=cam(i), edge_id=f"edge-{i:04d}", state="online", fps=2.0)
                clients[i].publish(topics.topic(SITE, cam(i), "status", args.prefix), encode(msg), qos=1, retain=True)
                published["statuses"] += 1
                next_status[i] += args.status_s
        while next_event <= now:
            rate = _rate_at(schedule, next_event - start) * args.count / fleet
            if rate > 0:
                i = rng.choice(ids)
                refs, event_id = [], _id()
                if jpeg is not None:
                    ev = EvidenceMessage.from_jpeg(_unique(jpeg[0], os.urandom(8)), width=jpeg[1], height=jpeg[2],
                                                   site_id=SITE, camera_id=cam(i), evidence_id=_id(),
                                                   event_id=event_id)
                    clients[i].publish(topics.topic(SITE, cam(i), "evidence", args.prefix), encode(ev), qos=1)
                    published["evidence"] += 1
                    refs = [ev.ref()]
                msg = EventMessage(site_id=SITE, camera_id=cam(i), event_id=event_id, seq=0, zone_id="zone-1",
                                   violation="piled_goods", phase="start", ts=time.time(), score=0.9,
                                   boxes=[[1.0, 2.0, 30.0, 40.0]], evidence=refs)
                clients[i].publish(topics.topic(SITE, cam(i), "event", args.prefix), encode(msg), qos=1)
                published["events"] += 1
                per_phase[_phase_index(schedule, time.time() - start)] += 1
            # the next event at the rate of the moment (a phase at rate 0 is stepped over)
            next_event += rng.expovariate(rate) if rate > 0 else 0.05
        pump(0.002)
        if now - last_misc > 0.5:
            for c in clients.values():
                c.loop_misc()
            last_misc = now
    end = time.time() + 60  # wait for the broker's PUBACKs of what was sent
    while acked[0] < sum(published.values()) and time.time() < end:
        pump(0.05)
    for c in clients.values():
        c.disconnect()
        c.loop_write()
    print("STATS " + json.dumps({**published, "per_phase": per_phase, "acked": acked[0],
                                 "connected": len(connected)}), flush=True)
    return 0


def _id() -> str:
    from wire.ids import new_id

    return new_id()


def _jpeg(kb: int) -> tuple[bytes, int, int]:
    import cv2

    side = max(16, int(300 * (kb / 83.0) ** 0.5))
    img = np.random.default_rng(7).integers(0, 255, (side, side, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes(), side, side


def _unique(base: bytes, token: bytes) -> bytes:
    """The same picture with a unique COM segment: every picture is stored (no content dedupe)."""
    return base[:2] + b"\xff\xfe" + (len(token) + 2).to_bytes(2, "big") + token + base[2:]


# ------------------------------------------------------------------------------------------------ measuring


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    try:
        m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return 0.0
    return int(m.group(1)) / 1024 if m else 0.0


def _descendants(pid: int) -> list[int]:
    """`pid` and every process under it (PostgreSQL's backends under its postmaster)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


class Meter:
    """CPU seconds and peak RSS per part, between begin() and end(); sampled every 0.5 s for the RSS."""

    def __init__(self, parts: dict[str, Callable[[], list[int]]]) -> None:
        self.parts = parts  # name -> () -> list of pids now
        self._peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _cpu(self) -> dict[str, float]:
        return {n: sum(_proc_cpu_s(p) for p in pids()) for n, pids in self.parts.items()}

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            for n, pids in self.parts.items():
                self._peak[n] = max(self._peak.get(n, 0.0), sum(_rss_mb(p) for p in pids()))

    def begin(self) -> None:
        self._t0, self._c0, self._peak = time.time(), self._cpu(), {}
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def end(self) -> dict[str, dict[str, float]]:
        c1, span = self._cpu(), time.time() - self._t0
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        return {n: {"cpu_pct": round(100 * (c1[n] - self._c0[n]) / span, 1),
                    "rss_mb_peak": round(self._peak.get(n, 0.0), 1)} for n in self.parts}


def _metric(base: str, name: str) -> float:
    req = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
    return sum(float(v) for v in re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M))


# ------------------------------------------------------------------------------------------------ the run


def build_schedule(args: argparse.Namespace) -> Schedule:
    b = args.base
    sched = [("steady 1x", args.steady_s, b)]
    sched += [(f"ramp {m:g}x", args.step_s, m * b) for m in args.ramp]
    return sched + [("burst 10x", args.burst_s, 10 * b), ("after 1x", args.steady_s, b)]


def run(args: argparse.Namespace) -> dict:
    from sqlalchemy import create_engine, func, select

    from central.orm.events import EventPhaseRecord
    from testkit.broker import Broker
    from testkit.ports import free_port, wait_port
    from testkit.postgres import admin_url, fresh_database

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * args.edges + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # Mosquitto needs a socket per edge
    work = Path(args.workdir).resolve()
    for old in ("broker", "evidence"):  # a previous run's persisted backlog would be delivered to this one
        shutil.rmtree(work / old, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    prefix = f"fleet-{secrets.token_hex(4)}"
    schedule = build_schedule(args)
    phases = _phases(schedule)
    total_s = phases[-1][2]
    procs: list[subprocess.Popen] = []
    broker = Broker(work / "broker", "max_keepalive 120\n")
    with admin_url() as admin, fresh_database(admin, prefix="doorline_fleet") as db_url:
        try:
            broker.start()
            port = free_port()
            env = os.environ | {
                "DOORLINE_DATABASE_URL": db_url, "DOORLINE_PORT": str(port),
                "DOORLINE_MQTT__HOST": broker.host, "DOORLINE_MQTT__PORT": str(broker.port),
                "DOORLINE_MQTT__PREFIX": prefix, "DOORLINE_EVIDENCE_DIR": str(work / "evidence"),
                "DOORLINE_SECRET_KEY": secrets.token_urlsafe(48),
                "DOORLINE_OWNER_LINK_SECRET": secrets.token_urlsafe(48), "DOORLINE_METRICS_TOKEN": METRICS_TOKEN,
            }
            log = (work / "central.log").open("ab")
            central = subprocess.Popen([sys.executable, "-m", "central.cli", "serve"], env=env, stdout=log,
                                       stderr=subprocess.STDOUT)
            log.close()
            procs.append(central)
            wait_port(port, timeout=90)
            base = f"http://127.0.0.1:{port}"
            pg_pids = _postgres_pids(admin)
            start_at = time.time() + args.connect_s
            per = -(-args.edges // args.procs)
            sims = []
            for k in range(args.procs):
                first, count = k * per, min(per, args.edges - k * per)
                if count <= 0:
                    break
                sims.append(subprocess.Popen(
                    [sys.executable, __file__, "--sim", "--host", broker.host, "--port", str(broker.port),
                     "--prefix", prefix, "--edges", str(args.edges), "--first", str(first), "--count", str(count),
                     "--schedule", json.dumps(schedule), "--start-at", str(start_at), "--status-s",
                     str(args.status_s), "--evidence-kb", str(args.evidence_kb), "--drain-s", str(args.drain_s)],
                    stdout=subprocess.PIPE, text=True, cwd=REPO))
            procs += sims
            meter = Meter({
                "central": lambda: [central.pid],
                "mosquitto": lambda: [broker.proc.pid] if broker.proc else [],
                "postgresql": lambda: [p for p in pg_pids() if p],
                "simulated edges": lambda: [s.pid for s in sims],
            })
            connected = sum(int(s.stdout.readline().split()[1]) for s in sims)
            print(f"{connected} of {args.edges} edges connected; schedule {total_s:.0f} s", flush=True)
            meter.begin()
            connect_use = meter.end()  # idle fleet: keepalives only, a moment's sample
            results = []
            statuses_before = _metric(base, "doorline_ingest_statuses_total")
            for name, a, b, rate in phases:
                while time.time() < start_at + a:
                    time.sleep(0.05)
                meter.begin()
                while time.time() < start_at + b:
                    time.sleep(0.05)
                use = meter.end()
                statuses = _metric(base, "doorline_ingest_statuses_total")
                results.append({"phase": name, "offered_rate": rate, "seconds": b - a, "use": use,
                                "statuses_per_s": round((statuses - statuses_before) / (b - a), 1)})
                statuses_before = statuses
                print(f"  {name}: done", flush=True)
            stats = []
            for s in sims:
                out, _ = s.communicate(timeout=120)
                stats += [json.loads(line[6:]) for line in out.splitlines() if line.startswith("STATS ")]
            sent = sum(s["events"] for s in stats)
            engine = create_engine(db_url)
            # central may be far behind after a burst: wait while it makes progress (up to --drain-s)
            deadline, last_n, last_progress = time.time() + args.drain_s, -1, time.time()
            with engine.connect() as conn:
                while time.time() < deadline and time.time() - last_progress < 60:
                    n = conn.scalar(select(func.count()).select_from(EventPhaseRecord))
                    if n >= sent:
                        break
                    if n != last_n:
                        last_n, last_progress = n, time.time()
                    time.sleep(1.0)
                drained_at = time.time()
                rows = conn.execute(select(EventPhaseRecord.sent_at, EventPhaseRecord.received_at)).all()
                distinct = conn.scalar(select(func.count(func.distinct(EventPhaseRecord.event_id))))
            engine.dispose()
            dead = _metric(base, "doorline_ingest_dead_letters_total")
        finally:
            for p in reversed(procs):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(30)
                    except subprocess.TimeoutExpired:
                        p.kill()
            broker.stop()
    sent_at = np.array([r[0] for r in rows]) - start_at
    committed = np.array([r[1].timestamp() for r in rows]) - start_at
    lat = committed - sent_at
    for k, (r, (_, a, b, _)) in enumerate(zip(results, phases, strict=True)):
        mine = (sent_at >= a) & (sent_at < b)
        lat_p = lat[mine]
        r["events_sent"] = sum(s["per_phase"][k] for s in stats)
        r["events_sent_stored"] = int(mine.sum())
        r["events_stored_in_phase"] = int(((committed >= a) & (committed < b)).sum())
        r["stored_rate"] = round(r["events_stored_in_phase"] / (b - a), 1)
        r["p50_s"] = round(float(np.percentile(lat_p, 50)), 3) if len(lat_p) else None
        r["p99_s"] = round(float(np.percentile(lat_p, 99)), 3) if len(lat_p) else None
        r["max_s"] = round(float(lat_p.max()), 3) if len(lat_p) else None
        offered = r["events_sent"] / (b - a)
        r["offered_measured_rate"] = round(offered, 1)
        # past saturation the queue grows for as long as the phase lasts: the p99 runs away
        r["saturated"] = bool(r["p99_s"] is not None and r["p99_s"] > args.p99_limit_s)
    last_commit = float(committed.max()) if len(committed) else 0.0
    # the most central stored in any 10 s of the run (the backlog after the burst keeps it busy): its capacity here
    bins = np.bincount((committed[committed >= 0] // 10).astype(int)) if len(committed) else np.zeros(1)
    peak_rate = round(float(bins.max()) / 10, 1)
    saturates = next((r for r in results if r["phase"].startswith(("burst", "ramp")) and r["saturated"]), None)
    return {
        "edges": args.edges, "connected": connected, "status_interval_s": args.status_s, "base_rate": args.base,
        "evidence_kb": args.evidence_kb, "schedule": schedule, "idle_fleet": connect_use, "phases": results,
        "events_sent": sent, "events_stored": len(rows), "events_distinct": int(distinct or 0),
        "lost": sent - int(distinct or 0), "doubled": len(rows) - int(distinct or 0),
        "dead_letters": int(dead), "backlog_drained_s_after_end": round(last_commit - total_s, 1),
        "peak_stored_rate_10s": peak_rate,
        "saturates_at": (None if saturates is None else
                         {"phase": saturates["phase"], "offered_rate": saturates["offered_measured_rate"],
                          "stored_rate": saturates["stored_rate"], "p99_s": saturates["p99_s"]}),
        "sim_stats": stats, "drained": len(rows) >= sent,
        "waited_for_central_s": round(drained_at - start_at - total_s, 1),
        "host": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _postgres_pids(admin: str):
    """A function giving the PostgreSQL server's processes now (the postmaster and its children)."""
    from sqlalchemy import create_engine

    engine = create_engine(admin)
    with engine.connect() as c:
        data_dir = c.exec_driver_sql("SHOW data_directory").scalar()
    engine.dispose()
    try:
        postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    except OSError:  # a server elsewhere (DOORLINE_TEST_PG_URL on another host): not measured
        return lambda: []
    return lambda: _descendants(postmaster)


def print_table(r: dict) -> None:
    print(f"\n{r['edges']} edges ({r['connected']} connected), heartbeat every {r['status_interval_s']:g} s, "
          f"1x = {r['base_rate']:g} events/s, pictures {r['evidence_kb']} KB; load avg {r['host']['load_avg']}")
    head = ("phase", "offered/s", "stored/s", "status/s", "p50 s", "p99 s", "central %CPU/MB", "mosq %CPU/MB",
            "pg %CPU/MB", "sims %CPU", "sat")
    print(" | ".join(head))
    for p in r["phases"]:
        u = p["use"]
        print(" | ".join(str(x) for x in (
            p["phase"], p["offered_measured_rate"], p["stored_rate"], p["statuses_per_s"], p["p50_s"], p["p99_s"],
            f"{u['central']['cpu_pct']}/{u['central']['rss_mb_peak']}",
            f"{u['mosquitto']['cpu_pct']}/{u['mosquitto']['rss_mb_peak']}",
            f"{u['postgresql']['cpu_pct']}/{u['postgresql']['rss_mb_peak']}", u["simulated edges"]["cpu_pct"],
            "yes" if p["saturated"] else "no")))
    if not r["drained"]:
        print(f"central had not stored everything {r['waited_for_central_s']} s after the schedule (no progress for "
              "60 s or --drain-s): 'lost' counts what it had not stored by then")
    print(f"sent {r['events_sent']}, stored {r['events_stored']} ({r['events_distinct']} distinct): lost {r['lost']}, "
          f"doubled {r['doubled']}, dead letters {r['dead_letters']}; backlog gone "
          f"{r['backlog_drained_s_after_end']} s after the schedule; saturates at {r['saturates_at']}; at most "
          f"{r['peak_stored_rate_10s']} events/s stored over 10 s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--edges", type=int, default=1000)
    p.add_argument("--procs", type=int, default=4, help="simulator processes")
    p.add_argument("--status-s", type=float, default=10.0, help="heartbeat interval of each edge")
    p.add_argument("--base", type=float, default=20.0, help="1x: the fleet's events per second")
    p.add_argument("--evidence-kb", type=int, default=8, help="a picture of this size before each event (0: none)")
    p.add_argument("--steady-s", type=float, default=20.0)
    p.add_argument("--burst-s", type=float, default=15.0)
    p.add_argument("--step-s", type=float, default=15.0)
    p.add_argument("--ramp", type=lambda s: [float(x) for x in s.split(",") if x], default=[2.0, 3.0, 5.0])
    p.add_argument("--short", action="store_true", help="steady 10 s, burst 10 s, after 10 s, no ramp")
    p.add_argument("--p99-limit-s", type=float, default=5.0)
    p.add_argument("--connect-s", type=float, default=20.0, help="time the simulators get to connect")
    p.add_argument("--drain-s", type=float, default=600.0, help="longest wait for central after the schedule")
    p.add_argument("--workdir", default=str(REPO / "var" / "bench" / "fleet"))
    p.add_argument("--json", default=str(REPO / "var" / "bench" / "fleet.json"))
    # simulator process
    p.add_argument("--sim", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--prefix", help=argparse.SUPPRESS)
    p.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--schedule", help=argparse.SUPPRESS)
    p.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.sim:
        return sim_worker(args)
    if args.short:
        args.steady_s, args.burst_s, args.ramp = 10.0, 10.0, []
    result = run(args)
    print_table(result)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"wrote {out}")
    return 0 if result["lost"] == 0 and result["doubled"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
