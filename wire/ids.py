"""Globally unique, time-sortable ids (UUIDv7, RFC 9562) without a dependency."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7(ts_ms: int | None = None) -> uuid.UUID:
    """A UUIDv7: 48-bit unix milliseconds, then a 12-bit counter so ids made in one millisecond still sort."""
    global _last_ms, _counter
    with _lock:
        ms = int(time.time() * 1000) if ts_ms is None else int(ts_ms)
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:
                ms += 1
                _counter = 0
        else:
            _counter = 0
        _last_ms = ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand
    return uuid.UUID(int=value)


def new_id() -> str:
    return str(uuid7())


def id_timestamp_ms(value: str) -> int:
    return uuid.UUID(value).int >> 80
