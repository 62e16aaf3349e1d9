"""The notice sender: claims due rows of the notice outbox, hands each to its channel on a small thread pool,
and records the outcome (sent / retry with backoff / dead letter). Any number of central instances may run
one; the claim's lease keeps them off each other's rows."""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker

from central.notices import outbox
from central.notices.channels import Channel, Outcome, Route, make_channels, permanent, retryable
from central.orm.notices import NoticeDelivery
from central.settings import CentralSettings

log = logging.getLogger("doorline.central.notices")


def default_owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class NoticeSender(threading.Thread):
    def __init__(self, settings: CentralSettings, session_factory: sessionmaker[Session], *,
                 owner: str | None = None, channels: dict[str, Channel] | None = None) -> None:
        super().__init__(name="doorline-notices", daemon=True)
        self.settings = settings
        self.session_factory = session_factory
        self.owner = owner or default_owner()
        self.channels = channels if channels is not None else make_channels(settings, self.owner)
        self.stopped = threading.Event()
        self._pool = ThreadPoolExecutor(settings.notices.workers, thread_name_prefix="doorline-notice")
        self.sent = self.failed = self.dead = 0

    def attempt(self, row: NoticeDelivery, route: Route | None) -> Outcome:
        """One delivery attempt through the row's channel; touches no database."""
        if route is None:
            return permanent(f"{row.route} is gone or disabled")
        channel = self.channels.get(route.kind)
        if channel is None:
            return permanent(f"no channel {route.kind!r}")
        try:
            return channel.send(outbox.envelope(row), route)
        except Exception as exc:  # a channel bug must not kill the sender: retry, then dead letter
            log.exception("channel %s failed on %s", route.kind, row.idempotency_key)
            return retryable(f"{type(exc).__name__}: {exc}")

    def drain_once(self) -> int:
        """Claim one batch, send it on the worker threads, record the outcomes (the accepted ones in one
        UPDATE: one short write per batch, not per notice, which matters on SQLite's single writer).
        Returns how many rows were claimed."""
        with self.session_factory() as session:
            rows = outbox.claim(session, self.owner, self.settings, limit=self.settings.notices.batch)
            if not rows:
                return 0
            routes = outbox.resolve_routes(session, rows)
            session.expunge_all()
        outcomes = list(self._pool.map(lambda r: self.attempt(r, routes[r.id]), rows))
        with self.session_factory() as session:
            accepted = [r.id for r, o in zip(rows, outcomes, strict=True) if o.accepted]
            self.sent += outbox.mark_sent_many(session, accepted, self.owner)
            for row, outcome in zip(rows, outcomes, strict=True):
                if outcome.accepted:
                    continue
                status = outbox.mark_failed(session, row, self.owner, outcome.detail,
                                            permanent=outcome.status == "permanent", settings=self.settings)
                if status == "dead":
                    self.dead += 1
                else:
                    self.failed += 1
        return len(rows)

    def run(self) -> None:
        log.info("notice sender %s running (%d workers)", self.owner, self.settings.notices.workers)
        while not self.stopped.is_set():
            try:
                claimed = self.drain_once()
            except Exception:  # the database may be away for a moment; try again next poll
                log.exception("notice sender pass failed")
                claimed = 0
            if not claimed:
                self.stopped.wait(self.settings.notices.poll_s)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped.set()
        if self.is_alive():
            self.join(timeout)
        self._pool.shutdown(wait=True)
        for ch in self.channels.values():
            close = getattr(ch, "close", None)
            if close is not None:
                close()
