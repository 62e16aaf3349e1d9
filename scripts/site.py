"""A whole site on loopback, as deployed (docs/DEPLOY.md): the deployment twin of `make demo`.

    .venv/bin/python scripts/site.py          # or: make site

Brings up, in a temporary directory (SITE_WORKDIR to choose one; it is emptied first):
- a CA and a server certificate for 127.0.0.1/localhost (openssl), then the broker files from
  `doorline-central broker-config` (per-account passwords, ACL, a TLS listener, no anonymous access);
- Mosquitto with that config;
- PostgreSQL: DOORLINE_DATABASE_URL if set, else the tests' throwaway cluster (testkit.postgres);
- `doorline-central migrate`, then two `doorline-central serve` instances (separate processes and ports,
  one MQTT v5 shared subscription, one database), each with the central account over TLS;
- the clip's shops registered through the API; an edge settings file (edge.yaml) checked with
  `doorline-edge check`, then one `doorline-edge run --config edge.yaml` with its own account over TLS on
  ../shared/data/dev-events/clip_00.mp4.
Central logs JSON lines (DOORLINE_LOG_FORMAT=json). Then checks: the edge's `doorline-edge check` passed;
central opened a case for every zone of the clip's ground truth; every event phase the edge wrote is stored
once; both instances stored some of them; the broker refuses an anonymous client and a wrong password.
Prints one line per check and exits 1 if any failed. Secrets (secret key, broker and admin passwords) are
random per run and travel in environment variables, never on a command line.

Environment: DOORLINE_SHARED (default ../shared), DOORLINE_DATABASE_URL, SITE_WORKDIR, SITE_CLIP (clip_00).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import yaml

from testkit.clip_shops import register_clip_shops
from testkit.ports import free_port, wait_port

REPO = Path(__file__).resolve().parents[1]

VENV_BIN = Path(sys.executable).parent
SHARED = Path(os.environ.get("DOORLINE_SHARED", REPO.parent / "shared")).resolve()
SITE_ID, EDGE_ID, CAMERA_ID = "main-street", "edge-01", "dev-cam-00"


def say(msg: str) -> None:
    print(f"\033[1m[site]\033[0m {msg}", flush=True)


def make_certs(d: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (d / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    ext = d / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
            "-days", "2", "-subj", "/CN=Doorline site test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


def broker_refuses(port: int, ca: Path, username: str | None, password: str | None) -> str:
    """Connect over TLS with these credentials; the broker's CONNACK reason ('' if it let us in)."""
    from wire.mqtt import MqttSettings, mqtt_client

    settings = MqttSettings(host="127.0.0.1", port=port, username=username, password=password, tls_ca=ca)
    client = mqtt_client(settings, f"site-probe-{uuid.uuid4().hex[:6]}")
    answer: dict[str, str] = {}
    done = threading.Event()

    def on_connect(_c, _u, _f, reason_code, _p) -> None:
        answer["reason"] = str(reason_code) if reason_code.is_failure else ""
        done.set()

    def on_disconnect(_c, _u, _f, reason_code, _p) -> None:
        answer.setdefault("reason", str(reason_code) or "disconnected")
        done.set()

    client.on_connect, client.on_disconnect = on_connect, on_disconnect
    client.reconnect_delay_set(30, 60)
    client.connect_async("127.0.0.1", port)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()
    return answer.get("reason", "no answer in 10 s")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"[site] {url}: the process exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"[site] {url} did not answer in {timeout:.0f} s; see {log}")


def run_site(work: Path, db_url: str) -> list[tuple[bool, str]]:
    clip = SHARED / "data" / "dev-events" / f"{os.environ.get('SITE_CLIP', 'clip_00')}.mp4"
    zones, model = clip.with_suffix(".json"), SHARED / "models" / "yolox_nano.onnx"
    for f in (clip, zones, model):
        if not f.exists():
            raise SystemExit(f"[site] missing {f}: put the shared folder beside the repo or set DOORLINE_SHARED")
    truth = json.loads(zones.read_text())
    procs: list[subprocess.Popen] = []
    try:
        return _run(work, db_url, clip, zones, model, truth, procs)
    finally:
        _stop(procs)


