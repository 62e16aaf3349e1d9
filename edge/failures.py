"""Logging a failure that repeats: a full or unwritable disk fails every write, and the log should say so
without filling what is left of the disk."""

from __future__ import annotations

import logging


def log_some(logger: logging.Logger, count: int, msg: str, *args: object) -> None:
    """Log failure number `count` (counted by the caller) when it is the first or a multiple of 100."""
    if count == 1 or count % 100 == 0:
        logger.error(msg, *args)
