"""Central never holds an episode that nothing will end, and only an end that saw the zone clear counts as the
goods taken away. Driven through the real ingest writer (messages as they arrive from MQTT) and workflow,
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from central import workflow
from central.db import make_engine, make_session_factory
from central.domain.cases import case_for_episode, confirm
from central.evidence_store import LocalEvidenceStore
from central.ingest import Inbound, IngestService
from central.orm.audit import AuditRecord
from central.orm.base import Base
from central.orm.events import EdgeStatus, Event
from central.settings import CentralSettings
from wire import topics
from wire.mqtt import MqttSettings
from wire.schema import EventMessage, StatusMessage, encode

from .conftest import T0, World


@pytest.fixture
def central(db_url: str, tmp_path):
    """(ingest service driven offline, session factory, settings)."""
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    settings = CentralSettings(database_url=db_url, mqtt=MqttSettings(prefix="p"), edge_offline_grace_s=600,
                               grade_rules="counts")
    svc = IngestService(settings, factory, LocalEvidenceStore(tmp_path / "ev", fsync=False))
    svc._workflow = workflow  # noqa: SLF001
    with factory() as s:
        World(s).shop("A", zone="za")
        s.commit()
    yield svc, factory, settings
    engine.dispose()


def deliver(svc: IngestService, *msgs) -> None:
    """As the network thread would hand them over, one batch."""
    kinds = {"event": "event", "status": "status"}
    items = [Inbound(topics.topic(m.site_id, m.camera_id, kinds[m.type], "p"), encode(m), i, 1, 0, 0.0)
             for i, m in enumerate(msgs, start=1)]
    svc._commit_batch(items)  # noqa: SLF001


def phase(msg: EventMessage, kind: str, seq: int, minutes: float, reason: str | None = None) -> EventMessage:
    return msg.model_copy(update={"message_id": f"{msg.event_id}-{seq}", "phase": kind, "seq": seq,
                                  "ts": msg.ts + minutes * 60, "end_reason": reason})


def test_an_end_because_the_edge_stopped_closes_the_episode_but_is_not_goods_removed(central) -> None:
    svc, factory, settings = central
    with factory() as s:
        start = World(s).event(zone="za", at=T0)
        deliver(svc, start)
        confirm(s, case_for_episode(s, start.event_id).id, actor="op", settings=settings, now=T0 + timedelta(minutes=1))
        s.commit()
    deliver(svc, phase(start, "end", 3, 5, "stopped"))
    with factory() as s:
        ev = s.get(Event, start.event_id)
        case = case_for_episode(s, start.event_id)
        assert (ev.phase, ev.end_reason) == ("end", "stopped")
        assert case.end_seen_at is None and case.is_open and case.state == "notified"
        actions = list(s.scalars(select(AuditRecord.action).where(AuditRecord.case_id == case.id)))
        assert actions[-1] == "case.episode_closed"

    # the zone seen clear is the goods taken away: recorded on the case (an end without a reason too: old edges)
    with factory() as s:
        start2 = World(s).event(zone="za", at=T0 + timedelta(minutes=10))
    deliver(svc, start2, phase(start2, "end", 1, 5))
    with factory() as s:
        assert s.get(Event, start2.event_id).end_reason == "cleared"
        assert case_for_episode(s, start2.event_id).end_seen_at is not None


def test_a_new_start_in_the_zone_ends_the_episode_a_crashed_edge_left_open(central) -> None:
    svc, factory, _ = central
    with factory() as s:
        w = World(s)
        lost = w.event(zone="za", at=T0)  # the edge died (kill -9, power cut) with this one open
        other_zone = w.event(zone="zb", at=T0)
        other_violation = w.event(zone="za", violation="cross_door_trading", at=T0)
    deliver(svc, lost, other_zone, other_violation)
    with factory() as s:
        again = World(s).event(zone="za", at=T0 + timedelta(minutes=5))  # raised again after the restart
    deliver(svc, again)
    with factory() as s:
        assert (s.get(Event, lost.event_id).phase, s.get(Event, lost.event_id).end_reason) == ("end", "superseded")
        assert s.get(Event, again.event_id).phase == "start"
        assert s.get(Event, other_zone.event_id).phase == "start"
        assert s.get(Event, other_violation.event_id).phase == "start"
        case = case_for_episode(s, lost.event_id)
        assert case.end_seen_at is None and case.is_open
    deliver(svc, phase(lost, "update", 1, 1))  # a late phase of the abandoned episode does not reopen it
    with factory() as s:
        assert s.get(Event, lost.event_id).phase == "end"
        late = World(s).event(zone="za", at=T0 + timedelta(minutes=2))  # from a spool's backlog, after `again`
    deliver(svc, late)
    with factory() as s:
        assert (s.get(Event, late.event_id).phase, s.get(Event, late.event_id).end_reason) == ("end", "superseded")
        closed = s.scalars(select(AuditRecord.details).where(AuditRecord.action == "case.episode_closed")).all()
        assert sum(late.event_id in d and "superseded" in d for d in closed) == 1
        assert s.get(Event, again.event_id).phase == "start"
    deliver(svc, phase(late, "end", 1, 1, "stopped"))  # its own end comes after all: the edge's reason stands
    with factory() as s:
        assert s.get(Event, late.event_id).end_reason == "stopped"


def test_episodes_of_a_camera_offline_past_the_grace_period_end(central) -> None:
    svc, factory, settings = central
    with factory() as s:
        w = World(s)
        open_ = w.event(zone="za", at=T0)
        elsewhere = w.event(zone="zb", camera="cam-2", at=T0)
    deliver(svc, open_, elsewhere,
            StatusMessage(site_id="site-1", camera_id="cam-1", edge_id="edge-1", state="offline"),
            StatusMessage(site_id="site-1", camera_id="cam-2", edge_id="edge-2", state="online"))
    with factory() as s:
        went = s.get(EdgeStatus, ("site-1", "cam-1")).updated_at
        workflow.tick(s, went + timedelta(seconds=300), settings)  # within the grace period
        s.commit()
        assert s.get(Event, open_.event_id).phase == "start"
        workflow.tick(s, went + timedelta(seconds=601), settings)
        s.commit()
        ev = s.get(Event, open_.event_id)
        assert (ev.phase, ev.end_reason) == ("end", "edge_offline")
        assert s.get(Event, elsewhere.event_id).phase == "start"  # its camera is online
        assert case_for_episode(s, open_.event_id).end_seen_at is None
    # the edge was alive after all and goes on with the episode: it is open again
    deliver(svc, phase(open_, "update", 1, 20))
    with factory() as s:
        assert (s.get(Event, open_.event_id).phase, s.get(Event, open_.event_id).end_reason) == ("update", None)
