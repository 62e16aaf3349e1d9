"""The recheck over the real wire, on SQLite and PostgreSQL: central ingests two events from an edge
(real Mosquitto, real `IngestService`, real edge `Publisher`), an operator confirms both cases, the
self-rectification window (configured short here) expires, central sends a `recheck` command to the camera
that saw each case, and the edge answers with a fresh evidence frame: still present → escalated with an
officer task, clear → rectified and self-rectified. The new frame is stored and joins the case evidence."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

import central.orm  # noqa: F401  (registers every table)
from central import workflow
from central.db import make_engine, make_session_factory
from central.domain import cases, registry
from central.domain.audit import verify_chain
from central.domain.clock import as_utc
from central.domain.shop_schema import ShopIn
from central.evidence_store import LocalEvidenceStore
from central.ingest import IngestService
from central.orm.base import Base
from central.orm.cases import Case, OfficerTask
from central.orm.events import DeadLetter, Evidence, Outbox
from central.settings import CentralSettings
from edge.publisher import Publisher
from wire.ids import new_id
from wire.mqtt import MqttSettings
from wire.schema import CommandMessage, EventMessage, EvidenceMessage, RecheckResult, recheck_evidence_owner

SITE, CAM = "site-a", "cam-1"
WINDOW_S = 1.5


def _jpeg(seed: int) -> tuple[bytes, int, int]:
    img = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes(), 64, 48


def _evidence(event_id: str, seed: int) -> EvidenceMessage:
    data, w, h = _jpeg(seed)
    return EvidenceMessage.from_jpeg(
        data, width=w, height=h, site_id=SITE, camera_id=CAM, evidence_id=new_id(), event_id=event_id
    )


def _wait(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def wire_env(tmp_path: Path, db_url: str, broker, topic_prefix: str):
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    mqtt = MqttSettings(host=broker.host, port=broker.port, prefix=topic_prefix)
    settings = CentralSettings(
        database_url=db_url, evidence_dir=tmp_path / "evidence", mqtt=mqtt, self_rectify_window_s=WINDOW_S
    )
    store = LocalEvidenceStore(tmp_path / "evidence", fsync=False)
    with factory() as s:
        for sid in ("A", "B"):
            zone = {"camera_id": CAM, "zone_id": f"z{sid}", "polygon": [[0, 0], [10, 0], [10, 10]]}
            registry.create_shop(s, ShopIn(id=sid, name=f"Shop {sid}", owner=f"Owner {sid}", zones=[zone]))
        s.commit()
    central = IngestService(settings, factory, store, client_id=f"central-{new_id()[-8:]}", outbox_interval_s=0.1)
    edge = Publisher(
        mqtt, edge_id="edge-1", site_id=SITE, camera_ids=[CAM], spool_path=tmp_path / "spool.db", receipts=False
    )
    central.start()
    edge.start()
    try:
        assert central.wait_ready(30), central.stats()
        _wait(lambda: edge.connected, 30, "edge connected")
        time.sleep(0.3)  # the edge's SUBSCRIBE to its cmd topic reaches the broker
        yield settings, factory, store, central, edge
    finally:
        edge.stop()
        central.stop()
        engine.dispose()


def recheck_owner(cmd: CommandMessage) -> str:
    """The episode id the edge pipeline files recheck evidence under (the wire schema says which)."""
    return recheck_evidence_owner(cmd.command_id)


def test_recheck_command_goes_to_the_camera_and_its_answer_decides(wire_env) -> None:
    _roundtrip(wire_env, recheck_owner)


def _roundtrip(wire_env, owner: Callable[[CommandMessage], str]) -> None:
    settings, factory, store, central, edge = wire_env
    answers = {"zA": "present", "zB": "clear"}  # shop A did not fix it, shop B did
    commands: list[CommandMessage] = []
    answered: dict[str, str] = {}  # case id → sha256 of the fresh frame sent back
    lock = threading.Lock()

    def on_command(cmd: CommandMessage) -> None:  # what the edge pipeline does on a recheck command
        with lock:
            commands.append(cmd)
        frame = _evidence(owner(cmd), seed=len(commands) + 10)
        edge.publish(frame)
        edge.publish(
            RecheckResult(
                site_id=cmd.site_id,
                camera_id=cmd.camera_id,
                command_id=cmd.command_id,
                case_id=cmd.case_id,
                zone_id=cmd.zone_id,
                result=answers[cmd.zone_id],
                ts=time.time(),
                score=0.9 if answers[cmd.zone_id] == "present" else 0.0,
                evidence=[frame.ref()],
            )
        )
        with lock:
            answered[cmd.case_id] = frame.sha256

    edge.on_command(on_command)

    for i, zone in enumerate(("zA", "zB")):
        ev = _evidence("pending", seed=i)
        msg = EventMessage(
            site_id=SITE, camera_id=CAM, event_id=new_id(), seq=0, zone_id=zone, violation="piled_goods",
            phase="start", ts=time.time(), score=0.8, evidence=[ev.ref()],
        )
        edge.publish(ev.model_copy(update={"event_id": msg.event_id}))
        edge.publish(msg)

    def open_cases() -> dict[str, Case]:
        with factory() as s:
            return {c.shop_id: c for c in s.scalars(select(Case))}

    _wait(lambda: len(open_cases()) == 2, 60, "two cases opened from the edge's events")
    by_shop = open_cases()
    assert {c.state for c in by_shop.values()} == {"detected"}
    assert {c.zone_id for c in by_shop.values()} == {"zA", "zB"}

    confirmed_at = datetime.now(UTC)
    with factory() as s:
        for c in by_shop.values():
            cases.confirm(s, c.id, actor="op", settings=settings, now=confirmed_at)
        s.commit()
        workflow.tick(s, confirmed_at + timedelta(seconds=WINDOW_S / 2), settings)  # inside the window
        s.commit()
        assert s.scalar(select(Outbox.id)) is None
    time.sleep(WINDOW_S + 0.2)
    with factory() as s:
        workflow.tick(s, datetime.now(UTC), settings)
        s.commit()

    def settled() -> bool:
        with factory() as s:
            refused = s.scalar(select(DeadLetter.reason))
            assert refused is None, f"central refused a message: {refused}"
            return {c.state for c in s.scalars(select(Case))} == {"escalated", "rectified"}

    _wait(settled, 60, "both cases decided by the edge's recheck answers")
    with lock:
        got = {c.case_id: c for c in commands}
    assert set(got) == {c.id for c in by_shop.values()}, "one recheck command per case"
    for c in by_shop.values():
        cmd = got[c.id]
        assert (cmd.cmd, cmd.site_id, cmd.camera_id, cmd.zone_id) == ("recheck", SITE, CAM, c.zone_id)

    with factory() as s:
        a = s.scalar(select(Case).where(Case.shop_id == "A"))
        b = s.scalar(select(Case).where(Case.shop_id == "B"))
        assert a.state == "escalated" and a.is_open and a.recheck_result == "present" and not a.self_rectified
        assert [t.kind for t in s.scalars(select(OfficerTask).where(OfficerTask.case_id == a.id))] == ["escalation"]
        assert b.state == "rectified" and not b.is_open and b.recheck_result == "clear" and b.self_rectified
        assert a.recheck_command_id == got[a.id].command_id
        for case in (a, b):
            fresh = answered[case.id]
            assert fresh in case.evidence, "the recheck frame joins the case evidence"
            _wait(lambda sha=fresh: store.exists(sha), 30, "recheck frame stored")
            assert hashlib.sha256(store.get(fresh)).hexdigest() == fresh
            assert s.scalar(select(Evidence.stored).where(Evidence.sha256 == fresh)) is True
        assert s.scalar(select(Outbox.id).where(Outbox.sent_at.is_(None))) is None
        assert verify_chain(s) == []
        # the command left only once the configured window was over
        assert as_utc(a.recheck_sent_at) - as_utc(a.notified_at) >= timedelta(seconds=WINDOW_S)