def _run(work: Path, db_url: str, clip: Path, zones: Path, model: Path, truth: dict,
         procs: list[subprocess.Popen]) -> list[tuple[bool, str]]:
    checks: list[tuple[bool, str]] = []
    # 1. secrets: random per run, in environment variables only
    central_pw, edge_pw, admin_pw = (secrets.token_urlsafe(24) for _ in range(3))
    prefix = "doorline"
    secret_env = {"SITE_CENTRAL_MQTT_PASSWORD": central_pw, "SITE_EDGE01_MQTT_PASSWORD": edge_pw}
    accounts = work / "accounts.yaml"
    accounts.write_text(yaml.safe_dump({
        "prefix": prefix,
        "central": {"username": "central", "password_env": "SITE_CENTRAL_MQTT_PASSWORD"},
        "edges": [{"edge_id": EDGE_ID, "site_id": SITE_ID, "password_env": "SITE_EDGE01_MQTT_PASSWORD",
                   "camera_ids": [CAMERA_ID]}],
    }))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("DOORLINE_")}
    base_env.update(secret_env)

    # 2. the broker: TLS, per-account passwords and ACL, from `doorline-central broker-config`
    ca, cert, key = make_certs(work / "tls")
    mqtt_port = free_port()
    bc = subprocess.run([str(VENV_BIN / "doorline-central"), "broker-config", str(accounts), "--out-dir",
                         str(work / "broker"), "--port", str(mqtt_port), "--tls-ca", str(ca), "--tls-cert",
                         str(cert), "--tls-key", str(key)],
                        env=base_env, capture_output=True, text=True)
    if bc.returncode != 0:
        raise SystemExit(f"[site] broker-config failed: {bc.stderr.strip()}")
    conf = work / "broker" / "mosquitto.conf"
    extra = f"persistence true\npersistence_location {work / 'broker'}/\n"
    if os.geteuid() == 0:
        extra += "user root\n"  # else Mosquitto drops to `mosquitto`, which cannot read the 0600 passwd here
    # loopback only: broker-config writes `listener PORT` (every interface), as a real broker wants
    conf.write_text(conf.read_text().replace(f"listener {mqtt_port}\n", f"listener {mqtt_port} 127.0.0.1\n") + extra)
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    say(f"Mosquitto on 127.0.0.1:{mqtt_port}: TLS, no anonymous access, accounts central and {EDGE_ID}, ACL")
    procs.append(subprocess.Popen([mosquitto, "-c", str(conf)], stdout=open(work / "mosquitto.log", "wb"),
                                  stderr=subprocess.STDOUT))
    wait_port(mqtt_port)

    # 3. central: migrate once, an admin written straight into the database, then two instances
    central_env = dict(
        base_env, DOORLINE_DATABASE_URL=db_url, DOORLINE_SECRET_KEY=secrets.token_urlsafe(48),
        DOORLINE_EVIDENCE_DIR=str(work / "evidence-store"), DOORLINE_TICK_INTERVAL_S="2",
        DOORLINE_MQTT__HOST="127.0.0.1", DOORLINE_MQTT__PORT=str(mqtt_port), DOORLINE_MQTT__PREFIX=prefix,
        DOORLINE_MQTT__USERNAME="central", DOORLINE_MQTT__PASSWORD=central_pw, DOORLINE_MQTT__TLS_CA=str(ca),
        DOORLINE_EDGE_ACCOUNTS=str(accounts), DOORLINE_INGEST_GROUP="central",
        DOORLINE_LOG_FORMAT="json",  # structured logs, as a collector would read them (docs/OBSERVABILITY.md)
    )
    mig = subprocess.run([str(VENV_BIN / "doorline-central"), "migrate"], env=central_env, capture_output=True,
                         text=True)
    if mig.returncode != 0:
        raise SystemExit(f"[site] doorline-central migrate failed: {mig.stderr[-2000:]}")
    _ensure_admin(db_url, admin_pw)
    apis = []
    for i in (1, 2):
        port = free_port()
        log = work / f"central-{i}.log"
        env = dict(central_env, DOORLINE_PORT=str(port), DOORLINE_INGEST_CLIENT_ID=f"doorline-central-site-{i}")
        procs.append(subprocess.Popen([str(VENV_BIN / "doorline-central"), "serve"], env=env,
                                      stdout=open(log, "wb"), stderr=subprocess.STDOUT))
        _wait_http(f"http://127.0.0.1:{port}/healthz", procs[-1], log)
        apis.append(f"http://127.0.0.1:{port}")
        say(f"doorline-central instance {i} on {apis[-1]} (database {db_url.split('@')[-1]})")
    client = httpx.Client(base_url=apis[0], timeout=30)
    token = client.post("/api/auth/token", data={"username": "admin", "password": admin_pw}).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    register_clip_shops(client, truth, CAMERA_ID, "Main Street", say)

    # 4. the edge: a settings file as on a box (docs/DEPLOY.md), its password in the environment; the
    #    deployer's `doorline-edge check` first, then the worker with its own account over TLS
    events_out = work / "events.jsonl"
    edge_yaml = work / "edge.yaml"
    edge_yaml.write_text(yaml.safe_dump({
        "site_id": SITE_ID, "edge_id": EDGE_ID, "model": str(model), "spool_path": str(work / "spool"),
        "reference_dir": str(work / "reference"), "evidence_dir": str(work / "evidence"),
        "events_out": str(events_out),
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "prefix": prefix, "username": EDGE_ID, "tls_ca": str(ca)},
        "cameras": [{"id": CAMERA_ID, "source": str(clip), "zones": str(zones)}],
    }))
    edge_env = dict(base_env, DOORLINE_EDGE_MQTT__PASSWORD=edge_pw)
    check = subprocess.run([str(VENV_BIN / "doorline-edge"), "check", "--config", str(edge_yaml)], env=edge_env,
                           capture_output=True, text=True)
    (work / "edge-check.log").write_text(check.stdout + check.stderr)
    checks.append((check.returncode == 0, f"doorline-edge check passed on the edge's settings "
                                          f"({len(check.stdout.splitlines())} checks, exit {check.returncode})"))
    say(f"doorline-edge {EDGE_ID} over TLS on {clip.name}")
    t = time.monotonic()
    edge = subprocess.run([str(VENV_BIN / "doorline-edge"), "run", "--config", str(edge_yaml), "--no-progress"],
                          env=edge_env, capture_output=True, text=True)
    (work / "edge.log").write_text(edge.stdout + edge.stderr)
    checks.append((edge.returncode == 0, f"the edge ran the clip ({time.monotonic() - t:.0f} s, exit "
                                         f"{edge.returncode})"))
    lines = [json.loads(x) for x in events_out.read_text().splitlines() if x.strip()] if events_out.exists() else []

    # 5. what central made of it
    deadline = time.monotonic() + 90
    stored = -1
    while time.monotonic() < deadline:
        r = client.get("/api/events/phases/count")
        stored = r.json()["count"] if r.status_code == 200 else -1
        if lines and stored >= len(lines):
            break
        time.sleep(0.5)
    checks.append((bool(lines) and stored == len(lines),
                   f"central stored {stored} of the {len(lines)} event phases the edge wrote"))
    wanted = sorted({t["zone_id"] for t in truth.get("truth", [])})
    cases: list[dict] = []
    while time.monotonic() < deadline:
        got = client.get("/api/cases").json()
        cases = got.get("items", got) if isinstance(got, dict) else got
        if set(wanted) <= {c.get("zone_id") for c in cases}:
            break
        time.sleep(0.5)
    opened = sorted({c.get("zone_id") for c in cases})
    checks.append((bool(wanted) and set(wanted) <= set(opened),
                   f"central opened cases for the ground truth's zones {wanted} (cases on {opened})"))
    split = _stored_per_instance(apis, token)
    checks.append((len(split) == 2 and all(n > 0 for n in split),
                   f"the two central instances shared the work (MQTT v5 shared subscription): stored {split} "
                   "messages (doorline_ingest_stored_total in each /metrics)"))
    # 6. the broker refuses strangers
    anon = broker_refuses(mqtt_port, ca, None, None)
    checks.append((bool(anon), f"the broker refuses an anonymous client ({anon or 'it let it in'})"))
    wrong = broker_refuses(mqtt_port, ca, EDGE_ID, edge_pw + "x")
    checks.append((bool(wrong), f"the broker refuses a wrong password ({wrong or 'it let it in'})"))
    return checks


