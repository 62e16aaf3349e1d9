"""Slows password guessing: after `max_failures` wrong logins for one (name, client address) inside
`window_s`, further attempts get 429 until the window has passed. In memory, per process. Behind a reverse
proxy listed in `settings.trusted_proxies` the client address is the one the proxy forwarded
(`central.api.security.client_address`), so one guesser cannot lock out everyone behind the proxy and cannot
dodge the limit by writing its own X-Forwarded-For."""

from __future__ import annotations

import threading
import time
from collections import deque

from fastapi import HTTPException, Request, status

from central.api.security import client_address


class LoginThrottle:
    def __init__(self, max_failures: int = 10, window_s: float = 300.0, max_keys: int = 100_000):
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(request: Request, name: str) -> str:
        return f"{name.strip().lower()}|{client_of(request)}"

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.get(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def check(self, key: str, now: float | None = None) -> None:
        """Raise 429 (with Retry-After) if this key is locked out."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._recent(key, now)
            if len(q) >= self.max_failures:
                wait = int(self.window_s - (now - q[0])) + 1
                raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                                    f"too many failed logins; try again in {wait} s",
                                    headers={"Retry-After": str(wait)})

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) >= self.max_keys:  # bounded memory under a spray of names
                self._failures.clear()
            q = self._recent(key, now)
            q.append(now)
            self._failures[key] = q

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


def client_of(request: Request) -> str:
    """The client's address, through the app's trusted proxies (none configured: the peer's address)."""
    settings = getattr(getattr(getattr(request, "app", None), "state", None), "settings", None)
    return client_address(request, tuple(getattr(settings, "trusted_proxies", None) or ()))


def get_throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle
