"""Pending `Outbox` rows (commands for edges) published to their cameras' `cmd` topics, marked sent after
the broker's PUBACK."""

from __future__ import annotations

from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from sqlalchemy.orm import Session, sessionmaker

from central import outbox
from wire import topics

Signer = Callable[[str, str, str, bytes], Properties | None]


def publish_pending(
    session_factory: sessionmaker[Session],
    client_of: Callable[[], mqtt.Client | None],
    owner: str,
    prefix: str,
    signed: Signer,
    pub_codes: dict[int, int],
) -> int:
    """One round: claim up to 50 pending commands for `owner`, publish each (QoS 1) and mark it sent once
    acknowledged, or release it with the reason. `pub_codes` holds the PUBACK reason codes by message id
    (filled by the client's on_publish). Returns how many were sent."""
    sent = 0
    with session_factory() as session:
        for row in outbox.claim(session, owner, limit=50):
            client = client_of()
            if client is None:
                break
            topic = topics.topic(row.site_id, row.camera_id, "cmd", prefix=prefix)
            payload = row.payload.encode("utf-8")
            info = client.publish(topic, payload, qos=1, properties=signed(topic, row.site_id, row.camera_id, payload))
            try:
                info.wait_for_publish(5)
            except (RuntimeError, ValueError) as exc:
                outbox.release(session, row.id, f"publish failed: {exc}")
                continue
            code = pub_codes.pop(info.mid, 0)
            if not info.is_published() or code >= 0x80:
                outbox.release(session, row.id, f"no PUBACK (reason code {code:#x})")
                continue
            outbox.mark_sent(session, row.id)
            sent += 1
    return sent