def _ensure_admin(db_url: str, password: str) -> None:
    from central.db import make_engine, make_session_factory
    from central.users_cli import ensure_user

    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        ensure_user(session, "admin", password, "admin")
        session.commit()
    engine.dispose()


def _stored_per_instance(apis: list[str], token: str) -> list[int]:
    """Each instance's doorline_ingest_stored_total (an operator token reads /metrics); -1 if unreadable."""
    out = []
    for api in apis:
        r = httpx.get(f"{api}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        stored = [ln for ln in r.text.splitlines() if ln.startswith("doorline_ingest_stored_total{")]
        out.append(int(float(stored[0].rsplit(" ", 1)[1])) if r.status_code == 200 and len(stored) == 1 else -1)
    return out


def main() -> int:
    given = os.environ.get("SITE_WORKDIR")
    with ExitStack() as stack:
        if given:
            work = Path(given).resolve()
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="doorline-site-")))
        db_url = os.environ.get("DOORLINE_DATABASE_URL")
        if not db_url:
            from testkit.postgres import admin_url, fresh_database

            say("PostgreSQL: a throwaway cluster (set DOORLINE_DATABASE_URL to use a server of yours)")
            db_url = stack.enter_context(fresh_database(stack.enter_context(admin_url())))
        checks = run_site(work, db_url)
        print()
        for ok, what in checks:
            print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        failed = [w for ok, w in checks if not ok]
        say(f"{len(checks) - len(failed)} of {len(checks)} checks passed" + ("" if given else
            " (set SITE_WORKDIR to keep the logs)"))
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
