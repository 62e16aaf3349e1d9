"""Message signatures, so that central knows which edge sent a message whatever the broker lets through.

The broker checks an edge's password when it connects, and its ACL limits the topics the edge may publish
on. Central does not rely on that alone: a broker left open to anonymous clients, a bridge from another
broker, or a copied ACL would let anyone publish. So every upstream message carries the MQTT v5 user
property `doorline-sig` = `"{edge_id}:{hex HMAC-SHA256(key, topic NUL payload)}"`, where `key` is derived
from the edge's broker password (`signing_key`). Central, given the same accounts file that
`doorline-central broker-config` reads, checks the signature and that the camera in the topic is one of
that edge's; a message that fails is unauthenticated and becomes a dead letter.
"""

from __future__ import annotations

import hashlib
import hmac

SIG_PROPERTY = "doorline-sig"
_CONTEXT = b"doorline/v1 message signing"


def signing_key(password: str) -> bytes:
    """The HMAC key of an edge, derived from its broker password (never the password itself on the wire)."""
    return hmac.new(password.encode("utf-8"), _CONTEXT, hashlib.sha256).digest()


def signature(key: bytes, topic: str, payload: bytes) -> str:
    return hmac.new(key, topic.encode("utf-8") + b"\0" + payload, hashlib.sha256).hexdigest()


def verifies(key: bytes, topic: str, payload: bytes, sig: str) -> bool:
    return hmac.compare_digest(signature(key, topic, payload), sig)


def split(value: str) -> tuple[str, str]:
    """(edge_id, hex signature) of a `doorline-sig` value; ValueError when it is not that shape."""
    edge_id, sep, sig = value.rpartition(":")
    if not sep or not edge_id or len(sig) != 64:
        raise ValueError("malformed signature property")
    return edge_id, sig


class Signer:
    """Signs the messages of one edge (its MQTT username and password)."""

    def __init__(self, edge_id: str, password: str):
        self.edge_id = edge_id
        self._key = signing_key(password)

    def value(self, topic: str, payload: bytes) -> str:
        return f"{self.edge_id}:{signature(self._key, topic, payload)}"
