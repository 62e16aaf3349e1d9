"""Receipts: each camera's edge is told which of its messages are now stored (or dead-lettered for good), so an
edge that waits for receipts can delete them from its spool. Best effort: a lost receipt only means the edge
sends the message again and gets a receipt for the duplicate."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

from central.ingest.inbound import Inbound, Rejected
from central.ingest.validate import SHARED_KINDS
from wire import topics
from wire.schema import ReceiptMessage

_IDS_PER_RECEIPT = 1024


def for_batch(batch: list[Inbound], parsed: list[Any], prefix: str) -> Iterator[ReceiptMessage]:
    """The receipts for a committed batch: one per camera (split every 1,024 ids), for QoS ≥ 1 messages on
    the shared topics under `prefix`."""
    by_camera: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for item, msg in zip(batch, parsed, strict=True):
        mid = getattr(msg.msg if isinstance(msg, Rejected) else msg, "message_id", None)
        if mid is None or item.qos == 0:
            continue
        try:
            t = topics.parse(item.topic)
        except ValueError:
            continue
        if t.kind in SHARED_KINDS and t.prefix == prefix:
            by_camera[(t.site_id, t.camera_id)].append(mid)
    for (site, camera), ids in by_camera.items():
        for i in range(0, len(ids), _IDS_PER_RECEIPT):
            yield ReceiptMessage(site_id=site, camera_id=camera, message_ids=ids[i : i + _IDS_PER_RECEIPT])
