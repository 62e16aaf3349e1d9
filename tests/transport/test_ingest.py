"""Central ingest against a real Mosquitto: storage, idempotency, dead letters, status, commands, metrics."""

from __future__ import annotations

import base64
import hashlib
import json
import threading

import pytest
from sqlalchemy import select

from central import metrics
from central.orm.events import DeadLetter, EdgeStatus, Event, EventPhaseRecord, Evidence, Outbox
from central.outbox import enqueue_command
from testkit.transport import (
    SITE,
    FlakyStore,
    count,
    inbound,
    jpeg_bytes,
    make_event,
    make_evidence,
    offline_service,
    raw_client,
    send,
    wait_for,
    wait_stored,
)
from wire import topics
from wire.schema import BINARY_MAGIC, CommandMessage, encode


def test_event_and_evidence_in_either_order(broker, topic_prefix, make_central, make_edge) -> None:
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix)
    # order 1: evidence first, then its event
    ev1 = make_evidence("e-1", kb=30, seed=1)
    edge.publish(ev1)
    edge.publish(make_event(1, event_id="e-1", evidence=[ev1]))
    # order 2: the event first; its evidence arrives later
    ev2 = make_evidence("e-2", kb=30, seed=2)
    edge.publish(make_event(2, event_id="e-2", evidence=[ev2]))
    edge.publish(ev2)
    assert edge.wait_drained(10), edge.stats()
    f = central.session_factory
    wait_stored(f, events=2, pictures=2)
    with f() as s:
        rows = {r.evidence_id: r for r in s.scalars(select(Evidence))}
        assert set(rows) == {ev1.evidence_id, ev2.evidence_id}
        assert rows[ev1.evidence_id].event_id == "e-1" and rows[ev2.evidence_id].event_id == "e-2"
        for r in rows.values():
            blob = central.store.get(r.sha256)
            assert hashlib.sha256(blob).hexdigest() == r.sha256 and r.size == len(blob) and r.width > 0
    assert count(f, DeadLetter) == 0
    assert edge.depth == 0


@pytest.mark.parametrize("bundle", [True, False], ids=["bundled", "apart"])
def test_publish_many_spools_all_or_none_and_they_arrive(
    broker, topic_prefix, make_central, make_edge, bundle
) -> None:
    central = make_central(broker, topic_prefix)
    # not started: everything stays in the spool
    edge = make_edge(broker, topic_prefix, start=False, bundle_evidence=bundle)
    evs = [make_evidence("e-m", kb=20, seed=k) for k in (1, 2)]
    event = make_event(1, event_id="e-m", evidence=evs)
    stranger = make_event(2, event_id="e-x", camera="cam-9")  # not one of this edge's cameras
    with pytest.raises(ValueError, match="this edge speaks for"):
        edge.publish_many([*evs, stranger])
    assert edge.depth == 0  # the valid ones before it were not spooled either
    seqs = edge.publish_many([*evs, event])
    if bundle:  # one payload: the event with both pictures
        assert len(seqs) == 1 and [m.kind for m in edge.spool.peek()] == ["bundle"]
    else:
        assert seqs == sorted(seqs) and edge.depth == 3
        assert [m.kind for m in edge.spool.peek()] == ["evidence", "evidence", "event"]
    edge.start()
    assert edge.wait_drained(10), edge.stats()
    f = central.session_factory
    wait_stored(f, events=1, pictures=2)
    assert count(f, DeadLetter) == 0
    edge.stop(timeout=3)


def test_redelivered_message_is_stored_once(broker, topic_prefix, make_central, db_url) -> None:
    """Idempotency on SQLite and PostgreSQL: the same message three times, and an episode's later phase."""
    central = make_central(broker, topic_prefix, db_url)
    c = raw_client(broker)
    t = topics.topic(SITE, "cam-1", "event", topic_prefix)
    ev = make_event(0)
    evidence = make_evidence(ev.event_id)
    for _ in range(3):
        send(c, t, encode(ev))
        send(c, topics.topic(SITE, "cam-1", "evidence", topic_prefix), encode(evidence))
    upd = make_event(0, event_id=ev.event_id, phase="end", seq=1)
    send(c, t, encode(upd))
    send(c, t, encode(upd))
    f = central.session_factory
    wait_for(lambda: central.stats()["duplicates"] >= 5 and central.stats()["stored"] >= 3, 10, "all processed")
    c.loop_stop()
    assert count(f, EventPhaseRecord) == 2
    assert count(f, Event) == 1
    assert count(f, Evidence) == 1
    with f() as s:
        row = s.get(Event, ev.event_id)
        assert (row.phase, row.last_seq, row.phase_count) == ("end", 1, 2)
    assert central.stats()["duplicates"] == 5 and central.stats()["stored"] == 3
    # the latency sum (doorline_ingest_latency_seconds_*) counts each stored message once, edge to commit
    assert central.stats()["latency_count"] == 3 and 0 < central.stats()["latency_s_sum"] < 30


