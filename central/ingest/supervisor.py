"""The ingest's worker threads by role, restarted when they die: after a delay that doubles while a role keeps
dying (at most 60 s); while one is down, `problems()` names it (and `/healthz` answers 503)."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("doorline.central.ingest")

_SUPERVISE_S = 0.25  # how often the supervisor looks at the worker threads
_STABLE_S = 60.0  # a worker alive this long before it dies starts its restart back-off afresh


class Supervisor:
    def __init__(
        self,
        name: str,
        targets: dict[str, Callable[[], None]],
        stopping: threading.Event,
        counts: collections.Counter[str],
        restart_delay_s: float,
        on_death: Callable[[str, str], None],
    ):
        """`targets`: role → the loop its thread runs, in stop order. `on_death(role, why)` is called once per
        death, from the supervisor's thread."""
        self.name = name
        self.targets = targets
        self.stopping = stopping
        self.counts = counts
        self.restart_delay_s = restart_delay_s
        self.on_death = on_death
        self.workers: dict[str, tuple[threading.Thread, float]] = {}  # role → (thread, started at)
        self._deaths: dict[str, str] = {}  # role → why its thread ended (set by the thread itself)
        self._down: dict[str, tuple[float, str]] = {}  # role → (restart due at, why) while it is down
        self._streak: collections.Counter[str] = collections.Counter()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._deaths.clear()
        self._down.clear()
        for role in self.targets:
            self._spawn(role)
        self._thread = threading.Thread(target=self._run, name=f"ingest-supervisor-{self.name}", daemon=True)
        self._thread.start()

    def join(self, deadline: float) -> None:
        """Wait (until the monotonic `deadline`) for the supervisor, then for each worker in stop order."""
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))
            self._thread = None
        for role in self.targets:
            entry = self.workers.get(role)
            if entry is not None:
                entry[0].join(max(0.1, deadline - time.monotonic()))
        self.workers.clear()

    def alive(self, role: str) -> bool:
        entry = self.workers.get(role)
        return entry is not None and entry[0].is_alive()

    def problems(self) -> list[str]:
        problems = []
        for role in self.targets:
            entry = self.workers.get(role)
            if role in self._down:
                problems.append(f"ingest {self.name}: thread {role} died ({self._down[role][1]}); restarting")
            elif entry is not None and not entry[0].is_alive():  # the supervisor has not seen it yet
                problems.append(f"ingest {self.name}: thread {role} died ({self._deaths.get(role, 'ended')})")
        if self._thread is None or not self._thread.is_alive():
            problems.append(f"ingest {self.name}: the supervisor thread is not running")
        return problems

    def _spawn(self, role: str) -> None:
        target = self.targets[role]

        def run() -> None:
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 -- recorded here; the supervisor restarts the thread
                self._deaths[role] = f"{type(exc).__name__}: {exc}"[:300]
                log.critical("ingest %s: thread %s died", self.name, role, exc_info=True)
                return
            if not self.stopping.is_set():
                self._deaths[role] = "returned while the service runs"

        self._deaths.pop(role, None)
        t = threading.Thread(target=run, name=f"ingest-{role}-{self.name}", daemon=True)
        self.workers[role] = (t, time.monotonic())
        t.start()

    def _run(self) -> None:
        while not self.stopping.wait(_SUPERVISE_S):
            try:
                self._once()
            except Exception:  # noqa: BLE001 -- the supervisor itself must not die of a bad round
                log.exception("ingest %s: supervisor round failed", self.name)

    def _once(self) -> None:
        now = time.monotonic()
        for role in self.targets:
            thread, started = self.workers[role]
            if thread.is_alive() or self.stopping.is_set():
                continue
            if role not in self._down:
                why = self._deaths.get(role, "ended")
                if now - started > _STABLE_S:
                    self._streak[role] = 0
                self._streak[role] += 1
                delay = min(60.0, self.restart_delay_s * 2 ** (self._streak[role] - 1))
                self._down[role] = (now + delay, why)
                self.counts["thread_death"] += 1
                self.on_death(role, why)
                log.error("ingest %s: thread %s died (%s); restarting it in %.1f s", self.name, role, why, delay)
            elif now >= self._down[role][0]:
                del self._down[role]
                self.counts["thread_restart"] += 1
                log.warning("ingest %s: restarting thread %s", self.name, role)
                self._spawn(role)
