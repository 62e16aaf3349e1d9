"""Unauthenticated messages: central checks each upstream message's signature against the accounts file,
so a broker that lets anyone in (here: the test broker allows anonymous clients) still lets nobody speak for
a camera. Refused messages become dead letters with the reason; the consumer keeps running."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from central.broker_config import BrokerConfigError
from central.edge_keys import EdgeKeys, Unauthenticated
from central.orm.events import DeadLetter, EdgeStatus, Event, EventPhaseRecord
from central.outbox import enqueue_command
from testkit.transport import (
    PASSWORDS,
    SITE,
    count,
    make_event,
    make_evidence,
    publish_signed,
    raw_client,
    signed_accounts,
    wait_for,
)
from wire import signing, topics
from wire.mqtt import MqttSettings
from wire.schema import CommandMessage, ReceiptMessage, encode
from wire.signing import Signer


def test_signature_covers_topic_and_payload(tmp_path) -> None:
    keys = EdgeKeys.load(signed_accounts(tmp_path, "p"))
    signer = Signer("edge-1", PASSWORDS["edge-1"])
    t = topics.topic(SITE, "cam-1", "event", "p")
    payload = encode(make_event(1))
    assert keys.check(t, SITE, "cam-1", payload, signer.value(t, payload)) == "edge-1"
    with pytest.raises(Unauthenticated, match="does not verify"):
        keys.check(t, SITE, "cam-1", payload + b" ", signer.value(t, payload))  # altered payload
    t2 = topics.topic(SITE, "cam-1", "evidence", "p")
    with pytest.raises(Unauthenticated, match="does not verify"):
        keys.check(t2, SITE, "cam-1", payload, signer.value(t, payload))  # replayed on another topic
    with pytest.raises(Unauthenticated, match="malformed"):
        keys.check(t, SITE, "cam-1", payload, "edge-1:abc")
    with pytest.raises(BrokerConfigError, match="cannot read"):
        EdgeKeys.load(tmp_path / "missing.yaml")


def test_unsigned_forged_and_foreign_messages_are_dead_letters(
    broker, topic_prefix, tmp_path, make_central, make_edge
) -> None:
    central = make_central(broker, topic_prefix, edge_accounts=signed_accounts(tmp_path, topic_prefix))
    # the real edge, with its broker credentials: signs everything it sends, so it is stored
    edge = make_edge(
        broker,
        topic_prefix,
        mqtt=MqttSettings(
            host=broker.host, port=broker.port, prefix=topic_prefix, username="edge-1", password=PASSWORDS["edge-1"]
        ),
    )
    pic = make_evidence("e-ok", seed=1)
    good = make_event(1, event_id="e-ok", evidence=[pic])
    edge.publish_many([pic, good])
    assert edge.wait_drained(10), edge.stats()
    f = central.session_factory
    wait_for(lambda: count(f, Event) == 1, 10, "the signed event")

    c = raw_client(broker, "intruder")  # anonymous: the broker lets it in, central must not
    t1 = topics.topic(SITE, "cam-1", "event", topic_prefix)
    t2 = topics.topic(SITE, "cam-2", "event", topic_prefix)
    unsigned, forged, foreign, unknown = (encode(make_event(i)) for i in (2, 3, 4, 5))
    publish_signed(c, t1, unsigned, None)
    publish_signed(c, t1, forged, Signer("edge-1", "a-guessed-password").value(t1, forged))
    # edge-1's own key, but camera 2 belongs to edge-2
    foreign = encode(make_event(4, camera="cam-2"))
    publish_signed(c, t2, foreign, Signer("edge-1", PASSWORDS["edge-1"]).value(t2, foreign))
    publish_signed(c, t1, unknown, Signer("edge-9", "whatever-secret").value(t1, unknown))
    status_t = topics.topic(SITE, "cam-1", "status", topic_prefix)
    publish_signed(c, status_t, b'{"v":1,"type":"status"}', None)
    after = make_event(6, event_id="e-after")
    after_payload = encode(after)
    publish_signed(c, t1, after_payload, Signer("edge-1", PASSWORDS["edge-1"]).value(t1, after_payload))
    wait_for(lambda: count(f, DeadLetter) == 5 and count(f, Event) == 2, 10, "5 dead letters and the later event")
    c.loop_stop()
    with f() as s:
        reasons = sorted(d.reason for d in s.scalars(select(DeadLetter)))
        assert all(r.startswith("unauthenticated: ") for r in reasons), reasons
        joined = " | ".join(reasons)
        assert "no doorline-sig property" in joined
        assert "signature of edge 'edge-1' does not verify" in joined
        assert "edge 'edge-1' may not speak for site-a/cam-2" in joined
        assert "unknown edge 'edge-9'" in joined
        assert {e.event_id for e in s.scalars(select(Event))} == {"e-ok", "e-after"}
        assert count(f, EventPhaseRecord) == 2
        # the signed edge's status (and nothing the intruder sent) is what central knows of cam-1
        wait_for(lambda: count(f, EdgeStatus) >= 1, 10, "the edge's signed status")
        row = s.get(EdgeStatus, (SITE, "cam-1"))
        assert row is None or row.edge_id == "edge-1"
    # the connection dies: the broker publishes the edge's last will, which the edge signed when it connected
    edge._client._sock.close()  # noqa: SLF001
    edge._client.loop_stop()  # noqa: SLF001
    wait_for(lambda: _state(f) == "offline", 15, "the signed last will")
    assert count(f, DeadLetter) == 5


def _state(f) -> str | None:
    with f() as s:
        row = s.get(EdgeStatus, (SITE, "cam-1"))
        return row.state if row else None


def _edge_with_password(make_edge, broker, topic_prefix, **kw):
    return make_edge(
        broker,
        topic_prefix,
        mqtt=MqttSettings(
            host=broker.host, port=broker.port, prefix=topic_prefix, username="edge-1", password=PASSWORDS["edge-1"]
        ),
        **kw,
    )


def test_central_signs_commands_and_receipts_and_the_edge_ignores_forged_ones(
    broker, topic_prefix, tmp_path, make_central, make_edge
) -> None:
    """A receipt makes the edge delete spooled messages: one forged by anybody the broker lets in must not."""
    accounts = signed_accounts(tmp_path, topic_prefix)
    central = make_central(broker, topic_prefix, edge_accounts=accounts)
    edge = _edge_with_password(make_edge, broker, topic_prefix, receipts=True, receipt_timeout_s=60)
    got: list[CommandMessage] = []
    edge.on_command(got.append)
    wait_for(lambda: edge.listening, 10, "edge subscribed to its commands and receipts")
    f = central.session_factory

    # central's real receipt (signed with edge-1's key) empties the spool
    edge.publish(make_event(1, event_id="e-1"))
    assert edge.wait_drained(10), edge.stats()
    assert edge.stats()["receipted"] == 1 and edge.stats()["unauthenticated"] == 0

    # with central gone, a sent event waits for its receipt; forged receipts for it are ignored
    central.stop()
    pending = make_event(2, event_id="e-2")
    edge.publish(pending)
    wait_for(lambda: edge.stats()["acked"] == 2, 10, "the event PUBACKed")
    assert edge.stats()["depth"] == 1  # kept until its receipt
    c = raw_client(broker, "intruder")
    receipt_t = topics.topic(SITE, "cam-1", "receipt", topic_prefix)
    forged = encode(ReceiptMessage(site_id=SITE, camera_id="cam-1", message_ids=[pending.message_id]))
    publish_signed(c, receipt_t, forged, None)  # unsigned
    guessed = signing.signature(signing.signing_key('guess'), receipt_t, forged)
    publish_signed(c, receipt_t, forged, f"central:{guessed}")
    cmd_t = topics.topic(SITE, "cam-1", "cmd", topic_prefix)
    cmd = encode(CommandMessage(site_id=SITE, camera_id="cam-1", cmd="reload_zones"))
    publish_signed(c, cmd_t, cmd, None)
    # a message central signed for cam-1's receipt topic, replayed on its cmd topic
    keys = EdgeKeys.load(accounts)
    publish_signed(c, cmd_t, cmd, keys.sign(receipt_t, SITE, "cam-1", cmd))
    wait_for(lambda: edge.stats()["unauthenticated"] == 4, 10, "4 messages refused")
    assert edge.stats()["depth"] == 1 and edge.stats()["receipted"] == 1
    assert got == []
    assert "no doorline-sig property" in edge.stats()["last_error"] or "does not verify" in edge.stats()["last_error"]

    # what central signs with edge-1's key is taken: a command, and the receipt for the waiting event
    recheck = CommandMessage(site_id=SITE, camera_id="cam-1", cmd="recheck", zone_id="zone-1", case_id="case-1")
    payload = encode(recheck)
    publish_signed(c, cmd_t, payload, keys.sign(cmd_t, SITE, "cam-1", payload))
    real = encode(ReceiptMessage(site_id=SITE, camera_id="cam-1", message_ids=[pending.message_id]))
    publish_signed(c, receipt_t, real, keys.sign(receipt_t, SITE, "cam-1", real))
    c.loop_stop()
    assert edge.wait_drained(10), edge.stats()
    wait_for(lambda: len(got) == 1, 10, "the signed command")
    assert got[0].command_id == recheck.command_id
    assert edge.stats()["unauthenticated"] == 4
    assert keys.sign(cmd_t, SITE, "cam-9", payload) is None  # no edge owns cam-9
    assert count(f, Event) == 1


def test_central_outbox_commands_are_signed(broker, topic_prefix, tmp_path, make_central, make_edge) -> None:
    central = make_central(broker, topic_prefix, edge_accounts=signed_accounts(tmp_path, topic_prefix))
    edge = _edge_with_password(make_edge, broker, topic_prefix)
    got: list[CommandMessage] = []
    edge.on_command(got.append)
    wait_for(lambda: edge.listening, 10, "edge subscribed to its commands")
    cmd = CommandMessage(site_id=SITE, camera_id="cam-1", cmd="recheck", zone_id="zone-1", case_id="case-1")
    with central.session_factory() as s:
        enqueue_command(s, cmd)
        s.commit()
    wait_for(lambda: len(got) == 1, 10, "the command from central's outbox")
    assert got[0].command_id == cmd.command_id and edge.stats()["unauthenticated"] == 0


def test_an_edge_with_a_password_ignores_an_unsigning_central_unless_told_to_trust_it(
    broker, topic_prefix, make_central, make_edge
) -> None:
    """Central without the accounts file cannot sign: the edge refuses its commands and says why."""
    central = make_central(broker, topic_prefix)  # no edge_accounts
    strict = _edge_with_password(make_edge, broker, topic_prefix)
    trusting = _edge_with_password(make_edge, broker, topic_prefix, edge_id="edge-1b", verify_central=False)
    got: dict[str, list] = {"strict": [], "trusting": []}
    strict.on_command(got["strict"].append)
    trusting.on_command(got["trusting"].append)
    wait_for(lambda: strict.listening and trusting.listening, 10, "both edges subscribed")
    cmd = CommandMessage(site_id=SITE, camera_id="cam-1", cmd="recheck", zone_id="zone-1", case_id="case-1")
    with central.session_factory() as s:
        enqueue_command(s, cmd)
        s.commit()
    wait_for(lambda: len(got["trusting"]) == 1, 10, "the trusting edge's command")
    wait_for(lambda: strict.stats()["unauthenticated"] == 1, 10, "the strict edge's refusal")
    assert got["strict"] == []
    assert "no doorline-sig property" in strict.stats()["last_error"]