@pytest.mark.parametrize(
    ("kind", "payload_fn", "reason_part"),
    [
        ("event", lambda: b"{not json", "not JSON"),
        (
            "event",
            lambda: json.dumps({**json.loads(encode(make_event())), "v": 2}).encode(),
            "schema version",
        ),
        ("event", lambda: json.dumps({**json.loads(encode(make_event())), "score": 7}).encode(), "score"),
        ("evidence", lambda: _oversized_evidence(), "larger than"),
        ("evidence", lambda: _json_evidence(), "binary frame"),
        ("evidence", lambda: _binary_hash_mismatch(), "sha256 does not match"),
        ("evidence", lambda: encode(make_evidence("x"))[:6], "shorter than its header"),
        ("event", lambda: encode(make_event(camera="cam-2")), "arrived on the topic of"),
        ("event", lambda: encode(make_evidence("x")), "evidence message on a event topic"),
        ("event", lambda: b"x" * (2 * 1024 * 1024 + 10), "exceeds the limit"),
    ],
    ids=[
        "malformed-json",
        "wrong-version",
        "invalid-field",
        "oversized-evidence",
        "hash-mismatch",
        "binary-hash-mismatch",
        "binary-truncated",
        "camera-mismatch",
        "wrong-type",
        "oversized-payload",
    ],
)
def test_bad_messages_become_dead_letters(broker, topic_prefix, make_central, kind, payload_fn, reason_part) -> None:
    central = make_central(broker, topic_prefix)
    c = raw_client(broker)
    send(c, topics.topic(SITE, "cam-1", kind, topic_prefix), payload_fn())
    good = make_event(1)
    send(c, topics.topic(SITE, "cam-1", "event", topic_prefix), encode(good))  # the consumer keeps running
    f = central.session_factory
    wait_for(lambda: count(f, DeadLetter) == 1 and count(f, EventPhaseRecord) == 1, 10, "dead letter + good event")
    c.loop_stop()
    with f() as s:
        dl = s.scalars(select(DeadLetter)).one()
        assert reason_part in dl.reason, dl.reason
        assert dl.topic.endswith(f"/cam-1/{kind}") and dl.payload_size > 0 and dl.camera_id == "cam-1"
        assert s.get(Event, good.event_id) is not None


def _frame(obj: dict, data: bytes) -> bytes:
    header = json.dumps(obj).encode()
    return BINARY_MAGIC + len(header).to_bytes(4, "big") + header + data


def _oversized_evidence() -> bytes:
    ev = make_evidence("x")
    big = ev.data() + b"\0" * (1024 * 1024 + 100)
    return _frame(json.loads(ev.model_dump_json()) | {"sha256": hashlib.sha256(big).hexdigest()}, big)


def _json_evidence() -> bytes:
    """Evidence as a JSON object with base64 data: a form the wire does not have."""
    ev = make_evidence("x")
    return json.dumps(json.loads(ev.model_dump_json()) | {"data_b64": base64.b64encode(ev.data()).decode()}).encode()


def _binary_hash_mismatch() -> bytes:
    payload = encode(make_evidence("x"))  # a binary frame: header JSON, then the JPEG
    n = int.from_bytes(payload[4:8], "big")
    other, _, _ = jpeg_bytes(10, seed=9)
    return payload[: 8 + n] + other


def test_evidence_not_matching_its_events_reference_is_refused(broker, topic_prefix, make_central) -> None:
    central = make_central(broker, topic_prefix)
    c = raw_client(broker)
    real = make_evidence("e-9", seed=3)
    ev = make_event(9, event_id="e-9", evidence=[real])
    forged = make_evidence("e-9", seed=4).model_copy(update={"evidence_id": real.evidence_id})
    send(c, topics.topic(SITE, "cam-1", "event", topic_prefix), encode(ev))
    send(c, topics.topic(SITE, "cam-1", "evidence", topic_prefix), encode(forged))
    f = central.session_factory
    wait_for(lambda: count(f, DeadLetter) == 1, 10, "dead letter")
    c.loop_stop()
    with f() as s:
        assert "does not match" in s.scalars(select(DeadLetter)).one().reason
        row = s.get(Evidence, real.evidence_id)
        assert row.sha256 == real.sha256 and not row.stored


