"""The test suite's free ports stay out of the kernel's ephemeral range, where a client reconnecting to a
stopped broker could connect to itself and hold the broker's port."""

from __future__ import annotations

import socket

from testkit.ports import ephemeral_ports, free_port


def test_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    lo, hi = ephemeral_ports()
    assert 0 < lo <= hi
    ports = {free_port() for _ in range(20)}
    assert len(ports) > 1  # random, so parallel fixtures rarely pick the same one
    for port in ports:
        assert 10000 <= port < lo
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
