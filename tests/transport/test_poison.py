"""Poisoned payloads never stop a consumer (issue 15, item 1), and a reused message_id is not a silent duplicate.

Real Mosquitto, a real central ingest (a child process, or in this process where a test must reach into it),
real SQLite. A payload of 1,000 `[` used to make `json.loads` raise RecursionError, which killed the ingest's
prepare thread and then its writer, and on an edge killed paho's network thread."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from central import metrics
from central.app import create_app
from central.orm.events import DeadLetter, EventPhaseRecord, Evidence
from testkit.reliability import record
from testkit.transport import (
    POISON,
    SITE,
    central_db,
    central_process,
    count,
    make_event,
    make_evidence,
    raw_client,
    send,
    stop_process,
    wait_for,
)
from wire import topics
from wire.schema import CommandMessage, ReceiptMessage, encode
from wire.schema import decode as real_decode

# (name, payload, a part of the dead letter's reason)

@pytest.mark.slow  # real processes, or a real small file system: ~10 s
def test_poisoned_payloads_are_dead_lettered_acked_and_ingest_goes_on(broker, topic_prefix, tmp_path) -> None:
    """Every poison payload becomes a dead letter with its reason; an event sent after them is stored; and
    they were acknowledged: a restarted central (same MQTT session) gets none of them again."""
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    _, f = central_db(db_url)
    central = central_process(broker, topic_prefix, db_url, tmp_path / "evidence", "central-1")
    try:
        c = raw_client(broker)
        t = topics.topic(SITE, "cam-1", "event", topic_prefix)
        for _name, payload, _ in POISON:
            send(c, t, payload)
        good = make_event(1)
        send(c, t, encode(good))
        wait_for(lambda: count(f, EventPhaseRecord) == 1 and count(f, DeadLetter) == len(POISON), 15,
                 f"{len(POISON)} dead letters and the good event")
        with f() as s:
            reasons = [d.reason for d in s.scalars(select(DeadLetter).order_by(DeadLetter.id))]
            assert s.get(EventPhaseRecord, good.message_id) is not None
        for (name, _, part), reason in zip(POISON, reasons, strict=True):
            assert part in reason, (name, reason)
        stop_process(central)
        central = central_process(broker, topic_prefix, db_url, tmp_path / "evidence", "central-1")
        after = make_event(2)
        send(c, t, encode(after))
        wait_for(lambda: count(f, EventPhaseRecord) == 2, 15, "the event sent after the restart")
        time.sleep(0.3)
        assert count(f, DeadLetter) == len(POISON), "a poison payload was delivered again: it was never acked"
        c.loop_stop()
        record("poison-central", payloads=len(POISON), dead_letters=len(POISON), valid_stored=2,
               redelivered_after_restart=0)
    finally:
        stop_process(central)


def test_an_exception_anywhere_in_validation_is_a_dead_letter(broker, topic_prefix, make_central, monkeypatch) -> None:
    """Whatever a decoder bug raises (here a RecursionError from inside `decode`) becomes a dead letter with
    the exception in its reason, and the message after it is stored."""
    import central.ingest.validate as ingest_validate

    central = make_central(broker, topic_prefix)
    poison = b'{"poison": true}'

    def flaky_decode(payload, **kw):
        if bytes(payload) == poison:
            raise RecursionError("maximum recursion depth exceeded")
        return real_decode(payload, **kw)

    monkeypatch.setattr(ingest_validate, "decode", flaky_decode)
    c = raw_client(broker)
    t = topics.topic(SITE, "cam-1", "event", topic_prefix)
    send(c, t, poison)
    good = make_event(3)
    send(c, t, encode(good))
    f = central.session_factory
    wait_for(lambda: count(f, DeadLetter) == 1 and count(f, EventPhaseRecord) == 1, 10, "dead letter + good event")
    c.loop_stop()
    with f() as s:
        assert "internal error while validating: RecursionError" in s.scalars(select(DeadLetter)).one().reason
    assert central.stats()["internal_errors"] == 1


class ThreadKill(BaseException):
    """Not an Exception: nothing inside the worker loops catches it, so it ends the thread."""


@pytest.mark.parametrize(("role", "method"), [("prepare", "_prepare"), ("writer", "_commit_batch")])
def test_a_worker_thread_that_dies_turns_healthz_red_and_is_restarted(
    broker, topic_prefix, make_central, role, method
) -> None:
    central = make_central(broker, topic_prefix, restart_delay_s=1.0)
    client = TestClient(create_app(central.settings, central.session_factory, store=central.store))
    assert client.get("/healthz").status_code == 200
    real = getattr(central, method)
    killed = threading.Event()

    def die_once(*a, **kw):
        if not killed.is_set():
            killed.set()
            raise ThreadKill(f"{role} killed by the test")
        return real(*a, **kw)

    setattr(central, method, die_once)
    c = raw_client(broker)
    t = topics.topic(SITE, "cam-1", "event", topic_prefix)
    first = make_event(4)
    send(c, t, encode(first))
    assert killed.wait(5)
    died = time.monotonic()
    wait_for(lambda: client.get("/healthz").status_code == 503, 2, "healthz to turn red")
    red = client.get("/healthz")
    assert red.status_code == 503 and f"thread {role} died" in " ".join(red.json()["ingest"]), red.json()
    assert "ThreadKill" in " ".join(red.json()["ingest"])
    wait_for(lambda: client.get("/healthz").status_code == 200, 10, "healthz green again after the restart")
    red_s = time.monotonic() - died
    second = make_event(5)
    send(c, t, encode(second))
    f = central.session_factory
    # the batch the dead thread had in hand is taken up by its successor: nothing lost
    wait_for(lambda: count(f, EventPhaseRecord) == 2, 10, "both events stored")
    c.loop_stop()
    st = central.stats()
    assert (st["thread_deaths"], st["thread_restarts"], st["stored"]) == (1, 1, 2), st
    assert count(f, DeadLetter) == 0
    text = metrics.render()[0].decode()
    assert f'doorline_ingest_thread_deaths_total{{instance="{central.client_id}"}} 1.0' in text
    assert f'doorline_ingest_thread_restarts_total{{instance="{central.client_id}"}} 1.0' in text
    record(f"thread-death-{role}", healthz_red_s=round(red_s, 2), deaths=1, restarts=1, stored=2, lost=0)


def test_a_message_that_kills_the_prepare_thread_twice_is_dead_lettered(broker, topic_prefix, make_central) -> None:
    """The batch in hand is tried again after a restart; when it kills the thread a second time, each message
    is validated alone and the one that still kills it becomes a dead letter. The others are stored."""
    central = make_central(broker, topic_prefix, restart_delay_s=0.3, batch_size=1)
    poison = make_event(6)
    real = central._validate  # noqa: SLF001

    def killer(item):
        if poison.message_id.encode() in item.payload:
            raise ThreadKill("this message always kills")
        return real(item)

    central._validate = killer  # noqa: SLF001
    c = raw_client(broker)
    t = topics.topic(SITE, "cam-1", "event", topic_prefix)
    send(c, t, encode(poison))
    good = make_event(7)
    send(c, t, encode(good))
    f = central.session_factory
    wait_for(lambda: count(f, DeadLetter) == 1 and count(f, EventPhaseRecord) == 1, 15, "dead letter + good event")
    c.loop_stop()
    with f() as s:
        dl = s.scalars(select(DeadLetter)).one()
        assert "prepare thread died on it" in dl.reason and dl.payload == encode(poison)
        assert s.get(EventPhaseRecord, good.message_id) is not None
    st = central.stats()
    assert st["thread_deaths"] == 2 and st["thread_restarts"] == 2, st
    assert central.health_problems() == []
    record("thread-death-twice", deaths=2, restarts=2, dead_letters=1, other_stored=1)


def test_a_reused_message_id_with_different_content_is_a_dead_letter(broker, topic_prefix, make_central) -> None:
    """An identical redelivery stays a silent duplicate; the same message_id carrying something else (an
    event, or an evidence picture) is refused with a reason that says so, and the first one is kept."""
    central = make_central(broker, topic_prefix)
    c = raw_client(broker)
    t_ev = topics.topic(SITE, "cam-1", "event", topic_prefix)
    t_pic = topics.topic(SITE, "cam-1", "evidence", topic_prefix)
    first = make_event(8)
    forged = first.model_copy(update={"score": 0.1, "zone_id": "zone-x"})
    pic = make_evidence("e-reuse", kb=5, seed=1)
    other_pic = make_evidence("e-reuse", kb=5, seed=2).model_copy(update={"message_id": pic.message_id})
    send(c, t_ev, encode(first))
    send(c, t_pic, encode(pic))
    f = central.session_factory
    wait_for(lambda: count(f, EventPhaseRecord) == 1 and count(f, Evidence) == 1, 10, "the first of each")
    for payload, topic in ((encode(first), t_ev), (encode(forged), t_ev), (encode(pic), t_pic),
                           (encode(other_pic), t_pic), (encode(first), t_ev)):
        send(c, topic, payload)
    wait_for(lambda: central.stats()["duplicates"] == 3 and count(f, DeadLetter) == 2, 10, "3 duplicates, 2 refused")
    c.loop_stop()
    with f() as s:
        reasons = sorted(d.reason for d in s.scalars(select(DeadLetter)))
        assert all("reused with different content" in r for r in reasons), reasons
        assert "score" in " ".join(reasons) and "zone_id" in " ".join(reasons)
        row = s.get(EventPhaseRecord, first.message_id)
        assert json.loads(row.payload)["score"] == first.score
        assert s.scalars(select(Evidence)).one().sha256 == pic.sha256
    record("reused-message-id", identical_redeliveries=3, duplicates=3, different_content=2, dead_letters=2)


def test_poison_on_an_edges_cmd_and_receipt_topics_never_stops_it(
    broker, topic_prefix, make_central, make_edge
) -> None:
    """The edge's handlers run on paho's network thread, which also carries its PUBACKs: poisoned commands
    and receipts (and a receipt whose handling raises) are counted and logged, and the edge goes on
    publishing, taking commands and applying receipts."""
    central = make_central(broker, topic_prefix)
    edge = make_edge(broker, topic_prefix, receipts=True)
    got: list[CommandMessage] = []
    edge.on_command(got.append)
    wait_for(lambda: edge.listening, 10, "edge subscribed")
    c = raw_client(broker, "attacker")
    cmd_t = topics.topic(SITE, "cam-1", "cmd", topic_prefix)
    rcpt_t = topics.topic(SITE, "cam-1", "receipt", topic_prefix)
    for _name, payload, _ in POISON:
        send(c, cmd_t, payload)
        send(c, rcpt_t, payload)
    wait_for(lambda: edge.stats()["bad_commands"] == len(POISON) and edge.stats()["bad_receipts"] == len(POISON),
             10, f"{len(POISON)} bad commands and receipts counted ({edge.stats()})")
    # a receipt whose handling raises (not a payload problem): counted, and the thread goes on
    real_ack = edge.spool.ack_messages
    edge.spool.ack_messages = lambda ids: (_ for _ in ()).throw(RuntimeError("spool bug"))
    send(c, rcpt_t, encode(ReceiptMessage(site_id=SITE, camera_id="cam-1", message_ids=["m-1"])))
    wait_for(lambda: edge.stats()["downstream_errors"] == 1, 10, "the failing receipt counted")
    edge.spool.ack_messages = real_ack
    assert edge._client._thread.is_alive()  # noqa: SLF001 -- paho's network thread
    events = [make_event(i) for i in range(20)]
    for ev in events:
        edge.publish(ev)
    send(c, cmd_t, encode(CommandMessage(site_id=SITE, camera_id="cam-1", cmd="set_fps", fps=2.0)))
    assert edge.wait_drained(15), edge.stats()  # with receipts: central stored them and the edge heard it
    wait_for(lambda: len(got) == 1, 5, "the valid command after the poison")
    c.loop_stop()
    assert count(central.session_factory, EventPhaseRecord) == 20
    assert edge.connected and edge.stats()["receipted"] >= 20
    record("poison-edge", poison_commands=len(POISON), poison_receipts=len(POISON), failing_receipt_handler=1,
           published_after=20, stored=20, valid_command_after=1)
