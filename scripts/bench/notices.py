"""Notices: confirmed case → notice accepted by the channel's server, under a steady confirm rate.

    .venv/bin/python scripts/bench/notices.py                       # SQLite, 25 confirms/s (50 notices/s), 20 s
    .venv/bin/python scripts/bench/notices.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_notices
    .venv/bin/python scripts/bench/notices.py --path api --db throwaway     # HTTP confirms, private PostgreSQL

Every confirmed case goes to the shop's two channels: a signed webhook (a local HTTP receiver that
verifies each signature, standing in for a city's SMS gateway) and e-mail (a local aiosmtpd server); both
run in a child process of their own.
The real notice sender (the one `doorline-central serve` runs) drains the outbox. Latency runs from the
commit of the confirm to the moment the receiving server accepted the message. `--path api` is the whole
real path: a `doorline-central serve` process (its HTTP API and its own notice sender), reviewers' POST
/api/cases/<id>/confirm with a Bearer token over HTTP, latency from the moment the request is sent.
`--db throwaway` starts a private PostgreSQL cluster with the server's default durability (fsync and
synchronous commit on), removed afterwards. Prints a table and writes
JSON (default var/bench/notices.json). A PostgreSQL database named must contain 'bench'; it is emptied.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, func, make_url, select

import central.orm  # noqa: F401
from central.db import make_engine, make_session_factory
from central.domain import cases
from central.notices.channels import verify_webhook
from central.notices.outbox import enqueue_notice
from central.notices.sender import NoticeSender
from central.orm.base import Base
from central.orm.cases import Case, Notice
from central.orm.notices import NoticeDelivery, ShopChannel
from central.orm.shops import Shop
from central.settings import CentralSettings, NoticeSettings

REPO = Path(__file__).resolve().parents[2]

SECRET = "bench-webhook-secret"


class Accepted:
    """(idempotency key, channel) → time.time() the server accepted it; `bad` counts refused signatures."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[tuple[str, str], float] = {}
        self.repeats = 0
        self.bad = 0

    def add(self, key: str, channel: str) -> None:
        now = time.time()
        with self.lock:
            if (key, channel) in self.at:
                self.repeats += 1
            else:
                self.at[(key, channel)] = now


def webhook_server(acc: Accepted) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if verify_webhook(SECRET, self.headers, body):
                acc.add(self.headers["Idempotency-Key"], "webhook")
                self.send_response(200)
            else:
                with acc.lock:
                    acc.bad += 1
                self.send_response(401)
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def smtp_server(acc: Accepted):
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, srv, session, envelope):  # noqa: N802
            msg = message_from_bytes(envelope.content)
            acc.add(msg["X-Doorline-Idempotency-Key"] or "", "email")
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    return ctl, port


def serve_receivers() -> int:
    """Child process: the webhook receiver and the SMTP server, away from the sender's interpreter (as the
    city's gateway and mail server would be). Prints READY <webhook port> <smtp port>; on SIGTERM prints
    what it accepted as JSON and exits."""
    import signal

    acc = Accepted()
    httpd = webhook_server(acc)
    smtp, smtp_port = smtp_server(acc)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"READY {httpd.server_address[1]} {smtp_port}", flush=True)
    stop.wait()
    smtp.stop()
    httpd.shutdown()
    with acc.lock:
        print(json.dumps({"at": [[k, ch, at] for (k, ch), at in acc.at.items()], "repeats": acc.repeats,
                          "bad": acc.bad}), flush=True)
    return 0


