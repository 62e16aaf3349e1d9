"""Helpers shared by the transport tests, their subprocess runners and the ingest benchmark."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from central.db import make_engine, make_session_factory
from central.evidence_store import LocalEvidenceStore
from wire.ids import new_id
from wire.schema import EventMessage, EvidenceMessage

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

TRANSPORT_DIR = Path(__file__).resolve().parent
REPO_DIR = TRANSPORT_DIR.parents[1]


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
    """tests/transport/run_central.py as a child process, returned once it printed READY."""
    p = spawn(
        [
            str(TRANSPORT_DIR / "run_central.py"),
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
