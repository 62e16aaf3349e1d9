"""An edge's status is tied to the edge that signed it: a signed `offline` status marks every camera of the
edge it names, so an edge naming another edge (to take it off the map) is refused as a dead letter."""

from __future__ import annotations

from sqlalchemy import select

from central.orm.events import DeadLetter, EdgeStatus
from testkit.transport import PASSWORDS, SITE, count, publish_signed, raw_client, signed_accounts, wait_for
from wire import topics
from wire.schema import StatusMessage, encode
from wire.signing import Signer


def _status(cam: str, edge_id: str, state: str) -> bytes:
    return encode(StatusMessage(site_id=SITE, camera_id=cam, edge_id=edge_id, state=state))


def _state(f, cam: str) -> str | None:
    with f() as s:
        row = s.get(EdgeStatus, (SITE, cam))
        return row.state if row else None


def test_an_edge_cannot_mark_another_edge_offline(broker, topic_prefix, tmp_path, make_central) -> None:
    central = make_central(broker, topic_prefix, edge_accounts=signed_accounts(tmp_path, topic_prefix))
    f = central.session_factory
    c = raw_client(broker, "status-signer")
    edge1, edge2 = Signer("edge-1", PASSWORDS["edge-1"]), Signer("edge-2", PASSWORDS["edge-2"])
    t1 = topics.topic(SITE, "cam-1", "status", topic_prefix)
    t2 = topics.topic(SITE, "cam-2", "status", topic_prefix)

    online2 = _status("cam-2", "edge-2", "online")
    publish_signed(c, t2, online2, edge2.value(t2, online2))
    wait_for(lambda: _state(f, "cam-2") == "online", 10, "edge-2's own status")

    # edge-1, with its own valid key and on its own camera's topic, claims to be edge-2 going offline
    forged = _status("cam-1", "edge-2", "offline")
    publish_signed(c, t1, forged, edge1.value(t1, forged))
    # and then says something true about itself, which must still be applied
    online1 = _status("cam-1", "edge-1", "online")
    publish_signed(c, t1, online1, edge1.value(t1, online1))
    wait_for(lambda: count(f, DeadLetter) == 1 and _state(f, "cam-1") == "online", 10,
             "the forged status refused, the true one applied")
    c.loop_stop()
    assert _state(f, "cam-2") == "online"  # edge-2 is not marked offline
    with f() as s:
        (reason,) = s.scalars(select(DeadLetter.reason)).all()
        assert reason == "unauthenticated: status names edge 'edge-2' but edge 'edge-1' signed it"
        assert s.get(EdgeStatus, (SITE, "cam-1")).edge_id == "edge-1"