def start_central(settings: CentralSettings, factory, args: argparse.Namespace, tmp: Path):
    """A `doorline-central serve` process on the bench database (HTTP API, ticker, its own notice sender; no
    MQTT ingest) and a reviewer's access token for it. Returns (process, (base URL, token))."""
    import subprocess

    import httpx

    from central.auth import create_access_token, hash_password
    from central.orm.users import User

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    key = secrets.token_urlsafe(48)
    env = {**os.environ, "DOORLINE_DATABASE_URL": settings.database_url, "DOORLINE_SECRET_KEY": key,
           "DOORLINE_HOST": "127.0.0.1", "DOORLINE_PORT": str(port), "DOORLINE_INGEST_ENABLED": "false",
           "DOORLINE_PUBLIC_BASE_URL": settings.public_base_url, "DOORLINE_EVIDENCE_DIR": str(tmp / "evidence"),
           "DOORLINE_OWNER_LINK_SECRET": settings.owner_link_secret or "",
           "DOORLINE_NOTICES__SMTP_PORT": str(settings.notices.smtp_port),
           "DOORLINE_NOTICES__WORKERS": str(settings.notices.workers),
           "DOORLINE_NOTICES__POLL_S": str(settings.notices.poll_s)}
    env.pop("DOORLINE_CONFIG", None)
    with factory() as s:
        user = User(username="bench-reviewer", password_hash=hash_password(secrets.token_urlsafe(16)),
                    role="reviewer", active=True, token_version=0)
        s.add(user)
        s.commit()
        token, _ = create_access_token(settings.model_copy(update={"secret_key": key, "token_ttl_s": 3600}), user)
    log = open(tmp / "central.log", "w")  # noqa: SIM115  (kept open for the process's life)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "doorline-central"), "serve"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"central exited ({proc.returncode}); see {tmp / 'central.log'}")
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            return proc, (base, token)
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"central did not answer in 120 s; see {tmp / 'central.log'}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=25.0,
                   help="confirmed cases per second (each makes 2 notices: 25/s offers 50 notices/s)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--db", default=None, help="SQLAlchemy URL (default: SQLite in a temp dir)")
    p.add_argument("--workers", type=int, default=8, help="sender threads")
    p.add_argument("--confirmers", type=int, default=4, help="threads confirming cases")
    p.add_argument("--path", choices=["api", "confirm", "outbox"], default="confirm",
                   help="api: HTTP confirms to a doorline-central serve process (its own sender); confirm: the "
                        "real cases.confirm (strike, grade, audit, notice, outbox) in this process; outbox: only "
                        "the notice and its outbox rows, to measure delivery alone")
    p.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "notices.json")
    p.add_argument("--serve-receivers", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_receivers:
        return serve_receivers()

    tmp = Path(tempfile.mkdtemp(prefix="doorline-bench-notices-"))
    cluster = None
    if args.db == "throwaway":
        from testkit.postgres import ThrowawayCluster

        cluster = ThrowawayCluster(durable=True).start()
        args.db = cluster.url.rsplit("/", 1)[0] + "/postgres_bench"
        admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE postgres_bench")
        admin.dispose()
    try:
        return run(p, args, tmp)
    finally:
        if cluster is not None:
            cluster.remove()


def run(p: argparse.ArgumentParser, args: argparse.Namespace, tmp: Path) -> int:
    url = args.db or f"sqlite:///{tmp / 'bench.db'}"
    if not url.startswith("sqlite") and "bench" not in (make_url(url).database or ""):
        p.error("the PostgreSQL database name must contain 'bench' (it is emptied)")
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    if args.path == "api":  # the schema is the migrations' head: `serve` has nothing to upgrade
        from alembic import command

        from central.migrate import alembic_config

        command.stamp(alembic_config(url), "head")
    factory = make_session_factory(engine)

    import subprocess

    child = subprocess.Popen([sys.executable, __file__, "--serve-receivers"], stdout=subprocess.PIPE, text=True)
    ready = child.stdout.readline().split()
    if not ready or ready[0] != "READY":
        p.error("the receivers did not start")
    webhook_port, smtp_port = int(ready[1]), int(ready[2])
    settings = CentralSettings(database_url=url, public_base_url="https://doorline.example",
                               owner_link_secret=secrets.token_urlsafe(48),
                               notices=NoticeSettings(smtp_port=smtp_port, workers=args.workers, poll_s=0.05))
    n = int(args.rate * args.seconds)
    with factory() as s:
        for i in range(n):
            s.add(Shop(id=f"b{i}", name=f"Bench shop {i}", address=f"{i} Bench Road", road="Bench Road",
                       area="Bench", owner="Owner"))
        s.flush()
        for i in range(n):
            s.add(ShopChannel(shop_id=f"b{i}", kind="webhook", target=f"http://127.0.0.1:{webhook_port}/",
                              secret=SECRET))
            s.add(ShopChannel(shop_id=f"b{i}", kind="email", target=f"owner{i}@bench.example"))
            s.add(Case(id=f"case-{i:06d}", shop_id=f"b{i}", violation="piled_goods", state="detected",
                       is_open=True, site_id="site", camera_id="cam", zone_id=f"z{i}", source_kind="fixed",
                       evidence=[], first_seen_at=datetime.now(UTC)))
        s.commit()

    notice_case: dict[str, str] = {}  # idempotency key → case id, read once the run is over

    central = api = None
    if args.path == "api":
        try:
            central, api = start_central(settings, factory, args, tmp)
        except BaseException:
            child.kill()
            raise
    else:
        sender = NoticeSender(settings, factory, owner="bench")
        sender.start()
    confirmed_at: dict[str, float] = {}
    t_start = time.monotonic()

    def confirmer(k: int) -> None:  # several operators confirming at once, paced to the overall rate
        if api is not None:
            return api_confirmer(k)
        with factory() as s:
            for i in range(k, n, args.confirmers):
                delay = t_start + i / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if args.path == "confirm":
                    cases.confirm(s, f"case-{i:06d}", actor="bench", settings=settings)
                else:  # only the notice and its outbox rows, as the confirm writes them (no grades, no audit)
                    case = s.get(Case, f"case-{i:06d}")
                    case.state, case.strike, case.window_ends_at = "notified", 1, datetime.now(UTC)
                    notice = Notice(case_id=case.id, shop_id=case.shop_id, kind="advice", strike=1)
                    s.add(notice)
                    s.flush()
                    enqueue_notice(s, notice, case=case, shop=s.get(Shop, case.shop_id), settings=settings)
                s.commit()
                confirmed_at[f"case-{i:06d}"] = time.time()

    failed: list[str] = []

    def api_confirmer(k: int) -> None:  # a reviewer's client: one keep-alive connection, a Bearer token
        import httpx

        base, token = api
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            for i in range(k, n, args.confirmers):
                delay = t_start + i / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sent = time.time()
                r = client.post(f"/api/cases/case-{i:06d}/confirm", json={"note": ""})
                if r.status_code == 200:
                    confirmed_at[f"case-{i:06d}"] = sent
                else:
                    failed.append(f"case-{i:06d}: {r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=confirmer, args=(k,)) for k in range(args.confirmers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    confirm_wall = time.monotonic() - t_start
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with factory() as s:
            pending = s.scalar(select(func.count()).where(NoticeDelivery.status == "pending"))
        if not pending:
            break
        time.sleep(0.1)
    drain_wall = time.monotonic() - t_start
    time.sleep(0.3)
    if central is not None:
        central.terminate()
        central.wait(timeout=60)
    else:
        sender.stop()
    with factory() as s:
        for key, case_id in s.execute(select(NoticeDelivery.idempotency_key, NoticeDelivery.case_id)):
            notice_case[key] = case_id
        status = dict(s.execute(select(NoticeDelivery.status, func.count()).group_by(NoticeDelivery.status)).all())
    child.terminate()
    got = json.loads(child.communicate(timeout=30)[0].strip().splitlines()[-1])
    acc = Accepted()
    acc.at = {(k, ch): at for k, ch, at in got["at"]}
    acc.repeats, acc.bad = got["repeats"], got["bad"]
    engine.dispose()

    rows = []
    for channel in ("webhook", "email", "all"):
        lat = [at - confirmed_at[notice_case[k]] for (k, ch), at in acc.at.items()
               if (channel == "all" or ch == channel) and notice_case.get(k) in confirmed_at]
        rows.append({"channel": channel, "accepted": len(lat), "p50_s": percentile(lat, 50),
                     "p95_s": percentile(lat, 95), "p99_s": percentile(lat, 99), "max_s": max(lat, default=0)})
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
        "load": os.getloadavg()[0], "db": make_url(url).get_backend_name(), "rate": args.rate,
        "seconds": args.seconds, "cases": n, "expected": 2 * n, "confirm_wall_s": round(confirm_wall, 2),
        "achieved_rate": round(n / confirm_wall, 1), "notices_per_s": round(2 * n / confirm_wall, 1),
        "drain_wall_s": round(drain_wall, 2),
        "status": status, "repeats": acc.repeats, "bad_signatures": acc.bad, "workers": args.workers,
        "confirmers": args.confirmers, "path": args.path, "failed_confirms": len(failed), "cpus": os.cpu_count(),
        "rows": rows,
    }
    print(f"{n} cases ({args.path}) at {result['achieved_rate']}/s = {result['notices_per_s']} notices/s "
          f"({result['db']}, {args.workers} sender threads, "
          f"load {result['load']:.1f}); outbox {status}; repeats {acc.repeats}; bad signatures {acc.bad}")
    print(f"{'channel':8} {'accepted':>9} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'max s':>7}")
    for r in rows:
        print(f"{r['channel']:8} {r['accepted']:>9} {r['p50_s']:>7.3f} {r['p95_s']:>7.3f} {r['p99_s']:>7.3f} "
              f"{r['max_s']:>7.3f}")
    for line in failed[:5]:
        print(f"confirm failed: {line}")
    target = rows[-1]["p95_s"] < 5.0 and rows[-1]["accepted"] == 2 * n and not failed
    print(f"target p95 < 5 s with every notice accepted: {'met' if target else 'NOT met'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0 if target else 1


if __name__ == "__main__":
    sys.exit(main())
