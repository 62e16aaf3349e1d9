"""`doorline-central`: run the service and its maintenance commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from central.broker_config import BrokerConfigError
from central.domain.clock import now_utc
from central.password_input import PasswordUnavailable, read_password
from central.settings import CentralSettings, InsecureSecretKey, check_secret_key

log = logging.getLogger("doorline.central")


class Ticker(threading.Thread):
    """Runs the workflow timers (self-rectification windows, recheck timeouts, grade ageing)."""

    def __init__(self, settings: CentralSettings, session_factory) -> None:
        super().__init__(name="doorline-ticker", daemon=True)
        self.settings = settings
        self.session_factory = session_factory
        self.stopped = threading.Event()

    def run(self) -> None:
        from central import workflow

        while not self.stopped.wait(self.settings.tick_interval_s):
            try:
                with self.session_factory() as session:
                    workflow.tick(session, now_utc(), self.settings)
                    session.commit()
            except Exception:  # a failed tick is retried next interval; the service keeps running
                log.exception("workflow tick failed")

    def stop(self) -> None:
        self.stopped.set()


def cmd_serve(settings: CentralSettings, args: argparse.Namespace) -> int:
    import uvicorn

    from central import metrics
    from central.app import create_app
    from central.db import make_engine, make_session_factory
    from central.evidence_store import make_store
    from central.ingest import IngestService
    from central.migrate import init_db

    check_secret_key(settings)  # before anything opens: one line telling how to set a key
    engine = make_engine(settings.database_url)
    init_db(engine)
    factory = make_session_factory(engine)
    _ensure_admin(factory, args)
    ingest = monitor = None
    if settings.ingest_enabled:
        ingest = IngestService(settings, factory, make_store(settings))
        ingest.start()
        # the broker's own queue and drop counts in /metrics: the backlog central cannot see over MQTT
        monitor = metrics.watch_broker(settings.mqtt, f"{ingest.client_id}-sys")
    ticker = Ticker(settings, factory)
    ticker.start()
    notice_sender = None
    if settings.notices.sender_enabled:
        from central.notices.sender import NoticeSender

        notice_sender = NoticeSender(settings, factory)
        notice_sender.start()
    app = create_app(settings, factory)
    # open console streams (Server-Sent Events, up to 50 s each) must not hold a shutdown
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    log.info("doorline-central on http://%s:%d (database %s)", settings.host, settings.port,
             engine.url.render_as_string(hide_password=True))
    try:
        server.run()
    finally:
        ticker.stop()
        if notice_sender is not None:
            notice_sender.stop()
        if monitor is not None:
            monitor.stop()
        if ingest is not None:
            ingest.stop()
        engine.dispose()
    return 0


ADMIN_PASSWORD_ENV = "DOORLINE_ADMIN_PASSWORD"
USER_PASSWORD_ENV = "DOORLINE_USER_PASSWORD"


def _ensure_admin(factory, args: argparse.Namespace) -> None:
    """Create or reset the admin when a password is given by file or environment (never on the command
    line); a server does not stop to prompt."""
    from central.users_cli import ensure_user

    if args.admin_password_file is None and not os.environ.get(ADMIN_PASSWORD_ENV):
        return
    password = read_password(f"admin {args.admin_user}", file=args.admin_password_file,
                             env_var=ADMIN_PASSWORD_ENV, prompt=False)
    with factory() as session:
        ensure_user(session, args.admin_user, password, "admin")
        session.commit()


def cmd_migrate(settings: CentralSettings, args: argparse.Namespace) -> int:
    from central.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"database at revision {args.revision}")
    return 0


def cmd_create_user(settings: CentralSettings, args: argparse.Namespace) -> int:
    from central.db import make_engine, make_session_factory
    from central.migrate import init_db
    from central.users_cli import ensure_user

    password = read_password(f"user {args.name}", file=args.password_file, env_var=USER_PASSWORD_ENV)
    engine = make_engine(settings.database_url)
    init_db(engine)
    with make_session_factory(engine)() as session:
        ensure_user(session, args.name, password, args.role, area=args.area, road=args.road)
        session.commit()
    print(f"user {args.name} ({args.role}) ready")
    return 0


def cmd_broker_config(settings: CentralSettings, args: argparse.Namespace) -> int:
    from central.broker_config import main as broker_main

    return broker_main(args.rest)


def cmd_audit_verify(settings: CentralSettings, args: argparse.Namespace) -> int:
    from central.db import make_engine, make_session_factory
    from central.domain.audit import verify_chain

    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        problems = verify_chain(session)
    for p in problems:
        print(p)
    print("audit chain intact" if not problems else f"{len(problems)} problem(s) in the audit chain")
    return 0 if not problems else 1


def cmd_import_shops(settings: CentralSettings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from central.db import make_engine, make_session_factory
    from central.domain import shop_import
    from central.migrate import init_db

    engine = make_engine(settings.database_url)
    init_db(engine)
    with make_session_factory(engine)() as session:
        try:
            total = shop_import.rows_in(args.file)
            with tqdm(total=total, unit="shop", desc=f"import {Path(args.file).name}", mininterval=0.5) as bar:
                report = shop_import.import_file(
                    session,
                    args.file,
                    encoding=args.encoding,
                    on_conflict=args.on_conflict,
                    on_row=lambda: bar.update(1),
                )
        except (OSError, ValueError) as exc:  # unreadable file, encoding or header: nothing was written
            print(f"doorline-central import-shops: {exc}", file=sys.stderr)
            return 2
        session.commit()
        from central.domain import grades

        grades.recompute(session, now=now_utc(), settings=settings)
        session.commit()
    print(report.summary() if hasattr(report, "summary") else report)
    return 0 if not getattr(report, "errors", None) else 1


COMMANDS: dict[str, Callable[[CentralSettings, argparse.Namespace], int]] = {
    "serve": cmd_serve,
    "migrate": cmd_migrate,
    "create-user": cmd_create_user,
    "broker-config": cmd_broker_config,
    "audit-verify": cmd_audit_verify,
    "import-shops": cmd_import_shops,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="doorline-central", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="HTTP API + MQTT ingest + workflow timers", allow_abbrev=False)
    s.add_argument("--admin-user", default="admin",
                   help=f"create or reset this admin at start-up when {ADMIN_PASSWORD_ENV} or "
                        "--admin-password-file gives a password")
    s.add_argument("--admin-password-file", type=Path, default=None, help="file whose first line is the password")
    m = sub.add_parser("migrate", help="upgrade the database schema")
    m.add_argument("--revision", default="head")
    u = sub.add_parser("create-user", help="create or update an operator account", allow_abbrev=False)
    u.add_argument("name")
    u.add_argument("--password-file", type=Path, default=None,
                   help=f"file whose first line is the password (else {USER_PASSWORD_ENV}, else typed at a "
                        "terminal; never on the command line)")
    u.add_argument("--role", choices=["viewer", "officer", "reviewer", "admin"], default="viewer")
    u.add_argument("--area", default=None, help="scope: the district (shop area) this account works in")
    u.add_argument("--road", default=None, help="scope: the street (shop road) this account works in")
    b = sub.add_parser("broker-config", help="write a Mosquitto password file and ACL for the edges")
    b.add_argument("rest", nargs=argparse.REMAINDER)
    sub.add_parser("audit-verify", help="verify the hash chain of the case audit trail")
    i = sub.add_parser("import-shops", help="import shops from CSV, Excel (.xlsx) or GeoJSON")
    i.add_argument("file")
    i.add_argument("--encoding", default=None, help="text encoding of the file (default: detected, UTF-8 or GB18030)")
    i.add_argument("--on-conflict", choices=["update", "replace", "skip", "error"], default="update",
                   help="an existing shop: update the columns the file has (default), replace the whole record, "
                        "skip it, or report it")
    return p


def main(argv: list[str] | None = None) -> int:
    from wire import logs

    try:  # text lines, or JSON lines with DOORLINE_LOG_FORMAT=json
        logs.configure(logging.INFO)
    except ValueError as exc:
        print(f"doorline-central: {exc}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    try:
        settings = CentralSettings()
    except Exception as exc:  # pydantic's message names the bad field
        print(f"doorline-central: bad settings: {exc}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command](settings, args)
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it handled; the shutdown already ran
        return 0
    except (BrokerConfigError, InsecureSecretKey, PasswordUnavailable) as exc:  # a bad accounts file, weak key, …
        print(f"doorline-central: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
