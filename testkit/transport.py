"""Helpers shared by the transport tests, their subprocess runners and the ingest benchmark."""

from __future__ import annotations

import json
import math
import secrets
import struct
import textwrap
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from central.db import make_engine, make_session_factory
from central.evidence_store import LocalEvidenceStore
from central.orm.events import Event, EventPhaseRecord, Evidence
from wire import signing, topics
from wire.ids import new_id
from wire.schema import BUNDLE_MAGIC, EventMessage, EvidenceMessage, encode

SITE = "site-a"
METRICS_TOKEN = secrets.token_urlsafe(32)  # the scrape token the in-process centrals accept on /metrics


@lru_cache(maxsize=8)
def jpeg_bytes(kb: int = 100, seed: int = 0) -> tuple[bytes, int, int]:
    """A real JPEG of about `kb` kilobytes (noise compresses badly, so the size is predictable)."""
    side = max(16, int(300 * math.sqrt(kb / 83.0)))
    img = np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes(), side, side


def make_evidence(
    event_id: str, *, camera: str = "cam-1", site: str = SITE, kb: int = 20, seed: int = 0
) -> EvidenceMessage:
    data, w, h = jpeg_bytes(kb, seed)
    return EvidenceMessage.from_jpeg(
        data, width=w, height=h, site_id=site, camera_id=camera, evidence_id=new_id(), event_id=event_id
    )


def make_event(
    i: int = 0,
    *,
    camera: str = "cam-1",
    site: str = SITE,
    evidence: list[EvidenceMessage] | None = None,
    event_id: str | None = None,
    phase: str = "start",
    seq: int = 0,
) -> EventMessage:
    return EventMessage(
        site_id=site,
        camera_id=camera,
        event_id=event_id or new_id(),
        seq=seq,
        zone_id=f"zone-{i % 7}",
        violation="piled_goods",
        phase=phase,
        ts=time.time(),
        score=0.9,
        boxes=[[1.0, 2.0, 30.0, 40.0]],
        evidence=[e.ref() for e in (evidence or [])],
    )


def central_db(url: str) -> tuple[Engine, sessionmaker[Session]]:
    import central.orm  # noqa: F401  (registers every table)
    from central.orm.base import Base

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    return engine, make_session_factory(engine)


def evidence_store(root: Path) -> LocalEvidenceStore:
    return LocalEvidenceStore(root, fsync=False)


def count(factory: sessionmaker[Session], model, *where) -> int:
    with factory() as s:
        stmt = select(func.count()).select_from(model)
        for w in where:
            stmt = stmt.where(w)
        return int(s.scalar(stmt) or 0)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    if not predicate():
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# ---------------------------------------------------------------------------------------------------------
# Real processes (central ingest runner, doorline-edge CLI), a bag clip for the edge, a raw MQTT observer.

REPO_DIR = Path(__file__).resolve().parents[1]


def spawn(args: list[str], *, env: dict | None = None, log: Path | None = None):
    """Start `python ARGS...`. With `log`, stdout and stderr go to that file (a chatty child must never block
    on a full pipe); without, stdout and stderr are pipes (for `expect_line`)."""
    import os
    import subprocess
    import sys

    full_env = {**os.environ, **(env or {})}
    if log is None:
        return subprocess.Popen(
            [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env
        )
    out = open(log, "ab")  # noqa: SIM115 -- the child owns it
    try:
        return subprocess.Popen([sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, env=full_env)
    finally:
        out.close()


def expect_line(proc, prefix: str, timeout: float = 30) -> str:
    """The first stdout line of `proc` starting with `prefix` (the child is killed if none comes)."""
    import threading

    box: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            if line.startswith(prefix):
                box.append(line.strip())
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        proc.kill()
        raise AssertionError(f"{proc.args[1:3]} never printed {prefix!r}; stderr:\n{proc.stderr.read()[-3000:]}")
    return box[0]


def central_process(broker, prefix: str, db_url: str, evidence: Path, client_id: str):
    """testkit/run_central.py as a child process, returned once it printed READY."""
    p = spawn(
        [
            "-m",
            "testkit.run_central",
            "--port",
            str(broker.port),
            "--prefix",
            prefix,
            "--db-url",
            db_url,
            "--evidence-dir",
            str(evidence),
            "--client-id",
            client_id,
        ]
    )
    expect_line(p, "READY")
    return p


def stop_process(p, timeout: float = 20) -> str:
    """SIGTERM, wait, and return what it printed on stdout (if piped)."""
    import signal

    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=timeout)
    return out or ""


def distinct_events(factory: sessionmaker[Session]) -> int:
    from central.orm.events import EventPhaseRecord

    with factory() as s:
        return int(s.scalar(select(func.count(func.distinct(EventPhaseRecord.event_id)))) or 0)


def write_yaml_atomically(path: Path, data: dict) -> None:
    import os

    import yaml

    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data), encoding="utf-8")
    os.replace(tmp, path)


