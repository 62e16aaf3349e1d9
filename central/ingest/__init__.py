"""Broker → database: every upstream message stored once, in a transaction, before it is acknowledged.

Threads:
- paho's network thread receives messages (manual acks) and puts them on a bounded queue. The client
  announces MQTT v5 `Receive Maximum` = the queue size, so the broker never has more unacknowledged
  messages out to us than fit: when the writer falls behind, the broker holds the rest (backpressure, no
  drops).
- the prepare thread takes batches off the queue, parses and validates them and writes their evidence
  pictures to the content-addressed store (synced once per batch), so that the next batch's CPU and file
  work overlaps the current batch's database round trips. A blob written for a message that is then not
  committed is only an unreferenced file.
- the writer thread takes prepared batches (at most `_READY_BATCHES` wait), handles each message inside a
  SAVEPOINT of one transaction, commits, and only then PUBACKs them. A crash before the commit means redelivery; a crash
  between commit and ack means a duplicate, which `message_id` uniqueness turns into a no-op.
- the outbox thread publishes pending `Outbox` rows (commands for edges) and marks them sent after PUBACK.

An event (or recheck result) that arrives as a `Bundle` with its pictures is stored with them in one
transaction, before the one message is acknowledged. Pictures that travel on their own (too big for the
bundle, or stripped at the edge's spool cap) are stored when they come; until then the event's reference
to each is a row with `stored=False`.

Subscriptions: events, evidence and recheck results through the MQTT v5 shared subscription
`$share/{group}/{prefix}/v1/+/+/{kind}`, so several instances split the load. Status topics are
subscribed to directly (not shared) because a broker never sends retained messages to a shared
subscription (MQTT 5 §4.8.2); status rows are upserts, so every instance applying them is harmless.

Authentication: with `settings.edge_accounts` set, every upstream message must carry the signature of the
edge that owns its camera (`wire.signing`); one without is dead-lettered as unauthenticated, before its
payload is parsed.

Refused messages (not JSON, nested too deep, wrong version, invalid, oversized, hash mismatch, topic/payload
disagreeing on site or camera, wrong message type for the topic, a reused `message_id` with different
content) become `DeadLetter` rows with the reason, and are acknowledged: the consumer keeps running. So does
any exception while validating or storing one message: the batch is redone message by message and the one
that still fails becomes a dead letter ("internal error: ...").

Supervision: the prepare, writer and outbox threads run under a supervisor thread. A worker that dies anyway
(an exception outside the per-message handling, or a BaseException) is reported by `health_problems()` (so
`/healthz` answers 503 and names it) and restarted after `restart_delay_s` (longer if it keeps dying); the
batch it had in hand is taken up again by its successor, and if that batch kills it a second time, its
messages are handled one at a time, each of those that still fails becoming a dead letter. Deaths and
restarts are counted in `/metrics`.
"""

from central.ingest.inbound import Inbound, Rejected
from central.ingest.service import IngestService
from central.ingest.store import DEAD_LETTER_KEEP_BYTES
from central.ingest.validate import SHARED_KINDS

__all__ = ["DEAD_LETTER_KEEP_BYTES", "SHARED_KINDS", "Inbound", "IngestService", "Rejected"]
