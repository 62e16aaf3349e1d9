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

from __future__ import annotations

import collections
import concurrent.futures
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from central import outbox, workflow
from central.domain import zone_editor
from central.domain.clock import now_utc
from central.edge_keys import EdgeKeys, Unauthenticated
from central.evidence_store import EvidenceStore, EvidenceStoreError
from central.orm.events import DeadLetter, EdgeStatus, Event, EventPhaseRecord, Evidence, RecheckRecord
from central.settings import CentralSettings
from wire import signing, topics
from wire.mqtt import mqtt_client, session_properties
from wire.schema import (
    Bundle,
    EventMessage,
    EvidenceMessage,
    EvidenceRef,
    ReceiptMessage,
    RecheckResult,
    SchemaError,
    StatusMessage,
    decode,
    encode,
    evidence_owner,
    recheck_evidence_owner,
)

log = logging.getLogger("doorline.central.ingest")

DEAD_LETTER_KEEP_BYTES = 64 * 1024
_BLOB_WRITERS = 4  # evidence files written at once by the prepare stage
_READY_BATCHES = 2  # prepared batches waiting for the writer: enough to overlap, few enough to stay fresh
_SUPERVISE_S = 0.25  # how often the supervisor looks at the worker threads
_STABLE_S = 60.0  # a worker alive this long before it dies starts its restart back-off afresh
_CLOCK_TOLERANCE_S = 60.0  # an edge status stamped further ahead of central's clock is from a clock that is off
SHARED_KINDS: tuple[str, ...] = ("event", "evidence", "recheck")
_EXPECTED: dict[str, type] = {
    "event": EventMessage,
    "evidence": EvidenceMessage,
    "recheck": RecheckResult,
    "status": StatusMessage,
}


_ROLES: tuple[str, ...] = ("prepare", "writer", "outbox")  # the supervised worker threads, in stop order