def test_status_and_last_will(broker, topic_prefix, make_central, make_edge) -> None:
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix, cameras=("cam-1", "cam-2"))
    edge.set_status("degraded", fps=4.5, source_state="reconnecting rtsp")
    f = central.session_factory

    def states() -> dict[str, str]:
        with f() as s:
            return {r.camera_id: r.state for r in s.scalars(select(EdgeStatus))}

    wait_for(lambda: states() == {"cam-1": "degraded", "cam-2": "degraded"}, 10, "degraded status")
    with f() as s:
        row = s.get(EdgeStatus, (SITE, "cam-2"))
        assert row.fps == 4.5 and row.source_state == "reconnecting rtsp" and row.edge_id == "edge-1"
    # the edge's connection dies without a clean disconnect → the broker publishes the last will
    edge._client._sock.close()  # noqa: SLF001  (simulate a cut network)
    edge._client.loop_stop()  # noqa: SLF001
    wait_for(lambda: states() == {"cam-1": "offline", "cam-2": "offline"}, 15, "last will marks the edge offline")


def test_command_roundtrip_and_malformed_command(broker, topic_prefix, make_central, make_edge) -> None:
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix)
    got: list[CommandMessage] = []
    arrived = threading.Event()

    def on_cmd(cmd: CommandMessage) -> None:
        got.append(cmd)
        arrived.set()

    edge.on_command(on_cmd)
    wait_for(lambda: edge.listening, 10, "edge subscribed to its commands")
    c = raw_client(broker, "central-raw")
    send(c, topics.topic(SITE, "cam-1", "cmd", topic_prefix), b'{"v": 1, "type": "command", "cmd": "nuke"}')
    c.loop_stop()
    cmd = CommandMessage(site_id=SITE, camera_id="cam-1", cmd="recheck", zone_id="zone-1", case_id="case-1")
    with central.session_factory() as s:
        enqueue_command(s, cmd)
        s.commit()
    assert arrived.wait(10), edge.stats()
    assert got[0].command_id == cmd.command_id and got[0].zone_id == "zone-1"
    assert edge.stats()["bad_commands"] == 1
    f = central.session_factory
    wait_for(lambda: count(f, Outbox, Outbox.sent_at.is_not(None)) == 1, 5, "outbox row marked sent")
    wait_for(lambda: central.stats()["commands_sent"] == 1, 5, "the send counted (just after the commit)")


def test_metrics_expose_queue_depths(broker, topic_prefix, make_central) -> None:
    central = make_central(broker, topic_prefix, client_id="central-metrics")
    body, ctype = metrics.render()
    text = body.decode()
    assert ctype.startswith("text/plain")
    assert 'doorline_ingest_queue_depth{instance="central-metrics"} 0.0' in text
    assert 'doorline_ingest_queue_capacity{instance="central-metrics"} 256.0' in text
    with central.session_factory() as s:
        s.add(EdgeStatus(site_id=SITE, camera_id="cam-1", edge_id="e1", state="online", spool_depth=17))
        s.commit()
        text = metrics.render(s)[0].decode()
    assert 'doorline_edge_spool_depth{site="site-a",camera="cam-1",edge="e1"} 17' in text
    assert "doorline_outbox_pending 0" in text
    # what GET /metrics serves (no session passed): the service's own database is used
    text = metrics.render()[0].decode()
    assert 'doorline_edge_spool_depth{site="site-a",camera="cam-1",edge="e1"} 17' in text


def test_nothing_is_lost_while_no_central_is_subscribed(broker, topic_prefix, make_central, make_edge) -> None:
    """The broker answers "no matching subscribers" (0x10) when central is away: the edge keeps the messages,
    reports the spool depth in its retained status, and delivers them once central subscribes."""
    statuses: list[dict] = []
    watcher = raw_client(broker, "status-watcher")
    watcher.on_message = lambda _c, _u, m: statuses.append(json.loads(m.payload))
    watcher.subscribe(topics.topic(SITE, "cam-1", "status", topic_prefix), qos=1)
    edge = make_edge(broker, topic_prefix, status_interval_s=0.3)
    events = [make_event(i) for i in range(5)]
    for e in events:
        edge.publish(e)
    wait_for(lambda: edge.stats()["unrouted"] >= 5, 10, "unrouted acks")
    assert edge.depth == 5
    wait_for(lambda: any(s["spool_depth"] == 5 for s in statuses), 5, "spool depth in the status")
    central = make_central(broker, topic_prefix)
    assert edge.wait_drained(15), edge.stats()
    wait_for(lambda: count(central.session_factory, EventPhaseRecord) == 5, 5, "the five events")
    watcher.loop_stop()



