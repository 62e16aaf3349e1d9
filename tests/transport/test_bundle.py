"""An event and its pictures as one message (`Bundle`): one spool row, one MQTT message, one transaction."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from central.ingest import Inbound
from central.orm.events import DeadLetter, Event, EventPhaseRecord, Evidence
from edge.spool import Spool
from testkit.transport import (
    SITE,
    FlakyStore,
    count,
    inbound,
    make_event,
    make_evidence,
    offline_service,
    raw_client,
    send,
    wait_for,
    wait_stored,
)
from wire import topics
from wire.schema import EventMessage, decode, encode, encode_bundle


def _bundle_inbound(head, pictures, mid: int) -> Inbound:
    t = topics.topic(head.site_id, head.camera_id, "event", "p")
    return Inbound(t, encode_bundle(head, pictures), mid, 1, 0, 0.0)


def test_event_and_pictures_travel_as_one_message_and_are_stored_together(
    broker, topic_prefix, make_central, make_edge
) -> None:
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix)
    pictures = [make_evidence("e-b", kb=40, seed=k) for k in (1, 2, 3)]
    edge.publish_many([*pictures, make_event(1, event_id="e-b", evidence=pictures)])
    assert edge.wait_drained(10), edge.stats()
    f = central.session_factory
    wait_stored(f, events=1, pictures=3)
    st = central.stats()
    assert st["stored"] == 1 and st["duplicates"] == 0, st  # one message (apart, it would be 4)
    with f() as s:
        rows = s.scalars(select(Evidence)).all()
        assert {r.evidence_id for r in rows} == {p.evidence_id for p in pictures}
        assert all(r.stored and r.message_id and r.event_id == "e-b" for r in rows)
        for r in rows:
            assert central.store.get(r.sha256) == next(p.data() for p in pictures if p.sha256 == r.sha256)
        phase = s.scalars(select(EventPhaseRecord)).one()
        assert isinstance(decode(phase.payload), EventMessage)  # the head's JSON, not the binary bundle
    assert count(f, DeadLetter) == 0


def test_a_picture_that_disagrees_refuses_the_whole_bundle(tmp_path) -> None:
    """Every check runs before any row is added: a conflict in the second picture leaves no event and no
    first picture behind, only a dead letter."""
    svc = offline_service(tmp_path)
    first, second = make_evidence("e-c", seed=1), make_evidence("e-c", seed=2)
    # an earlier event already claimed the second picture's id for another event
    other = make_event(2, event_id="e-other", evidence=[second])
    svc._commit_batch([inbound(other, 1)])  # noqa: SLF001
    head = make_event(1, event_id="e-c", evidence=[first, second])
    svc._commit_batch([_bundle_inbound(head, [first, second], 2)])  # noqa: SLF001
    f = svc.session_factory
    with f() as s:
        assert s.get(Event, "e-c") is None and s.get(Evidence, first.evidence_id) is None
        assert "belongs to e-other" in s.scalars(select(DeadLetter)).one().reason
    assert svc.stats()["dead_letters"] == 1


def test_nothing_of_a_bundle_commits_until_all_of_it_can(tmp_path) -> None:
    """The evidence store refuses (full disk): the writer retries the whole transaction; meanwhile neither
    the event nor any picture is in the database; afterwards all of them are."""
    svc = offline_service(tmp_path)
    store = svc.store = FlakyStore(tmp_path / "flaky", failures=4)
    pictures = [make_evidence("e-d", seed=k) for k in (1, 2)]
    head = make_event(1, event_id="e-d", evidence=pictures)
    prepared = svc._prepare([_bundle_inbound(head, pictures, 1)])  # noqa: SLF001
    writer = threading.Thread(
        target=svc._commit_batch, args=(prepared.batch, prepared.parsed, prepared.written)  # noqa: SLF001
    )
    writer.start()
    f = svc.session_factory
    wait_for(lambda: svc.stats()["db_errors"] >= 1, 10, "the writer's first refused attempt")
    while writer.is_alive() and store.failures > 0:
        assert count(f, Event) == 0 and count(f, Evidence) == 0 and count(f, EventPhaseRecord) == 0
        time.sleep(0.02)
    writer.join(20)
    assert not writer.is_alive()
    with f() as s:
        assert s.get(Event, "e-d") is not None
        rows = s.scalars(select(Evidence)).all()
        assert len(rows) == 2 and all(r.stored for r in rows)
    assert svc.stats()["stored"] == 1 and svc.stats()["db_errors"] >= 1


def test_spool_cap_strips_the_oldest_bundles_pictures_and_keeps_the_event(tmp_path) -> None:
    pictures = [make_evidence("e-s", kb=20, seed=k) for k in (1, 2)]
    head = make_event(1, event_id="e-s", evidence=pictures)
    bundle = encode_bundle(head, pictures)
    sp = Spool(tmp_path / "s.db", max_bytes=len(bundle) + 2_000, wal_bytes=0)  # cap policy on message bytes
    first = sp.put("t/event", bundle, kind="bundle")
    sp.put("t/event", b"y" * 1_000, kind="event")
    sp.put("t/event", b"z" * 2_000, kind="event")  # no evidence row to drop: the bundle loses its pictures
    rows = sp.peek()
    assert [m.kind for m in rows] == ["stripped", "event", "event"] and rows[0].seq == first
    plain = decode(rows[0].payload)
    assert isinstance(plain, EventMessage) and plain == head  # the event as it was, references and all
    assert sp.stats()["dropped_evidence"] == 2 and sp.depth == 3
    assert sp.bytes == sum(len(m.payload) + len(m.topic) for m in rows)
    sp.close()
    again = Spool(tmp_path / "s.db", max_bytes=len(bundle) + 2_000, wal_bytes=0)
    assert again.bytes == sp.bytes and [m.kind for m in again.peek()] == ["stripped", "event", "event"]


def test_a_stripped_event_waits_for_pictures_sent_on_their_own(broker, topic_prefix, make_central) -> None:
    central = make_central(broker, topic_prefix)
    c = raw_client(broker)
    pictures = [make_evidence("e-p", seed=k) for k in (1, 2)]
    head = make_event(1, event_id="e-p", evidence=pictures)
    t = topics.topic(SITE, "cam-1", "event", topic_prefix)
    send(c, t, encode_bundle(head, pictures[:1]))  # the second did not fit: it follows on its own
    f = central.session_factory
    wait_stored(f, events=1, pictures=1)
    with f() as s:
        assert not s.get(Evidence, pictures[1].evidence_id).stored  # referenced, not yet here
    send(c, topics.topic(SITE, "cam-1", "evidence", topic_prefix), encode(pictures[1]))
    wait_stored(f, events=1, pictures=2)
    c.loop_stop()
    assert count(f, DeadLetter) == 0
