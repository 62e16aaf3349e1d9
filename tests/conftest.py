"""Shared fixtures: real brokers, real databases, the shared footage and weights."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DOORLINE_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}; set DOORLINE_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def models_dir(shared_dir: Path) -> Path:
    return shared_dir / "models"


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    return shared_dir / "data"


def ephemeral_ports() -> tuple[int, int]:
    """The kernel's range for the local ports of outgoing connections."""
    try:
        lo, hi = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default; other systems use a range at or above it


def free_port() -> int:
    """A free port below the ephemeral range. A port inside it can be taken by a client: paho reconnecting
    to a stopped broker on 127.0.0.1:P may get P as its own local port and connect to itself (TCP
    self-connect), and the restarted broker then fails with 'Address already in use'."""
    lo, _ = ephemeral_ports()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, max(10001, lo))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port found between 10000 and {lo}")


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


class Broker:
    """A private Mosquitto on a free port, with persistence, that a test may kill and restart."""

    def __init__(self, workdir: Path, extra_conf: str = "", port: int | None = None):
        self.workdir = workdir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    def conf_text(self) -> str:
        base = (
            f"listener {self.port} 127.0.0.1\n"
            f"persistence true\npersistence_location {self.workdir}/\n"
            "autosave_interval 1\nmax_queued_messages 100000\nmax_inflight_messages 100\n"
            "message_size_limit 4194304\n"
        )
        if "allow_anonymous" not in self.extra_conf:
            base += "allow_anonymous true\n"
        if hasattr(os, "geteuid") and os.geteuid() == 0 and "\nuser " not in f"\n{self.extra_conf}":
            base += "user root\n"  # else Mosquitto drops to `mosquitto`, cannot write here: no persistence
        return base + self.extra_conf

    def start(self) -> Broker:
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.conf_text())
        log = open(self.workdir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=log, stderr=log)
        wait_port(self.port)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator:
    brokers: list[Broker] = []

    def make(extra_conf: str = "") -> Broker:
        b = Broker(tmp_path / f"broker{len(brokers)}", extra_conf)
        brokers.append(b)
        return b.start()

    yield make
    for b in brokers:
        b.stop(kill=True)


@pytest.fixture
def broker(broker_factory) -> Broker:
    return broker_factory()


@pytest.fixture
def topic_prefix() -> str:
    return f"doorline-test-{uuid.uuid4().hex[:10]}"


PG_ADMIN_URL = os.environ.get("DOORLINE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    admin = sqlalchemy.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = f"doorline_t_{uuid.uuid4().hex[:12]}"
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """Run a test on both back-ends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'doorline.db'}"
    return request.getfixturevalue("pg_url")