def test_race_with_another_instance_falls_back_to_one_by_one(tmp_path, monkeypatch) -> None:
    """Another instance commits a row after this one looked: the batch insert fails on the unique key and
    the batch is redone message by message; the row already there counts as a duplicate."""
    from central.ingest.rows import Rows

    svc = offline_service(tmp_path)
    a, b = make_event(1), make_event(2)
    svc._commit_batch([inbound(a, 1)])  # noqa: SLF001  ("the other instance")
    monkeypatch.setattr(Rows, "_prefetch", lambda self, batch: None)  # this instance looked too early
    svc._commit_batch([inbound(a, 2), inbound(b, 3)])  # noqa: SLF001
    assert count(svc.session_factory, EventPhaseRecord) == 2
    assert svc.stats()["stored"] == 2 and svc.stats()["duplicates"] == 1



@pytest.mark.parametrize("failures", [0, 2])
def test_prepare_stage_writes_evidence_once_and_the_writer_retries_what_it_could_not(tmp_path, failures) -> None:
    """The prepare stage writes and syncs a batch's pictures before the writer's transaction; the writer
    does not write them again. When the store refuses (disk full), the writer retries until it can, and the
    evidence is stored once."""
    svc = offline_service(tmp_path)
    store = svc.store = FlakyStore(tmp_path / "flaky", failures)
    ev = make_evidence("e-1", seed=5)
    prepared = svc._prepare([inbound(ev, 1), inbound(make_event(1, evidence=[ev], event_id="e-1"), 2)])  # noqa: SLF001
    assert prepared.written == ({ev.sha256} if failures == 0 else set())
    svc._commit_batch(prepared.batch, prepared.parsed, prepared.written)  # noqa: SLF001
    with svc.session_factory() as s:
        row = s.get(Evidence, ev.evidence_id)
        assert row is not None and row.stored and row.sha256 == ev.sha256
    assert store.inner.get(ev.sha256) == ev.data()
    # written once by the prepare stage; or refused there and once by the writer, then stored on its retry
    assert store.puts == (1 if failures == 0 else 3), store.puts
    assert store.flushes >= 1
    assert svc.stats()["db_errors"] == (0 if failures == 0 else 1)


def test_failing_workflow_keeps_the_event_and_records_why(tmp_path) -> None:
    class BrokenWorkflow:
        @staticmethod
        def handle_event(session, msg, settings) -> None:
            raise RuntimeError("shop registry unavailable")

    svc = offline_service(tmp_path, BrokenWorkflow)
    ev = make_event(5)
    svc._commit_batch([inbound(ev, 1), inbound(make_event(6), 2)])  # noqa: SLF001
    f = svc.session_factory
    assert count(f, EventPhaseRecord) == 2
    with f() as s:
        reasons = list(s.scalars(select(DeadLetter.reason)))
    assert len(reasons) == 2 and all("workflow.handle_event failed" in r and "registry" in r for r in reasons)


def test_retired_instance_leaves_the_shared_subscription(broker, topic_prefix, make_central, make_edge) -> None:
    """A stopped instance keeps its session (its share of new messages waits for it); a retired one ends
    its session, so the remaining instance gets everything."""
    a = make_central(broker, topic_prefix, client_id="central-a")
    b = make_central(broker, topic_prefix, client_id="central-b")
    edge = make_edge(broker, topic_prefix)
    for i in range(20):
        edge.publish(make_event(i))
    assert edge.wait_drained(10)
    wait_for(lambda: count(a.session_factory, EventPhaseRecord) == 20, 10, "the first 20 events")
    assert b.stats()["stored"] > 0  # b took part before it retired
    b.stop(retire=True)
    for i in range(20, 60):
        edge.publish(make_event(i))
    assert edge.wait_drained(10)
    wait_for(lambda: count(a.session_factory, EventPhaseRecord) == 60, 10, "all 60 events through central-a")
    assert a.stats()["stored"] + b.stats()["stored"] == 60


def test_store_flush_never_marks_a_blob_written_during_the_sync_as_synced(tmp_path, monkeypatch) -> None:
    """The prepare stage and the writer share the store: a picture written while another thread's sync runs
    must still be synced by the next flush()."""
    from central import evidence_store

    store = evidence_store.LocalEvidenceStore(tmp_path / "ev")
    syncs: list[int] = []

    def fake_syncfs(path) -> None:
        syncs.append(1)
        if len(syncs) == 1:  # another thread writes while this sync runs
            store.put(jpeg_bytes(5, seed=2)[0], durable=False)

    monkeypatch.setattr(evidence_store, "_syncfs", fake_syncfs)
    store.put(jpeg_bytes(5, seed=1)[0], durable=False)
    store.flush()
    store.flush()  # must sync the picture written during the first sync
    store.flush()  # nothing new: no sync
    assert len(syncs) == 2