def edge_process(config: dict, workdir: Path, *, log_name: str = "edge.log"):
    """The real `doorline-edge run --config` in a child process (output in workdir/log_name)."""
    import yaml

    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "edge.yaml"
    cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
    return spawn(["-m", "edge.cli", "-v", "run", "--config", str(cfg), "--no-progress"], log=workdir / log_name)


class Observer:
    """A plain MQTT v5 client that records every decoded message on the filters it subscribes to, as
    (monotonic time, topic, message); a Bundle is recorded as its head message."""

    def __init__(self, broker, client_id: str, filters: list[str]):
        import threading

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from wire.schema import decode

        self.messages: list[tuple[float, str, object]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)

        def on_message(_c, _u, m) -> None:
            try:
                msg = decode(m.payload)
            except Exception:  # noqa: BLE001 -- record what could not be decoded as raw bytes
                msg = bytes(m.payload)
            msg = getattr(msg, "head", msg)
            with self._lock:
                self.messages.append((time.monotonic(), m.topic, msg))

        self.client.on_message = on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe([(f, 1) for f in filters])
        if not self._subscribed.wait(5):
            raise AssertionError("observer not subscribed")

    def of(self, cls) -> list[tuple[float, object]]:
        with self._lock:
            return [(t, m) for t, _, m in self.messages if isinstance(m, cls)]

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(5)
        assert info.is_published(), f"no PUBACK for the publish on {topic}"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# ---------------------------------------------------------------------------------------------------------
# TLS: a throw-away CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI.


def _openssl(*args: str, cwd: Path) -> None:
    import subprocess

    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _signed_cert(d: Path, name: str, subject: str, ext: str) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key", "-out",
             f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=d)


def make_test_pki(d: Path) -> dict[str, Path]:
    """ca.crt/ca.key, server.crt/.key (CN and SAN 127.0.0.1, localhost), client.crt/.key, all signed by the CA."""
    d.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Doorline test CA",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    _signed_cert(d, "server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _signed_cert(d, "client", "/CN=edge-1", "extendedKeyUsage=clientAuth\n")
    return {k: d / f"{n}" for k, n in (("ca", "ca.crt"), ("cert", "server.crt"), ("key", "server.key"),
                                        ("client_cert", "client.crt"), ("client_key", "client.key"))}


def mqtt_connect_packet(client_id: str = "probe", username: str | None = None, password: str | None = None) -> bytes:
    """A raw MQTT 3.1.1 CONNECT packet (clean session, keepalive 30)."""
    def s(text: str) -> bytes:
        b = text.encode()
        return len(b).to_bytes(2, "big") + b

    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = s("MQTT") + bytes([4, flags]) + (30).to_bytes(2, "big") + s(client_id)
    body += (s(username) if username is not None else b"") + (s(password) if password is not None else b"")
    assert len(body) < 128
    return bytes([0x10, len(body)]) + body


def plain_mqtt_answer(host: str, port: int, packet: bytes, timeout: float = 5.0) -> bytes:
    """Send `packet` over plain TCP and return the first bytes that come back (b"" if the peer closes)."""
    import socket

    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(packet)
        try:
            return sock.recv(4)
        except (ConnectionResetError, TimeoutError):
            return b""


# ---------------------------------------------------------------------------------------------------------
# Signed edges (tests/transport/test_signing.py, test_status_signer.py)

PASSWORDS = {"edge-1": "first-edge-secret", "edge-2": "second-edge-secret"}


