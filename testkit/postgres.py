"""PostgreSQL for the tests: the server named by `DOORLINE_TEST_PG_URL`, or else a throwaway cluster.

The throwaway cluster lives in a temporary directory, listens on 127.0.0.1 at a free port, trusts local
connections as `postgres`, and is stopped and deleted afterwards; it changes no file outside that
directory. `initdb` refuses to run as root, so as root the cluster runs as the existing user `nobody`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from testkit.ports import free_port

ENV_URL = "DOORLINE_TEST_PG_URL"
# A cluster no one keeps: skipping the disk flushes makes it start and create databases faster.
_SETTINGS = "listen_addresses = '127.0.0.1'\nfsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"


class PostgresMissing(RuntimeError):
    """No `initdb`/`pg_ctl` found here (Debian: `apt-get install postgresql`, or run scripts/setup.sh --test)."""


def bin_dir() -> Path:
    """The directory of `initdb` and `pg_ctl`: Debian's newest /usr/lib/postgresql/*/bin, else PATH."""
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresMissing("PostgreSQL's initdb was not found: install PostgreSQL or set " + ENV_URL)


class ThrowawayCluster:
    """A private PostgreSQL cluster in a temporary directory; `url` is its admin database."""

    def __init__(self, port: int | None = None, *, durable: bool = False) -> None:
        """`durable`: keep PostgreSQL's own fsync and synchronous commit (a test that crashes the server must
        not lose what it was told is committed); else skip the flushes for speed."""
        self.port = port or free_port()
        self.durable = durable
        self.bin = bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="doorline-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._user: dict = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            self._user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}

    def _run(self, *args: str) -> None:
        result = subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True,
                                cwd=self.dir, **self._user)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout}")

    def start(self) -> ThrowawayCluster:
        try:
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--locale=C", "--no-sync")
            with open(self.data / "postgresql.conf", "a") as conf:
                settings = "listen_addresses = '127.0.0.1'\n" if self.durable else _SETTINGS
                conf.write(f"port = {self.port}\nunix_socket_directories = '{self.dir}'\n{settings}")
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "60",
                      "start")
        except BaseException:
            self.remove()
            raise
        return self

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast|immediate|smart`: the server goes away under its clients (a fault test)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self) -> None:
        """Start the stopped server again on the same port and data (crash recovery after `immediate`)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "60", "start")

    def remove(self) -> None:
        """Stop the server (if it runs) and delete the directory."""
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except RuntimeError:
                pass  # already gone; the directory goes all the same
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def admin_url() -> Iterator[str]:
    """`DOORLINE_TEST_PG_URL` when set, else the admin URL of a throwaway cluster removed on exit."""
    given = os.environ.get(ENV_URL)
    if given:
        yield given
        return
    cluster = ThrowawayCluster().start()
    try:
        yield cluster.url
    finally:
        cluster.remove()


@contextmanager
def fresh_database(admin: str, prefix: str = "doorline_t", options: str = "") -> Iterator[str]:
    """A new database on the server of `admin` (a SQLAlchemy URL), dropped on exit: empty, or a copy of a
    template (`options` such as `TEMPLATE name STRATEGY FILE_COPY`, or a collation, follow CREATE DATABASE)."""
    import sqlalchemy

    # pre-ping: a test may have restarted the server since the database was made
    engine = sqlalchemy.create_engine(admin, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" {options}'.rstrip())
    except BaseException:
        engine.dispose()
        raise
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@contextmanager
def migrated_template(admin: str, prefix: str = "doorline_tpl", options: str = "") -> Iterator[str]:
    """A database brought to central's newest schema once, to copy for each test (`clone_options`): copying
    it takes a fraction of creating a database and running every migration. Dropped on exit."""
    from central.migrate import upgrade

    with fresh_database(admin, prefix, options) as url:
        upgrade(url)  # its engine is disposed: a template must have no open connection
        yield url.rsplit("/", 1)[1]


def clone_options(template: str) -> str:
    """CREATE DATABASE options that copy `template` (FILE_COPY: a small database copies faster than it logs)."""
    return f'TEMPLATE "{template}" STRATEGY FILE_COPY'
