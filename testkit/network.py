"""A guard that proves code makes no network attempt: every connect and name lookup is recorded and refused."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def no_network() -> Iterator[list[str]]:
    """Within the block, outbound connections and DNS lookups fail with OSError; yields the list of what was
    attempted (host or address), so a test can assert it stayed empty. Unix sockets and loopback still work."""
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo, real_create = socket.getaddrinfo, socket.create_connection

    def _local(address: Any) -> bool:
        return isinstance(address, str | bytes) or (
            isinstance(address, tuple) and str(address[0]) in ("127.0.0.1", "::1", "localhost"))

    def connect(self: socket.socket, address: Any) -> Any:
        if _local(address):
            return real_connect(self, address)
        attempts.append(f"connect {address}")
        raise OSError("network refused by testkit.network.no_network")

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if _local(address):
            return real_connect_ex(self, address)
        attempts.append(f"connect {address}")
        return 111  # ECONNREFUSED

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in (None, "localhost", "127.0.0.1", "::1"):
            return real_getaddrinfo(host, *args, **kwargs)
        attempts.append(f"lookup {host}")
        raise socket.gaierror(socket.EAI_NONAME, "network refused by testkit.network.no_network")

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        if _local(address):
            return real_create(address, *args, **kwargs)
        attempts.append(f"connect {address}")
        raise OSError("network refused by testkit.network.no_network")

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo, socket.create_connection = getaddrinfo, create_connection  # type: ignore[assignment]
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo, socket.create_connection = real_getaddrinfo, real_create  # type: ignore[assignment]