def signed_accounts(tmp_path, prefix: str):
    """An accounts file (central and two edges with passwords) for the signing tests."""
    path = tmp_path / "accounts.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            prefix: {prefix}
            central: {{username: central, password: central-secret}}
            edges:
              - {{edge_id: edge-1, site_id: {SITE}, password: {PASSWORDS["edge-1"]}, camera_ids: [cam-1]}}
              - {{edge_id: edge-2, site_id: {SITE}, password: {PASSWORDS["edge-2"]}, camera_ids: [cam-2]}}
            """
        )
    )
    return path


def publish_signed(c, topic: str, payload: bytes, sig: str | None) -> None:
    props = None if sig is None else signing.properties(sig)
    c.publish(topic, payload, qos=1, properties=props).wait_for_publish(5)


# ---------------------------------------------------------------------------------------------------------
# Raw MQTT clients, an offline ingest service and fault helpers shared by the transport tests

def raw_client(broker, client_id: str = "raw") -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def send(c: mqtt.Client, topic: str, payload: bytes) -> None:
    info = c.publish(topic, payload, qos=1)
    info.wait_for_publish(5)


def wait_stored(f, *, events: int, pictures: int) -> None:
    wait_for(
        lambda: count(f, Evidence, Evidence.stored.is_(True)) == pictures and count(f, Event) == events,
        10,
        f"{events} event(s) with {pictures} stored picture(s)",
    )


def offline_service(tmp_path, workflow=None):
    """An IngestService that is not connected: its writer is driven directly, as the network thread would."""
    from central.ingest import IngestService
    from central.settings import CentralSettings
    from testkit.transport import central_db, evidence_store
    from wire.mqtt import MqttSettings

    url = f"sqlite:///{tmp_path / 'offline.db'}"
    _, factory = central_db(url)
    svc = IngestService(
        CentralSettings(database_url=url, mqtt=MqttSettings(prefix="p")),
        factory,
        evidence_store(tmp_path / "ev"),
    )
    svc._workflow = workflow  # noqa: SLF001
    return svc


def inbound(msg, mid: int):
    from central.ingest import Inbound

    kind = {"event": "event", "evidence": "evidence", "recheck_result": "recheck"}[msg.type]
    return Inbound(topics.topic(msg.site_id, msg.camera_id, kind, "p"), encode(msg), mid, 1, 0, 0.0)


class FlakyStore:
    """A local store whose first `failures` writes fail as on a full disk."""

    def __init__(self, root, failures: int):
        from central.evidence_store import LocalEvidenceStore

        self.inner, self.failures, self.puts, self.flushes = LocalEvidenceStore(root), failures, 0, 0

    def put(self, data: bytes, *, durable: bool = True) -> str:
        from central.evidence_store import EvidenceStoreError

        self.puts += 1
        if self.failures > 0:
            self.failures -= 1
            raise EvidenceStoreError("No space left on device")
        return self.inner.put(data, durable=durable)

    def flush(self) -> None:
        self.flushes += 1
        self.inner.flush()


POISON: list[tuple[str, bytes, str]] = [
    ("1000-brackets", b"[" * 1000, "nested deeper"),
    ("1000-objects", b'{"a":' * 1000, "nested deeper"),
    ("deep-inside-a-valid-looking-event", b'{"v":1,"type":"event","boxes":' + b"[" * 500 + b"]" * 500 + b"}",
     "nested deeper"),
    ("5000-digit-integer", b'{"v":1,"type":"event","seq":' + b"9" * 5000 + b"}", "not JSON"),
    ("NaN-score", json.dumps({**json.loads(encode(make_event())), "score": float("nan")}).encode(), "NaN"),
    ("bundle-header-of-brackets", struct.pack(">4sI", BUNDLE_MAGIC, 1000) + b"[" * 1000, "nested deeper"),
    ("not-utf8", b'{"v":1,"type":"\xff\xfe"}', "not JSON"),
]


def idle(central) -> bool:
    """Every message central received has been handled (stored, a duplicate, dead-lettered or a status)."""
    s = central.stats()
    done = s["stored"] + s["duplicates"] + s["dead_letters"] + s["statuses"]
    return s["queue_depth"] == 0 and done == s["received"]


def kill_broker_mid_stream(broker, edge, f) -> tuple[threading.Thread, int]:
    """Start streaming 1,000 events from `edge`, SIGKILL the broker once 150 are stored; the producer thread
    and how many were stored then."""
    producer = threading.Thread(target=produce_events, args=(edge,))
    producer.start()
    wait_for(lambda: count(f, EventPhaseRecord) >= 150, 20, "the stream to be under way")
    broker.stop(kill=True)
    return producer, count(f, EventPhaseRecord)


def produce_events(
    edge,
    n: int = 1000,
    *,
    pause_at: int | None = None,
    paused: threading.Event | None = None,
    resume: threading.Event | None = None,
) -> None:
    """n events, every tenth with a 5 KB picture (one bundle), in bursts of 50."""
    for i in range(n):
        if pause_at is not None and i == pause_at:
            assert paused is not None and resume is not None
            paused.set()
            if not resume.wait(30):
                return
        evidence = [make_evidence(f"e{i}", kb=5, seed=i % 3)] if i % 10 == 0 else []
        edge.publish_many([*evidence, make_event(i, evidence=evidence, event_id=f"e{i}")])
        if i % 50 == 0:
            time.sleep(0.05)
