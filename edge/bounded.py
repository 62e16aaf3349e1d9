"""A bounded queue that never blocks its producer: when it is full, the oldest item makes room."""

from __future__ import annotations

import queue
from typing import TypeVar

T = TypeVar("T")


def put_dropping_oldest(q: queue.Queue[T], item: T) -> T | None:
    """Put `item`; return the oldest item dropped to make room, or None when there was room."""
    dropped: T | None = None
    while True:
        try:
            q.put_nowait(item)
            return dropped
        except queue.Full:
            try:
                dropped = q.get_nowait()
            except queue.Empty:
                continue
