"""Message signatures, so that central knows which edge sent a message whatever the broker lets through.

The broker checks an edge's password when it connects, and its ACL limits the topics the edge may publish
on. Central does not rely on that alone: a broker left open to anonymous clients, a bridge from another
broker, or a copied ACL would let anyone publish. So every upstream message carries the MQTT v5 user
property `doorline-sig` = `"{edge_id}:{hex HMAC-SHA256(key, topic NUL payload)}"`, where `key` is derived
from the edge's broker password (`signing_key`). Central, given the same accounts file that
`doorline-central broker-config` reads, checks the signature and that the camera in the topic is one of
that edge's; a message that fails is unauthenticated and becomes a dead letter.

Downstream it is the same the other way round: central signs what it sends to an edge (commands and
receipts) with that edge's key, `"{central username}:{hex HMAC}"`, and an edge with a password acts only on
messages that verify. A receipt makes the edge delete spooled messages, so a forged one would lose data.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

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


def properties(value: str, *, will: bool = False) -> Properties:
    """MQTT v5 publish (or last-will) properties carrying the signature `value`."""
    props = Properties(PacketTypes.WILLMESSAGE if will else PacketTypes.PUBLISH)
    props.UserProperty = (SIG_PROPERTY, value)
    return props


def signature_of(message: Any) -> str | None:
    """The `doorline-sig` value of a received paho message, or None."""
    props = getattr(message, "properties", None)
    return next((v for k, v in getattr(props, "UserProperty", None) or () if k == SIG_PROPERTY), None)


class Signer:
    """Signs the messages of one edge (its MQTT username and password), and checks central's to it."""

    def __init__(self, edge_id: str, password: str):
        self.edge_id = edge_id
        self._key = signing_key(password)

    def value(self, topic: str, payload: bytes) -> str:
        return f"{self.edge_id}:{signature(self._key, topic, payload)}"

    def check(self, topic: str, payload: bytes, value: str | None) -> str | None:
        """Why a message received on `topic` is not central's to this edge, or None when it verifies."""
        if not value:
            return f"no {SIG_PROPERTY} property"
        try:
            _signer, sig = split(value)
        except ValueError as exc:
            return str(exc)
        if not verifies(self._key, topic, payload, sig):
            return "signature does not verify (central signs with another key, or the message was altered)"
        return None
