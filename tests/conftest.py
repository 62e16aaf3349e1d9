"""Shared fixtures: real brokers, real databases, the shared footage and weights."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.auth import set_hash_cost
from testkit.broker import Broker
from testkit.postgres import PostgresMissing, admin_url, clone_options, fresh_database, migrated_template

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DOORLINE_SHARED", REPO.parent / "shared")).resolve()

# Password hashes: argon2 at 1 MiB and one pass in the tests (the deployment default is 64 MiB, three passes:
# ~0.1-0.7 s a hash, and the suite makes thousands). Central reads these for every app and child process the
# tests start; `set_hash_cost` covers what hashes before any app exists. Tests that need the real cost set it.
os.environ.setdefault("DOORLINE_PASSWORD_HASH_MEMORY_KIB", "1024")
os.environ.setdefault("DOORLINE_PASSWORD_HASH_TIME_COST", "1")

set_hash_cost(int(os.environ["DOORLINE_PASSWORD_HASH_MEMORY_KIB"]), int(os.environ["DOORLINE_PASSWORD_HASH_TIME_COST"]))


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


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> Iterator[str]:
    """A PostgreSQL database at central's newest schema, made once per run, that `pg_url` copies."""
    with migrated_template(pg_admin_url) as name:
        yield name


@pytest.fixture
def pg_url(pg_admin_url: str, pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, at central's newest schema (a copy of `pg_template`; running
    the migrations again is a no-op), dropped afterwards."""
    with fresh_database(pg_admin_url, options=clone_options(pg_template)) as url:
        yield url


@pytest.fixture
def pg_empty_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (no tables), dropped afterwards."""
    with fresh_database(pg_admin_url) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at central's newest schema, made once per run, that `db_url` copies."""
    from central.migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "doorline.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """Run a test on both back-ends, each database a fresh copy at central's newest schema."""
    if request.param == "sqlite":
        path = tmp_path / "doorline.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("pg_url")


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked `reliability` are the long runs: they run under `make reliability`
    (DOORLINE_RELIABILITY_DIR set) or when asked for with `-m reliability`, never in the ordinary suite."""
    if os.environ.get("DOORLINE_RELIABILITY_DIR") or "reliability" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="long run: make reliability (or -m reliability)")
    for item in items:
        if item.get_closest_marker("reliability") is not None:
            item.add_marker(skip)
