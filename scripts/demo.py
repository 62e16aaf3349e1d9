"""The README's main command: edge → MQTT → central on real footage, then a summary.

Starts a Mosquitto broker if none listens, `doorline-central serve` (SQLite in var/demo unless
DOORLINE_DATABASE_URL names another database, e.g. PostgreSQL), registers the clip's shops, and runs
`doorline-edge run` on ../shared/data/dev-events/clip_00.mp4 with the YOLOX-nano weights. Ends by printing
where to look and what was stored, beside the clip's ground truth.

Environment: DOORLINE_SHARED (default ../shared), DOORLINE_DATABASE_URL, DOORLINE_MQTT__HOST/PORT,
DEMO_CLIP (default clip_00), DEMO_KEEP_SERVING=1 to keep the service up after the summary (the default
when run from a terminal).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from testkit.clip_shops import register_clip_shops

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SHARED = Path(os.environ.get("DOORLINE_SHARED", REPO.parent / "shared")).resolve()
WORK = Path(os.environ.get("DEMO_WORKDIR", REPO / "var" / "demo")).resolve()
ADMIN_PASSWORD = "doorline-demo"


def say(msg: str) -> None:
    print(f"\033[1m[demo]\033[0m {msg}", flush=True)


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port(preferred: int) -> int:
    if preferred and not listening("127.0.0.1", preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, what: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"[demo] {what}: the process exited with code {proc.returncode}; see {WORK}/*.log")
        time.sleep(0.3)
    raise SystemExit(f"[demo] timed out after {timeout:.0f} s waiting for {what}; see {WORK}/*.log")


def start_broker(host: str, port: int, procs: list[subprocess.Popen]) -> None:
    if listening(host, port):
        say(f"using the MQTT broker already listening on {host}:{port}")
        return
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists():
        raise SystemExit("[demo] no MQTT broker listens and mosquitto is not installed: run scripts/setup.sh")
    conf = WORK / "mosquitto.conf"
    conf.write_text(f"listener {port} {host}\nallow_anonymous true\npersistence false\n")
    say(f"starting Mosquitto on {host}:{port}")
    procs.append(subprocess.Popen([mosquitto, "-c", str(conf)], stdout=open(WORK / "mosquitto.log", "wb"),
                                  stderr=subprocess.STDOUT))
    wait_for(lambda: listening(host, port), "Mosquitto", 10, procs[-1])


def main() -> int:
    clip_name = os.environ.get("DEMO_CLIP", "clip_00")
    clip = SHARED / "data" / "dev-events" / f"{clip_name}.mp4"
    zones = clip.with_suffix(".json")
    model = SHARED / "models" / "yolox_nano.onnx"
    for f in (clip, zones, model):
        if not f.exists():
            raise SystemExit(f"[demo] missing {f}: put the shared folder beside the repo or set DOORLINE_SHARED")
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)

    mqtt_host = os.environ.get("DOORLINE_MQTT__HOST", "127.0.0.1")
    mqtt_port = int(os.environ.get("DOORLINE_MQTT__PORT", "1883"))
    prefix = f"doorline-demo-{uuid.uuid4().hex[:8]}"
    db_url = os.environ.get("DOORLINE_DATABASE_URL", f"sqlite:///{WORK / 'doorline.db'}")
    api_port = free_port(int(os.environ.get("DOORLINE_PORT", "8000")))
    camera_id, site_id = "dev-cam-00", "demo-street"
    env = dict(os.environ, DOORLINE_DATABASE_URL=db_url, DOORLINE_EVIDENCE_DIR=str(WORK / "evidence-store"),
               DOORLINE_MQTT__HOST=mqtt_host, DOORLINE_MQTT__PORT=str(mqtt_port), DOORLINE_MQTT__PREFIX=prefix,
               DOORLINE_PORT=str(api_port), DOORLINE_TICK_INTERVAL_S="2",
               # central refuses the shipped default key: the demo signs its tokens with a fresh one per run
               DOORLINE_SECRET_KEY=os.environ.get("DOORLINE_SECRET_KEY") or secrets.token_urlsafe(48),
               DOORLINE_ADMIN_PASSWORD=ADMIN_PASSWORD)  # from the environment: never on a command line

    procs: list[subprocess.Popen] = []
    try:
        start_broker(mqtt_host, mqtt_port, procs)
        say(f"starting doorline-central on http://127.0.0.1:{api_port} (database {db_url.split('@')[-1]})")
        central = subprocess.Popen([str(VENV_BIN / "doorline-central"), "serve"],
                                   env=env, stdout=open(WORK / "central.log", "wb"), stderr=subprocess.STDOUT)
        procs.append(central)
        api = f"http://127.0.0.1:{api_port}"
        wait_for(lambda: _ok(f"{api}/healthz"), "doorline-central", 60, central)
        client = httpx.Client(base_url=api, timeout=30)
        token = client.post("/api/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        register_clip_shops(client, json.loads(zones.read_text()), camera_id, "Demo Street", say)

        say(f"running doorline-edge on {clip.relative_to(SHARED.parent)} with {model.name}")
        events_out = WORK / "events.jsonl"
        edge_cmd = [str(VENV_BIN / "doorline-edge"), "run", "--source", str(clip), "--zones", str(zones),
                    "--model", str(model), "--camera-id", camera_id, "--site-id", site_id,
                    "--events-out", str(events_out), "--evidence-dir", str(WORK / "evidence"),
                    "--spool", str(WORK / "spool.db"), "--mqtt-host", mqtt_host, "--mqtt-port", str(mqtt_port),
                    "--mqtt-prefix", prefix, "--edge-id", f"demo-edge-{uuid.uuid4().hex[:6]}"]
        edge = subprocess.run(edge_cmd, env=env)
        if edge.returncode != 0:
            raise SystemExit(f"[demo] doorline-edge failed with exit code {edge.returncode}")
        lines = [json.loads(x) for x in events_out.read_text().splitlines() if x.strip()]
        say(f"edge wrote {len(lines)} event phases; waiting for central to store them")
        wait_for(lambda: _stored(client) >= len(lines), "central to store every event", 120, central)
        summary(client, lines, zones, events_out, api)
        if os.environ.get("DEMO_KEEP_SERVING", "1" if sys.stdin.isatty() and not os.environ.get("CI") else "0") == "1":
            say("central keeps running; press Ctrl-C to stop")
            central.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    return 0


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stored(client: httpx.Client) -> int:
    r = client.get("/api/events/phases/count")
    return r.json()["count"] if r.status_code == 200 else -1


def summary(client: httpx.Client, lines: list[dict], zones_file: Path, events_out: Path, api: str) -> None:
    truth = json.loads(zones_file.read_text())
    cases = client.get("/api/cases").json()
    cases = cases.get("items", cases) if isinstance(cases, dict) else cases
    print()
    say("what the edge saw (start / end per zone), beside the clip's ground truth:")
    for z in truth["zones"]:
        zid = z["zone_id"]
        starts = [f"{e['ts']:.0f}s" for e in lines if e["zone_id"] == zid and e["phase"] == "start"]
        ends = [f"{e['ts']:.0f}s" for e in lines if e["zone_id"] == zid and e["phase"] == "end"]
        gt = [f"on {t['on']:.0f}s off {t['off']:.0f}s" for t in truth["truth"] if t["zone_id"] == zid]
        kind = "truth: " + ", ".join(gt) if gt else ("short object" if any(
            s["zone_id"] == zid for s in truth.get("short", [])) else "truth: none")
        print(f"  {zid:6} starts {starts or '-'} ends {ends or '-'}   ({kind})")
    print(f"  cases stored by central: {len(cases)}")
    for c in cases:
        print(f"    case {c.get('id')} shop {c.get('shop_id')} {c.get('violation')} state {c.get('state')}")
    scorer = SHARED / "checks" / "score-events"
    if scorer.exists():
        out = subprocess.run([sys.executable, str(scorer), str(zones_file), str(events_out)],
                             capture_output=True, text=True)
        print(f"  score against ground truth: {out.stdout.strip().splitlines()[-1] if out.stdout else out.stderr}")
    print()
    say(f"API docs:         {api}/docs")
    say(f"operator console: {api}/console   (user admin, password {ADMIN_PASSWORD})")
    say(f"events file:      {events_out}")
    say(f"evidence JPEGs:   {WORK / 'evidence'}")


if __name__ == "__main__":
    sys.exit(main())
