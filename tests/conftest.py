"""Shared fixtures: real brokers, real databases, the shared footage and weights."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.ports import free_port, wait_port
from testkit.postgres import PostgresMissing, admin_url, fresh_database

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


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """The PostgreSQL server of this test run: `DOORLINE_TEST_PG_URL`, else a throwaway cluster of its own."""
    try:
        with admin_url() as url:
            yield url
    except PostgresMissing as exc:
        pytest.fail(str(exc))


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with fresh_database(pg_admin_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """Run a test on both back-ends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'doorline.db'}"
    return request.getfixturevalue("pg_url")