class Rejected(Exception):
    """A message central will not store; `reason` goes into the dead-letter table."""

    def __init__(self, reason: str, msg: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.msg = msg


@dataclass(frozen=True)
class Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received: float
    signature: str | None = None  # the `doorline-sig` user property, when the message had one


@dataclass
class _Prepared:
    """A batch the prepare stage has parsed: per item its message or why it is refused, and the digests of
    the evidence it has already written (and synced) to the store."""

    batch: list[Inbound]
    parsed: list[Any]
    written: set[str]


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class _Rows:
    """The existing rows the handlers look at. Given the batch's messages, fetches them all in a few IN
    queries and then answers from memory (rows added during the batch are recorded here too, so a message
    repeated inside one batch is still a duplicate); without, asks the session per message."""

    def __init__(self, session: Session, batch: list[Any] | None = None):
        self.session = session
        self.prefetched = batch is not None
        self.phases: set[str] = set()
        self.events: dict[str, Event] = {}
        self.evidence_rows: dict[str, Evidence] = {}
        self.evidence_messages: set[str] = set()
        self.rechecks: set[str] = set()
        self.added: dict[str, Any] = {}  # message_id → the event or recheck message stored in this batch
        if batch is not None:
            self._prefetch(batch)

    def _prefetch(self, batch: list[Any]) -> None:
        s = self.session
        batch = [part for m in batch for part in ((m.head, *m.evidence) if isinstance(m, Bundle) else (m,))]
        evs = [m for m in batch if isinstance(m, EventMessage)]
        evd = [m for m in batch if isinstance(m, EvidenceMessage)]
        rcs = [m for m in batch if isinstance(m, RecheckResult)]
        if evs:
            self.phases = set(
                s.scalars(
                    select(EventPhaseRecord.message_id).where(
                        EventPhaseRecord.message_id.in_({m.message_id for m in evs})
                    )
                )
            )
            self.events = {
                e.event_id: e for e in s.scalars(select(Event).where(Event.event_id.in_({m.event_id for m in evs})))
            }
        ids = {m.evidence_id for m in evd} | {r.evidence_id for m in evs + rcs for r in m.evidence}
        if ids:
            self.evidence_rows = {
                e.evidence_id: e for e in s.scalars(select(Evidence).where(Evidence.evidence_id.in_(ids)))
            }
        if evd:
            self.evidence_messages = set(
                s.scalars(select(Evidence.message_id).where(Evidence.message_id.in_({m.message_id for m in evd})))
            )
        if rcs:
            self.rechecks = set(
                s.scalars(
                    select(RecheckRecord.message_id).where(RecheckRecord.message_id.in_({m.message_id for m in rcs}))
                )
            )

    def has_phase(self, message_id: str) -> bool:
        if message_id in self.phases:
            return True
        return not self.prefetched and self.session.get(EventPhaseRecord, message_id) is not None

    def event(self, event_id: str) -> Event | None:
        if event_id in self.events or self.prefetched:
            return self.events.get(event_id)
        return self.session.get(Event, event_id)

    def evidence(self, evidence_id: str) -> Evidence | None:
        if evidence_id in self.evidence_rows or self.prefetched:
            return self.evidence_rows.get(evidence_id)
        return self.session.get(Evidence, evidence_id)

    def has_evidence_message(self, message_id: str) -> bool:
        if message_id in self.evidence_messages:
            return True
        return (
            not self.prefetched
            and self.session.scalar(select(Evidence.evidence_id).where(Evidence.message_id == message_id)) is not None
        )

    def has_recheck(self, message_id: str) -> bool:
        if message_id in self.rechecks:
            return True
        return not self.prefetched and self.session.get(RecheckRecord, message_id) is not None

    def stored_as(self, msg: EventMessage | RecheckResult) -> EventMessage | RecheckResult | None:
        """The message stored earlier under `msg.message_id` (None when its stored text cannot be read back)."""
        if msg.message_id in self.added:
            return self.added[msg.message_id]
        record = EventPhaseRecord if isinstance(msg, EventMessage) else RecheckRecord
        text = self.session.scalar(select(record.payload).where(record.message_id == msg.message_id))
        try:
            return type(msg).model_validate_json(text) if text is not None else None
        except ValueError:
            return None

    def check_same(self, msg: EventMessage | RecheckResult) -> None:
        """`msg` has a message_id already stored: a redelivery must carry the same message. Raises Rejected
        when the id was reused for different content (which would otherwise pass for a duplicate)."""
        before = self.stored_as(msg)
        if before is not None and before.model_dump() != msg.model_dump():
            fields = sorted(k for k, v in msg.model_dump().items() if before.model_dump().get(k) != v)
            raise Rejected(
                f"message_id {msg.message_id} reused with different content (differs in {', '.join(fields)[:200]}); "
                "the message stored first under it is kept",
                msg,
            )

    def check_same_evidence(self, msg: EvidenceMessage, owner: Any) -> None:
        """The same for an evidence message whose message_id is stored: same picture, same event. `owner` is
        what is refused (the bundle that carries it, or the message itself)."""
        row = next((r for r in self.evidence_rows.values() if r.message_id == msg.message_id), None)
        if row is None:
            row = self.session.scalar(select(Evidence).where(Evidence.message_id == msg.message_id))
        if row is not None and (row.evidence_id, row.sha256, row.event_id) != (
            msg.evidence_id,
            msg.sha256,
            msg.event_id,
        ):
            raise Rejected(
                f"message_id {msg.message_id} reused with different content (stored: evidence {row.evidence_id} "
                f"of {row.event_id}, sha256 {row.sha256[:16]}…); the message stored first under it is kept",
                owner,
            )


class IngestService:
    def __init__(
        self,
        settings: CentralSettings,
        session_factory: sessionmaker[Session],
        store: EvidenceStore,
        *,
        client_id: str | None = None,
        receive_maximum: int = 256,
        batch_size: int = 64,
        outbox_interval_s: float = 0.5,
        use_workflow: bool = True,
        restart_delay_s: float = 2.0,
    ):
        self.settings = settings
        self.mqtt = settings.mqtt
        self.session_factory = session_factory
        self.store = store
        self.client_id = client_id or settings.ingest_client_id or f"doorline-central-{socket.gethostname()}"
        self.receive_maximum = receive_maximum
        self.batch_size = batch_size
        self.outbox_interval_s = outbox_interval_s
        self._queue: queue.Queue[Inbound] = queue.Queue(maxsize=receive_maximum)
        self._ready: queue.Queue[_Prepared | None] = queue.Queue(maxsize=_READY_BATCHES)
        self._written: set[str] = set()  # the writer's current batch: evidence the prepare stage stored
        self._wrote_here = False  # the writer itself wrote evidence in this attempt: it must sync it
        self._blob_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._client: mqtt.Client | None = None
        self._generation = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self._outbox_wake = threading.Event()
        self._threads: list[threading.Thread] = []
        # supervision: the worker threads by role, why each one that is down died, what each had in hand
        self.restart_delay_s = restart_delay_s
        self._workers: dict[str, tuple[threading.Thread, float]] = {}  # role → (thread, started at)
        self._deaths: dict[str, str] = {}  # role → why its thread ended (set by the thread itself)
        self._down: dict[str, tuple[float, str]] = {}  # role → (restart due at, why) while it is down
        self._death_streak: collections.Counter[str] = collections.Counter()
        self._supervisor: threading.Thread | None = None
        self._prepare_in_hand: list[Inbound] | None = None
        self._prepare_kills = 0  # deaths of the prepare thread on the batch in hand
        self._write_in_hand: _Prepared | None = None
        self._write_kills = 0
        # id() of the items of the writer's current batch already acknowledged (None outside the writer)
        self._acked: set[int] | None = None
        self._pub_codes: dict[int, int] = {}
        self._counts: collections.Counter[str] = collections.Counter()
        self._latency = [0.0, 0]  # seconds from the edge making a stored message (sent_at) to its commit; count
        self._unacked = 0
        self._lock = threading.Lock()
        self._last_error = ""
        self._workflow: Any = None
        self.use_workflow = use_workflow
        # a bad accounts file stops central here, with the reason, not at the first message
        self.edge_keys = EdgeKeys.load(settings.edge_accounts) if settings.edge_accounts else None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._client is not None:
            raise RuntimeError("ingest already started")
        self._stopping.clear()  # a stopped service may be started again
        self._workflow = workflow if self.use_workflow else None
        self._blob_pool = concurrent.futures.ThreadPoolExecutor(_BLOB_WRITERS, thread_name_prefix="ingest-blob")
        client = mqtt_client(self.mqtt, self.client_id, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        self._client = client
        client.connect_async(
            self.mqtt.host,
            self.mqtt.port,
            keepalive=self.mqtt.keepalive_s,
            clean_start=False,
            properties=session_properties(receive_maximum=self.receive_maximum),
        )
        client.loop_start()
        self._deaths.clear()
        self._down.clear()
        # what a previous run had in hand is not acked; the broker sends it again on this connection
        self._prepare_in_hand = self._write_in_hand = None
        for role in _ROLES:
            self._spawn(role)
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"ingest-supervisor-{self.client_id}", daemon=True
        )
        self._supervisor.start()
        from central import metrics

        metrics.register(self)

    def stop(self, timeout: float = 10, *, retire: bool = False) -> None:
        """Stop taking messages, finish the batch in hand, disconnect. Unacked messages stay in the broker
        for this client id's next start.

        `retire=True` removes this instance from the shared subscription for good: unsubscribe, store what
        the broker already handed over, then end the MQTT session (session expiry 0). Without it, Mosquitto
        keeps queueing this client id's share of the messages until it reconnects."""
        if self._client is None:
            return
        from central import metrics

        deadline = time.monotonic() + timeout
        if retire and self._connected.is_set():
            self._drain_for_retirement(deadline)
        metrics.unregister(self)
        self._stopping.set()
        self._outbox_wake.set()
        if self._supervisor is not None:
            self._supervisor.join(max(0.1, deadline - time.monotonic()))
            self._supervisor = None
        for role in _ROLES:  # in this order: what the prepare stage still has goes to the writer
            entry = self._workers.get(role)
            if entry is not None:
                entry[0].join(max(0.1, deadline - time.monotonic()))
        if retire:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
            self._client.disconnect(properties=props)
        else:
            self._client.disconnect()
        self._client.loop_stop()
        self._client = None
        self._threads.clear()
        self._workers.clear()
        if self._blob_pool is not None:
            self._blob_pool.shutdown(wait=True)
            self._blob_pool = None

    def _drain_for_retirement(self, deadline: float) -> None:
        assert self._client is not None
        prefix = self.mqtt.prefix
        filters = [topics.shared(topics.upstream_filter(prefix, k), self.settings.ingest_group) for k in SHARED_KINDS]
        self._client.unsubscribe([*filters, topics.upstream_filter(prefix, "status")])
        quiet_since = time.monotonic()
        last = self._counts["received"]
        while time.monotonic() < deadline:
            with self._lock:
                busy = self._unacked > 0
            if self._counts["received"] != last or busy or self._queue.qsize():
                last = self._counts["received"]
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 1.0:
                return  # nothing new for a second and everything acked: the session is empty
            time.sleep(0.05)
        log.warning("ingest %s: retirement drain timed out; unacked messages wait in its session", self.client_id)

    def wait_ready(self, timeout: float = 10) -> bool:
        """True once connected and subscribed."""
        return self._subscribed.wait(timeout)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            unacked = self._unacked
        return {
            "client_id": self.client_id,
            "connected": self._connected.is_set(),
            "queue_depth": self._queue.qsize(),
            "queue_capacity": self.receive_maximum,
            "unacked": unacked,
            "received": self._counts["received"],
            "stored": self._counts["stored"],
            "latency_s_sum": round(self._latency[0], 3),
            "latency_count": self._latency[1],
            "duplicates": self._counts["duplicate"],
            "dead_letters": self._counts["dead"],
            "statuses": self._counts["status"],
            "db_errors": self._counts["db_error"],
            "commands_sent": self._counts["command_sent"],
            "internal_errors": self._counts["internal_error"],
            "thread_deaths": self._counts["thread_death"],
            "thread_restarts": self._counts["thread_restart"],
            "last_error": self._last_error,
        }

    def health_problems(self) -> list[str]:
        """Why this ingest cannot do its work right now (a worker thread down, waiting for its restart), in
        one line each; empty when all is well. `/healthz` answers 503 with these."""
        if self._client is None or self._stopping.is_set():
            return []
        problems = []
        for role in _ROLES:
            entry = self._workers.get(role)
            if role in self._down:
                problems.append(f"ingest {self.client_id}: thread {role} died ({self._down[role][1]}); restarting")
            elif entry is not None and not entry[0].is_alive():  # the supervisor has not seen it yet
                problems.append(f"ingest {self.client_id}: thread {role} died ({self._deaths.get(role, 'ended')})")
        if self._supervisor is None or not self._supervisor.is_alive():
            problems.append(f"ingest {self.client_id}: the supervisor thread is not running")
        network = getattr(self._client, "_thread", None)  # paho's loop_start() thread
        if network is not None and not network.is_alive():
            problems.append(f"ingest {self.client_id}: the MQTT network thread is not running")
        return problems

    # ------------------------------------------------------------------ supervision

    def _spawn(self, role: str) -> None:
        target = {"prepare": self._prepare_loop, "writer": self._write_loop, "outbox": self._outbox_loop}[role]

        def run() -> None:
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 -- recorded here; the supervisor restarts the thread
                self._deaths[role] = f"{type(exc).__name__}: {exc}"[:300]
                log.critical("ingest %s: thread %s died", self.client_id, role, exc_info=True)
                return
            if not self._stopping.is_set():
                self._deaths[role] = "returned while the service runs"

        self._deaths.pop(role, None)
        t = threading.Thread(target=run, name=f"ingest-{role}-{self.client_id}", daemon=True)
        self._workers[role] = (t, time.monotonic())
        self._threads = [w for w, _ in self._workers.values()]
        t.start()

    def _supervise(self) -> None:
        """Restart worker threads that died, after a delay that doubles while they keep dying (at most 60 s);
        while one is down, `health_problems()` names it."""
        while not self._stopping.wait(_SUPERVISE_S):
            try:
                self._supervise_once()
            except Exception:  # noqa: BLE001 -- the supervisor itself must not die of a bad round
                log.exception("ingest %s: supervisor round failed", self.client_id)

    def _supervise_once(self) -> None:
        now = time.monotonic()
        for role in _ROLES:
            thread, started = self._workers[role]
            if thread.is_alive() or self._stopping.is_set():
                continue
            if role not in self._down:
                why = self._deaths.get(role, "ended")
                if now - started > _STABLE_S:
                    self._death_streak[role] = 0
                self._death_streak[role] += 1
                delay = min(60.0, self.restart_delay_s * 2 ** (self._death_streak[role] - 1))
                self._down[role] = (now + delay, why)
                self._counts["thread_death"] += 1
                if role == "prepare" and self._prepare_in_hand is not None:
                    self._prepare_kills += 1
                if role == "writer" and self._write_in_hand is not None:
                    self._write_kills += 1
                self._last_error = f"thread {role} died: {why}"
                log.error("ingest %s: thread %s died (%s); restarting it in %.1f s", self.client_id, role, why, delay)
            elif now >= self._down[role][0]:
                del self._down[role]
                self._counts["thread_restart"] += 1
                log.warning("ingest %s: restarting thread %s", self.client_id, role)
                self._spawn(role)

    # ------------------------------------------------------------------ paho callbacks

    def _on_connect(self, client: mqtt.Client, _u, flags, reason_code, _p) -> None:
        if reason_code.is_failure:
            self._last_error = f"connect refused: {reason_code}"
            log.error("broker refused ingest %s: %s", self.client_id, reason_code)
            return
        with self._lock:
            self._generation += 1
            self._unacked = 0
        prefix = self.mqtt.prefix
        subs = [(topics.shared(topics.upstream_filter(prefix, k), self.settings.ingest_group), 1) for k in SHARED_KINDS]
        subs.append((topics.upstream_filter(prefix, "status"), 1))
        client.subscribe(subs)
        self._connected.set()
        self._outbox_wake.set()
        log.info("ingest %s connected (session present: %s)", self.client_id, flags.session_present)

    def _on_subscribe(self, _c, _u, _mid, reason_codes, _p) -> None:
        bad = [str(rc) for rc in reason_codes if rc.is_failure]
        if bad:
            self._last_error = f"subscription refused: {bad}"
            log.error("ingest %s: broker refused subscriptions: %s", self.client_id, bad)
        else:
            self._subscribed.set()

    def _on_disconnect(self, _c, _u, _f, reason_code, _p) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if not self._stopping.is_set():
            self._last_error = f"disconnected: {reason_code}"
            log.warning("ingest %s lost the broker: %s", self.client_id, reason_code)

    def _on_message(self, _c, _u, message: mqtt.MQTTMessage) -> None:
        try:
            sig = signing.signature_of(message)
            topic = message.topic
        except Exception as exc:  # noqa: BLE001 -- e.g. a topic that is not UTF-8: the writer dead-letters it
            log.error("ingest %s: unreadable message envelope: %s", self.client_id, exc)
            sig, topic = None, f"(unreadable topic: {type(exc).__name__})"
        item = Inbound(
            topic,
            bytes(message.payload),
            message.mid,
            message.qos,
            self._generation,
            time.monotonic(),
            sig,
        )
        with self._lock:
            self._unacked += 1
        self._counts["received"] += 1
        # Receive Maximum keeps the broker within the queue size, so this does not block in practice; if it
        # ever does, the network thread waits, which is still backpressure, never a drop.
        self._queue.put(item)

    def _on_publish(self, _c, _u, mid: int, reason_code, _p) -> None:
        self._pub_codes[mid] = int(reason_code.value)

    # ------------------------------------------------------------------ writer

    def _prepare_loop(self) -> None:
        while True:
            batch = self._prepare_in_hand  # what a predecessor that died was working on
            if batch is None:
                try:
                    first = self._queue.get(timeout=0.2)
                except queue.Empty:
                    if self._stopping.is_set():
                        self._ready.put(None)  # tells the writer that nothing more comes
                        return
                    continue
                batch = [first]
                while len(batch) < self.batch_size:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                self._prepare_in_hand, self._prepare_kills = batch, 0
            if self._prepare_kills >= 2:
                prepared = self._prepare_isolated(batch)
            else:
                try:
                    prepared = self._prepare(batch)
                except Exception:  # noqa: BLE001 -- not a message's fault: validate alone, the writer stores
                    log.exception("ingest %s: preparing a batch failed; the writer stores its evidence", self.client_id)
                    prepared = _Prepared(batch, [self._validated(item) for item in batch], set())
            self._ready.put(prepared)
            self._prepare_in_hand = None

    def _prepare_isolated(self, batch: list[Inbound]) -> _Prepared:
        """A batch that killed the prepare thread twice: each message validated alone, and one whose
        validation still raises anything at all is refused."""
        parsed: list[Any] = []
        for item in batch:
            try:
                parsed.append(self._validated(item))
            except BaseException as exc:  # noqa: BLE001 -- it killed the thread twice: refuse it
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._counts["internal_error"] += 1
                parsed.append(Rejected(f"internal error: the ingest prepare thread died on it: {type(exc).__name__}"))
        return _Prepared(batch, parsed, set())

    def _prepare(self, batch: list[Inbound]) -> _Prepared:
        parsed = [self._validated(item) for item in batch]
        pictures = {
            e.sha256: e.data()
            for m in parsed
            for e in (m.evidence if isinstance(m, Bundle) else (m,))
            if isinstance(e, EvidenceMessage)
        }
        # file writes wait on the disk, not the CPU (and release the GIL): several at once
        mapper = self._blob_pool.map if self._blob_pool is not None else map
        results = list(mapper(self._try_put, pictures.values()))
        written = {sha for sha, ok in zip(pictures, results, strict=True) if ok}
        if written:
            try:
                self._flush_evidence()
            except EvidenceStoreError:
                written.clear()
        return _Prepared(batch, parsed, written)

    def _try_put(self, data: bytes) -> bool:
        try:
            self._put_evidence(data)
        except EvidenceStoreError:
            return False  # the writer tries again inside its retry loop; nothing is acked before that works
        return True

    def _write_loop(self) -> None:
        while True:
            prepared = self._write_in_hand  # what a predecessor that died was working on
            if prepared is None:
                try:
                    prepared = self._ready.get(timeout=0.5)
                except queue.Empty:
                    prep = self._workers.get("prepare")
                    if self._stopping.is_set() and (prep is None or not prep[0].is_alive()):
                        return  # the prepare thread died before it could say so
                    continue
                if prepared is None:
                    return
                self._write_in_hand, self._write_kills = prepared, 0
                self._acked = set()  # its items live as long as the batch: their id()s stay unique
            if self._write_kills >= 2:
                self._commit_isolated(prepared, last_resort=True)
            else:
                try:
                    self._commit_batch(prepared.batch, prepared.parsed, prepared.written)
                except Exception:  # noqa: BLE001 -- find the message that causes it; the others are stored
                    log.exception("ingest %s: a batch failed outside its messages; redoing them one at a time",
                                  self.client_id)
                    self._commit_isolated(prepared)
            self._write_in_hand, self._acked = None, None

    def _commit_isolated(self, prepared: _Prepared, *, last_resort: bool = False) -> None:
        """Each message of `prepared` in a transaction of its own; one that still raises becomes a dead letter.
        `last_resort` (the batch killed the writer twice) catches even what is not an Exception."""
        catch = BaseException if last_resort else Exception
        for item, parsed in zip(prepared.batch, prepared.parsed, strict=True):
            if self._acked is not None and id(item) in self._acked:
                continue
            try:
                self._commit_batch([item], [parsed], prepared.written)
            except catch as exc:  # noqa: BLE001
                if isinstance(exc, KeyboardInterrupt):
                    raise
                log.error("ingest %s: message from %s cannot be stored: %r", self.client_id, item.topic, exc)
                self._counts["internal_error"] += 1
                msg = parsed.msg if isinstance(parsed, Rejected) else parsed
                where = "the ingest writer thread died on it" if last_resort else "storing it failed"
                reason = f"internal error: {where}: {type(exc).__name__}: {exc}"
                self._commit_batch([item], [Rejected(reason[:1000], msg)], set())

    def _commit_batch(
        self, batch: list[Inbound], parsed: list[Any] | None = None, written: set[str] | None = None
    ) -> None:
        if parsed is None:
            parsed = [self._validated(item) for item in batch]
        self._written = written or set()
        self._wrote_here = False
        delay = 0.2
        fast = True
        while True:
            try:
                with self.session_factory() as session:
                    if fast:
                        outcomes = self._run_batch(session, batch, parsed)
                    else:
                        outcomes = self._run_one_by_one(session, batch, parsed)
                    stored_ids = [mid for outcome, mid in outcomes if outcome == "stored" and mid]
                    if stored_ids:  # stamp "committed" as late as possible: latency is measured to it
                        session.execute(
                            update(EventPhaseRecord)
                            .where(EventPhaseRecord.message_id.in_(stored_ids))
                            .values(received_at=now_utc())
                        )
                    session.commit()
                break
            except IntegrityError as exc:
                if fast:
                    # another instance stored one of these rows meanwhile: redo the batch message by message
                    fast = False
                    continue
                self._retry_later(exc, delay)
            except (OperationalError, DBAPIError, EvidenceStoreError) as exc:
                # the database (or evidence store) is down or locked: keep the messages unacked and retry;
                # the broker holds the rest
                self._retry_later(exc, delay)
            except Exception:
                if not fast:
                    raise  # cannot happen: the one-by-one path dead-letters whatever a message raises
                log.exception("batch ingest failed; redoing it message by message")
                fast = False
                continue
            if self._stopping.is_set():
                return
            delay = min(delay * 2, 5.0)
        committed = time.time()
        for msg, (outcome, _mid) in zip(parsed, outcomes, strict=True):
            sent_at = getattr(getattr(msg, "head", msg), "sent_at", None)  # a bundle: its event's
            if outcome == "stored" and isinstance(sent_at, float):
                self._latency[0] += max(0.0, committed - sent_at)
                self._latency[1] += 1
        for item, (outcome, _mid) in zip(batch, outcomes, strict=True):
            self._counts[outcome] += 1
            self._ack(item)
        try:
            self._send_receipts(batch, parsed)
        except Exception:  # noqa: BLE001 -- receipts are best effort; the messages are stored and acked
            log.exception("ingest %s: sending receipts failed", self.client_id)
        if self._workflow is not None and any(o == "stored" for o, _ in outcomes):
            self._outbox_wake.set()  # the workflow may have queued commands

    def _send_receipts(self, batch: list[Inbound], parsed: list[Any]) -> None:
        """Tell each camera's edge which of its messages are now stored (or dead-lettered for good), so an
        edge that waits for receipts can delete them from its spool. Best effort: a lost receipt only means
        the edge sends the message again and gets a receipt for the duplicate."""
        client = self._client
        if client is None:
            return
        by_camera: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        for item, msg in zip(batch, parsed, strict=True):
            mid = getattr(msg.msg if isinstance(msg, Rejected) else msg, "message_id", None)
            if mid is None or item.qos == 0:
                continue
            try:
                t = topics.parse(item.topic)
            except ValueError:
                continue
            if t.kind in SHARED_KINDS and t.prefix == self.mqtt.prefix:
                by_camera[(t.site_id, t.camera_id)].append(mid)
        for (site, camera), ids in by_camera.items():
            for i in range(0, len(ids), 1024):
                receipt = ReceiptMessage(site_id=site, camera_id=camera, message_ids=ids[i : i + 1024])
                topic, payload = topics.topic(site, camera, "receipt", self.mqtt.prefix), encode(receipt)
                client.publish(topic, payload, qos=1, properties=self._signed(topic, site, camera, payload))
        self._counts["receipts"] += len(by_camera)

    def _signed(self, topic: str, site_id: str, camera_id: str, payload: bytes) -> Properties | None:
        """With the accounts file, what central sends to a camera carries the signature of its edge's key."""
        if self.edge_keys is None:
            return None
        value = self.edge_keys.sign(topic, site_id, camera_id, payload)
        return None if value is None else signing.properties(value)

    def _retry_later(self, exc: Exception, delay: float) -> None:
        self._counts["db_error"] += 1
        self._last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        log.error("ingest %s: commit failed, retrying in %.1f s: %s", self.client_id, delay, self._last_error)
        if not self._stopping.is_set():
            time.sleep(delay)

    def _run_batch(self, session: Session, batch: list[Inbound], parsed: list[Any]) -> list[tuple[str, str | None]]:
        """The fast path: with every message validated, fetch the existing rows for the whole batch in a few
        queries, add the new rows, flush once, then run the workflow per stored message (each in a
        savepoint)."""
        rows = _Rows(session, [m for m in parsed if not isinstance(m, Rejected)])
        outcomes: list[tuple[str, str | None]] = []
        deferred: list[tuple[str, Any, Inbound]] = []
        for item, msg in zip(batch, parsed, strict=True):
            if isinstance(msg, Rejected):
                self._dead_letter(session, item, msg.reason, msg.msg, savepoint=False)
                outcomes.append(("dead", None))
                continue
            try:
                outcome = self._apply(session, msg, item, rows, deferred)
            except Rejected as exc:
                self._dead_letter(session, item, exc.reason, exc.msg, savepoint=False)
                outcomes.append(("dead", None))
                continue
            outcomes.append((outcome, msg.message_id))
        self._flush_own_evidence()
        session.flush()
        for name, msg, item in deferred:
            self._call_workflow(session, name, msg, item)
        return outcomes

    def _run_one_by_one(
        self, session: Session, batch: list[Inbound], parsed: list[Any]
    ) -> list[tuple[str, str | None]]:
        out = [self._handle(session, item, msg) for item, msg in zip(batch, parsed, strict=True)]
        self._flush_own_evidence()
        return out

    def _flush_own_evidence(self) -> None:
        """The writer's sync: only needed when it wrote evidence itself (the prepare stage syncs its own)."""
        if self._wrote_here:
            self._flush_evidence()
            self._wrote_here = False

    def _flush_evidence(self) -> None:
        flush = getattr(self.store, "flush", None)
        if flush is not None:
            flush()  # make the batch's evidence files durable before the rows that name them commit

    def _ack(self, item: Inbound) -> None:
        if self._acked is not None:
            if id(item) in self._acked:
                return  # a batch redone after a failure: never ack a packet id twice (it may be reused by now)
            self._acked.add(id(item))
        with self._lock:
            current = item.generation == self._generation
            if current:
                self._unacked = max(0, self._unacked - 1)
        # After a reconnect the broker redelivers what was unacked; acking an old connection's packet id
        # could ack a different message, so such items are simply left to their redelivered copy.
        if current and self._client is not None and item.qos > 0:
            self._client.ack(item.mid, item.qos)

    def _handle(self, session: Session, item: Inbound, parsed: Any) -> tuple[str, str | None]:
        """The careful path: one message (or the reason it is refused) inside its own savepoint;
        (outcome, message_id)."""
        for attempt in range(3):
            msg = None
            try:
                with session.begin_nested():
                    if isinstance(parsed, Rejected):
                        raise parsed
                    msg = parsed
                    deferred: list[tuple[str, Any, Inbound]] = []
                    outcome = self._apply(session, msg, item, _Rows(session), deferred)
                    session.flush()
                    for name, m, it in deferred:
                        self._call_workflow(session, name, m, it)
                    return outcome, msg.message_id
            except Rejected as exc:
                self._dead_letter(session, item, exc.reason, exc.msg)
                return "dead", None
            except IntegrityError as exc:
                # another instance stored the same row between our check and our insert: look again (the
                # next attempt finds it and reports a duplicate). Three failures in a row are not a race.
                if attempt == 2:
                    reason = f"integrity error after 3 attempts: {str(exc).splitlines()[0]}"[:1000]
                    self._dead_letter(session, item, reason, msg)
                    return "dead", None
            except (OperationalError, DBAPIError, EvidenceStoreError):
                raise  # infrastructure: the whole batch is retried, nothing acked
            except Exception as exc:
                # a bug must not stop the consumer: keep the message as a dead letter for replay
                log.exception("ingest failed on a message from %s", item.topic)
                self._dead_letter(session, item, f"internal error: {type(exc).__name__}: {exc}"[:1000], msg)
                return "dead", None
        raise AssertionError("unreachable")

    def _validated(self, item: Inbound) -> Any:
        """The message, or the Rejected that says why not."""
        try:
            return self._validate(item)
        except Rejected as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 -- whatever a payload makes the checks raise, it is refused
            log.exception("ingest %s: validating a message from %s raised", self.client_id, item.topic)
            self._counts["internal_error"] += 1
            return Rejected(f"internal error while validating: {type(exc).__name__}: {exc}"[:1000])

    def _validate(self, item: Inbound) -> Any:
        try:
            t = topics.parse(item.topic)
        except ValueError as exc:
            raise Rejected(f"unknown topic: {exc}") from None
        if t.prefix != self.mqtt.prefix:
            raise Rejected(f"topic prefix {t.prefix!r} is not {self.mqtt.prefix!r}")
        expected = _EXPECTED.get(t.kind)
        if expected is None:
            raise Rejected(f"central does not consume {t.kind!r} topics")
        signer = None
        if self.edge_keys is not None:
            try:
                signer = self.edge_keys.check(item.topic, t.site_id, t.camera_id, item.payload, item.signature)
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

    def _apply(
        self, session: Session, msg: Any, item: Inbound, rows: _Rows, deferred: list[tuple[str, Any, Inbound]]
    ) -> str:
        """Check first, then add rows (a Rejected leaves the session untouched). Workflow calls are deferred
        until the rows are flushed."""
        if isinstance(msg, Bundle):
            return self._store_bundle(session, msg, item, rows, deferred)
        if isinstance(msg, EventMessage):
            return self._store_event(session, msg, item, rows, deferred)
        if isinstance(msg, EvidenceMessage):
            return self._store_evidence(session, msg, rows)
        if isinstance(msg, RecheckResult):
            return self._store_recheck(session, msg, item, rows, deferred)
        return self._apply_status(session, msg)

    # ------------------------------------------------------------------ per message type

    @staticmethod
    def _check_refs(rows: _Rows, refs: list[EvidenceRef], owner: str, msg: Any) -> list[EvidenceRef]:
        """Evidence named by an event: returns the refs that need a row (bytes may come later); raises
        Rejected when a ref disagrees with the row the evidence message already made."""
        missing = []
        for ref in refs:
            ev = rows.evidence(ref.evidence_id)
            if ev is None:
                missing.append(ref)
            elif ev.sha256 != ref.sha256:
                raise Rejected(
                    f"evidence {ref.evidence_id}: referenced sha256 {ref.sha256[:16]}… differs from "
                    f"the stored {ev.sha256[:16]}…",
                    msg,
                )
            elif ev.event_id != owner:
                raise Rejected(f"evidence {ref.evidence_id} belongs to {ev.event_id}, not {owner}", msg)
        return missing

    @staticmethod
    def _add_refs(session: Session, rows: _Rows, refs: list[EvidenceRef], owner: str, msg: Any) -> None:
        for ref in refs:
            row = Evidence(
                evidence_id=ref.evidence_id,
                sha256=ref.sha256,
                event_id=owner,
                kind=ref.kind,
                size=ref.size,
                stored=False,
                site_id=msg.site_id,
                camera_id=msg.camera_id,
            )
            session.add(row)
            rows.evidence_rows[ref.evidence_id] = row

    def _store_event(
        self,
        session: Session,
        msg: EventMessage,
        item: Inbound,
        rows: _Rows,
        deferred: list[tuple[str, Any, Inbound]],
        text: str | None = None,
    ) -> str:
        if rows.has_phase(msg.message_id):
            rows.check_same(msg)
            return "duplicate"
        ev = self._check_event(rows, msg)
        missing = self._check_refs(rows, msg.evidence, msg.event_id, msg)
        self._add_refs(session, rows, missing, msg.event_id, msg)
        ts = _dt(msg.ts)
        if ev is None:
            ev = Event(
                event_id=msg.event_id,
                site_id=msg.site_id,
                camera_id=msg.camera_id,
                zone_id=msg.zone_id,
                shop_id=msg.shop_id,
                violation=msg.violation,
                phase=msg.phase,
                last_seq=msg.seq,
                first_ts=ts,
                last_ts=ts,
                score=msg.score,
                lat=msg.geo.lat if msg.geo else None,
                lon=msg.geo.lon if msg.geo else None,
                source_kind=msg.source_kind,
                phase_count=1,
            )
            session.add(ev)
            rows.events[msg.event_id] = ev
        else:
            ev.first_ts = min(_aware(ev.first_ts), ts)
            ev.last_ts = max(_aware(ev.last_ts), ts)
            if msg.seq >= ev.last_seq:
                ev.phase, ev.last_seq = msg.phase, msg.seq
            ev.score = max(ev.score, msg.score)
            ev.phase_count += 1
            ev.updated_at = now_utc()
        session.add(
            EventPhaseRecord(
                message_id=msg.message_id,
                event_id=msg.event_id,
                seq=msg.seq,
                phase=msg.phase,
                ts=ts,
                sent_at=msg.sent_at,
                payload=text if text is not None else item.payload.decode("utf-8"),
            )
        )
        rows.phases.add(msg.message_id)
        rows.added[msg.message_id] = msg
        deferred.append(("handle_event", msg, item))
        return "stored"

    @staticmethod
    def _check_event(rows: _Rows, msg: EventMessage) -> Event | None:
        """The event's row, if any; raises Rejected when it belongs to another camera or violation."""
        ev = rows.event(msg.event_id)
        if ev is not None and (ev.site_id, ev.camera_id, ev.violation) != (
            msg.site_id,
            msg.camera_id,
            msg.violation,
        ):
            raise Rejected(f"event {msg.event_id} already belongs to {ev.site_id}/{ev.camera_id} ({ev.violation})", msg)
        return ev

    @staticmethod
    def _check_evidence(rows: _Rows, msg: EvidenceMessage, owner: Any) -> bool:
        """True when the picture still needs storing; raises Rejected when it disagrees with the row its event
        (or an earlier copy) made."""
        if rows.has_evidence_message(msg.message_id):
            rows.check_same_evidence(msg, owner)
            return False
        ev = rows.evidence(msg.evidence_id)
        if ev is None:
            return True
        if ev.sha256 != msg.sha256:
            raise Rejected(
                f"evidence {msg.evidence_id}: sha256 {msg.sha256[:16]}… does not match the "
                f"{ev.sha256[:16]}… its event referenced",
                owner,
            )
        if ev.event_id != msg.event_id:
            raise Rejected(f"evidence {msg.evidence_id} belongs to {ev.event_id}, not {msg.event_id}", owner)
        return not ev.stored

    def _store_bundle(
        self, session: Session, bundle: Bundle, item: Inbound, rows: _Rows, deferred: list[tuple[str, Any, Inbound]]
    ) -> str:
        """The head and its attached pictures: every check first (a Rejected leaves the session untouched),
        then the rows, all in the caller's transaction."""
        head = bundle.head
        if isinstance(head, EventMessage):
            if rows.has_phase(head.message_id):
                rows.check_same(head)
                return "duplicate"
            self._check_event(rows, head)
        elif rows.has_recheck(head.message_id):
            rows.check_same(head)
            return "duplicate"
        attached = {e.evidence_id for e in bundle.evidence}
        apart = [r for r in head.evidence if r.evidence_id not in attached]
        self._check_refs(rows, apart, evidence_owner(head), bundle)
        fresh = [e for e in bundle.evidence if self._check_evidence(rows, e, bundle)]
        for ev in fresh:
            self._add_evidence(session, ev, rows)
        text = head.model_dump_json()
        if isinstance(head, EventMessage):
            return self._store_event(session, head, item, rows, deferred, text=text)
        return self._store_recheck(session, head, item, rows, deferred, text=text)

    def _store_evidence(self, session: Session, msg: EvidenceMessage, rows: _Rows) -> str:
        if not self._check_evidence(rows, msg, msg):
            return "duplicate"
        self._add_evidence(session, msg, rows)
        return "stored"

    def _add_evidence(self, session: Session, msg: EvidenceMessage, rows: _Rows) -> None:
        ev = rows.evidence(msg.evidence_id)
        data = msg.data()
        # content-addressed and atomic; durable once the batch's flush() runs, before the commit (the prepare
        # stage has usually written and synced it already). A rolled-back transaction leaves an unreferenced
        # blob behind, nothing worse.
        if msg.sha256 not in self._written:
            self._wrote_here = True
            self._put_evidence(data)
        if ev is None:
            ev = Evidence(
                evidence_id=msg.evidence_id,
                sha256=msg.sha256,
                event_id=msg.event_id,
                kind=msg.kind,
                site_id=msg.site_id,
                camera_id=msg.camera_id,
            )
            session.add(ev)
            rows.evidence_rows[msg.evidence_id] = ev
        ev.size, ev.width, ev.height, ev.kind = len(data), msg.width, msg.height, msg.kind
        ev.stored, ev.message_id, ev.stored_at = True, msg.message_id, now_utc()
        rows.evidence_messages.add(msg.message_id)

    def _put_evidence(self, data: bytes) -> None:
        if isinstance(self.store, EvidenceStore):
            self.store.put(data, durable=False)
        else:
            self.store.put(data)  # a duck-typed store without deferred durability

    def _store_recheck(
        self,
        session: Session,
        msg: RecheckResult,
        item: Inbound,
        rows: _Rows,
        deferred: list[tuple[str, Any, Inbound]],
        text: str | None = None,
    ) -> str:
        if rows.has_recheck(msg.message_id):
            rows.check_same(msg)
            return "duplicate"
        owner = recheck_evidence_owner(msg.command_id)
        missing = self._check_refs(rows, msg.evidence, owner, msg)
        self._add_refs(session, rows, missing, owner, msg)
        session.add(
            RecheckRecord(
                message_id=msg.message_id,
                command_id=msg.command_id,
                case_id=msg.case_id,
                site_id=msg.site_id,
                camera_id=msg.camera_id,
                zone_id=msg.zone_id,
                result=msg.result,
                ts=_dt(msg.ts),
                payload=text if text is not None else item.payload.decode("utf-8"),
            )
        )
        rows.rechecks.add(msg.message_id)
        rows.added[msg.message_id] = msg
        deferred.append(("handle_recheck", msg, item))
        return "stored"

    def _apply_status(self, session: Session, msg: StatusMessage) -> str:
        now = now_utc()
        if msg.state == "offline":
            # the last will names one camera; the whole edge is gone
            session.execute(
                update(EdgeStatus)
                .where(EdgeStatus.edge_id == msg.edge_id, EdgeStatus.site_id == msg.site_id)
                .values(state="offline", detail=msg.detail, updated_at=now)
            )
        row = session.get(EdgeStatus, (msg.site_id, msg.camera_id))
        credible = True
        if row is None:
            row = EdgeStatus(site_id=msg.site_id, camera_id=msg.camera_id)
            session.add(row)
        else:
            # a stored time in central's future came from an edge clock that was ahead: it orders nothing (else
            # every status after the clock is put right would count as older until real time caught up)
            credible = (row.sent_at or 0.0) <= time.time() + _CLOCK_TOLERANCE_S
            if credible and msg.state != "offline" and msg.sent_at < row.sent_at:
                return "status"  # an older status overtaken by a newer one
        row.edge_id, row.state, row.source_state, row.fps = msg.edge_id, msg.state, msg.source_state, msg.fps
        row.spool_depth, row.spool_bytes, row.detail = msg.spool_depth, msg.spool_bytes, msg.detail
        row.sent_at = max(msg.sent_at, row.sent_at or 0.0) if credible else msg.sent_at
        row.updated_at = now
        zone_editor.note_status(session, msg)  # realigned zones a bumped camera proposes (or their withdrawal)
        session.flush()
        return "status"

    def _call_workflow(self, session: Session, name: str, msg: Any, item: Inbound) -> None:
        if self._workflow is None:
            return
        fn = getattr(self._workflow, name)
        self._counts["workflow_calls"] += 1
        try:
            with session.begin_nested():
                fn(session, msg, self.settings)
        except (OperationalError, IntegrityError):
            raise  # database trouble or a race: retry the whole message
        except Exception as exc:
            # The message itself is stored; the domain step failed. Keep a dead letter so it can be replayed.
            log.exception("workflow.%s failed for %s", name, msg.message_id)
            self._dead_letter(session, item, f"workflow.{name} failed: {type(exc).__name__}: {exc}"[:1000], msg)

    def _dead_letter(
        self, session: Session, item: Inbound, reason: str, msg: Any = None, *, savepoint: bool = True
    ) -> None:
        site = camera = None
        try:
            t = topics.parse(item.topic)
            site, camera = t.site_id, t.camera_id
        except ValueError:
            pass
        row = DeadLetter(
            topic=item.topic[:512],
            reason=reason[:1000],
            message_id=getattr(msg, "message_id", None),
            site_id=site,
            camera_id=camera,
            payload_size=len(item.payload),
            payload=item.payload[:DEAD_LETTER_KEEP_BYTES],
        )
        if savepoint:
            with session.begin_nested():
                session.add(row)
        else:
            session.add(row)
        log.warning("dead letter from %s: %s", item.topic, reason)

    # ------------------------------------------------------------------ outbox

    def _outbox_loop(self) -> None:
        while not self._stopping.is_set():
            self._outbox_wake.wait(self.outbox_interval_s)
            self._outbox_wake.clear()
            if not self._connected.is_set() or self._client is None:
                continue
            try:
                self._publish_outbox()
            except Exception as exc:  # the next round retries; rows stay pending
                self._last_error = f"outbox: {exc}"
                log.exception("outbox round failed")

    def _publish_outbox(self) -> None:
        with self.session_factory() as session:
            rows = outbox.claim(session, self.client_id, limit=50)
            for row in rows:
                client = self._client
                if client is None:
                    return
                topic = topics.topic(row.site_id, row.camera_id, "cmd", prefix=self.mqtt.prefix)
                payload = row.payload.encode("utf-8")
                info = client.publish(
                    topic, payload, qos=1, properties=self._signed(topic, row.site_id, row.camera_id, payload)
                )
                try:
                    info.wait_for_publish(5)
                except (RuntimeError, ValueError) as exc:
                    outbox.release(session, row.id, f"publish failed: {exc}")
                    continue
                code = self._pub_codes.pop(info.mid, 0)
                if not info.is_published() or code >= 0x80:
                    outbox.release(session, row.id, f"no PUBACK (reason code {code:#x})")
                    continue
                outbox.mark_sent(session, row.id)
                self._counts["command_sent"] += 1
