"""Unauthenticated messages: central checks each upstream message's signature against the accounts file,
so a broker that lets anyone in (here: the test broker allows anonymous clients) still lets nobody speak for
a camera. Refused messages become dead letters with the reason; the consumer keeps running."""

from __future__ import annotations

import textwrap

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import select
from test_ingest import raw_client
from transport_support import SITE, count, make_event, make_evidence, wait_for

from central.broker_config import BrokerConfigError
from central.edge_keys import EdgeKeys, Unauthenticated
from central.orm.events import DeadLetter, EdgeStatus, Event, EventPhaseRecord
from wire import topics
from wire.mqtt import MqttSettings
from wire.schema import encode
from wire.signing import SIG_PROPERTY, Signer

PASSWORDS = {"edge-1": "first-edge-secret", "edge-2": "second-edge-secret"}


def _accounts(tmp_path, prefix: str):
    path = tmp_path / "accounts.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            prefix: {prefix}
            central: {{username: central, password: central-secret}}
            edges:
              - {{edge_id: edge-1, site_id: {SITE}, password: {PASSWORDS["edge-1"]}, camera_ids: [cam-1]}}
              - {{edge_id: edge-2, site_id: {SITE}, password: {PASSWORDS["edge-2"]}, camera_ids: [cam-2]}}
            """
        )
    )
    return path


def _publish(c, topic: str, payload: bytes, sig: str | None) -> None:
    props = None
    if sig is not None:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = (SIG_PROPERTY, sig)
    c.publish(topic, payload, qos=1, properties=props).wait_for_publish(5)


def test_signature_covers_topic_and_payload(tmp_path) -> None:
    keys = EdgeKeys.load(_accounts(tmp_path, "p"))
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
    central = make_central(broker, topic_prefix, edge_accounts=_accounts(tmp_path, topic_prefix))
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
    _publish(c, t1, unsigned, None)
    _publish(c, t1, forged, Signer("edge-1", "a-guessed-password").value(t1, forged))
    # edge-1's own key, but camera 2 belongs to edge-2
    foreign = encode(make_event(4, camera="cam-2"))
    _publish(c, t2, foreign, Signer("edge-1", PASSWORDS["edge-1"]).value(t2, foreign))
    _publish(c, t1, unknown, Signer("edge-9", "whatever-secret").value(t1, unknown))
    status_t = topics.topic(SITE, "cam-1", "status", topic_prefix)
    _publish(c, status_t, b'{"v":1,"type":"status"}', None)
    after = make_event(6, event_id="e-after")
    after_payload = encode(after)
    _publish(c, t1, after_payload, Signer("edge-1", PASSWORDS["edge-1"]).value(t1, after_payload))
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
