"""Free local ports, and waiting until something listens on one."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path


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
