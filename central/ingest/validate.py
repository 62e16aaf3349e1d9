"""Is an inbound message one central stores? Topic, signature, schema and the topic/payload agreement."""

from __future__ import annotations

from typing import Any

from central.edge_keys import EdgeKeys, Unauthenticated
from central.ingest.inbound import Inbound, Rejected
from wire import topics
from wire.schema import Bundle, EventMessage, EvidenceMessage, RecheckResult, SchemaError, StatusMessage, decode

# the kinds several central instances split between them (MQTT v5 shared subscription)
SHARED_KINDS: tuple[str, ...] = ("event", "evidence", "recheck")
EXPECTED: dict[str, type] = {
    "event": EventMessage,
    "evidence": EvidenceMessage,
    "recheck": RecheckResult,
    "status": StatusMessage,
}


def validate(item: Inbound, prefix: str, edge_keys: EdgeKeys | None) -> Any:
    """The message `item` carries; raises Rejected with the reason it is refused."""
    try:
        t = topics.parse(item.topic)
    except ValueError as exc:
        raise Rejected(f"unknown topic: {exc}") from None
    if t.prefix != prefix:
        raise Rejected(f"topic prefix {t.prefix!r} is not {prefix!r}")
    expected = EXPECTED.get(t.kind)
    if expected is None:
        raise Rejected(f"central does not consume {t.kind!r} topics")
    signer = None
    if edge_keys is not None:
        try:
            signer = edge_keys.check(item.topic, t.site_id, t.camera_id, item.payload, item.signature)
        except Unauthenticated as exc:
            raise Rejected(f"unauthenticated: {exc}") from None
    try:
        msg = decode(item.payload)
    except SchemaError as exc:
        raise Rejected(exc.reason) from None
    if not isinstance(msg.head if isinstance(msg, Bundle) else msg, expected):
        raise Rejected(f"{msg.type} message on a {t.kind} topic", msg)
    if signer is not None and isinstance(msg, StatusMessage) and msg.edge_id != signer:
        # an `offline` status marks every camera of the edge it names: only that edge may say so
        raise Rejected(f"unauthenticated: status names edge {msg.edge_id!r} but edge {signer!r} signed it", msg)
    if (msg.site_id, msg.camera_id) != (t.site_id, t.camera_id):
        raise Rejected(
            f"payload names {msg.site_id}/{msg.camera_id} but arrived on the topic of {t.site_id}/{t.camera_id}",
            msg,
        )
    return msg
