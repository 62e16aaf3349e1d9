"""Helpers shared by the transport tests, their subprocess runners and the ingest benchmark."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from central.db import make_engine, make_session_factory
from central.evidence_store import LocalEvidenceStore
from wire.ids import new_id
from wire.schema import EventMessage, EvidenceMessage

SITE = "site-a"


@lru_cache(maxsize=8)
def jpeg_bytes(kb: int = 100, seed: int = 0) -> tuple[bytes, int, int]:
    """A real JPEG of about `kb` kilobytes (noise compresses badly, so the size is predictable)."""
    side = max(16, int(300 * math.sqrt(kb / 83.0)))
    img = np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes(), side, side


def make_evidence(
    event_id: str, *, camera: str = "cam-1", site: str = SITE, kb: int = 20, seed: int = 0
) -> EvidenceMessage:
    data, w, h = jpeg_bytes(kb, seed)
    return EvidenceMessage.from_jpeg(
        data, width=w, height=h, site_id=site, camera_id=camera, evidence_id=new_id(), event_id=event_id
    )


def make_event(
    i: int = 0,
    *,
    camera: str = "cam-1",
    site: str = SITE,
    evidence: list[EvidenceMessage] | None = None,
    event_id: str | None = None,
    phase: str = "start",
    seq: int = 0,
) -> EventMessage:
    return EventMessage(
        site_id=site,
        camera_id=camera,
        event_id=event_id or new_id(),
        seq=seq,
        zone_id=f"zone-{i % 7}",
        violation="piled_goods",
        phase=phase,
        ts=time.time(),
        score=0.9,
        boxes=[[1.0, 2.0, 30.0, 40.0]],
        evidence=[e.ref() for e in (evidence or [])],
    )


def central_db(url: str) -> tuple[Engine, sessionmaker[Session]]:
    import central.orm  # noqa: F401  (registers every table)
    from central.orm.base import Base

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    return engine, make_session_factory(engine)


def evidence_store(root: Path) -> LocalEvidenceStore:
    return LocalEvidenceStore(root, fsync=False)


def count(factory: sessionmaker[Session], model, *where) -> int:
    with factory() as s:
        stmt = select(func.count()).select_from(model)
        for w in where:
            stmt = stmt.where(w)
        return int(s.scalar(stmt) or 0)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    if not predicate():
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
