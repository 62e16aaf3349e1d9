"""The ingest service: paho's network thread, the prepare, writer and outbox threads under a supervisor, and
the acknowledgement after commit (the package docstring tells the whole story)."""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from central import workflow
from central.domain.clock import now_utc
from central.edge_keys import EdgeKeys
from central.evidence_store import EvidenceStore, EvidenceStoreError
from central.ingest import commands, receipts, store
from central.ingest.inbound import Inbound, Rejected
from central.ingest.rows import Rows
from central.ingest.supervisor import Supervisor
from central.ingest.validate import SHARED_KINDS, validate
from central.orm.events import EventPhaseRecord
from central.settings import CentralSettings
from wire import signing, topics
from wire.mqtt import mqtt_client, session_properties
from wire.schema import Bundle, EvidenceMessage, encode

log = logging.getLogger("doorline.central.ingest")

_BLOB_WRITERS = 4  # evidence files written at once by the prepare stage
_READY_BATCHES = 2  # prepared batches waiting for the writer: enough to overlap, few enough to stay fresh


@dataclass
class _Prepared:
    """A batch the prepare stage has parsed: per item its message or why it is refused, and the digests of
    the evidence it has already written (and synced) to the store."""

    batch: list[Inbound]
    parsed: list[Any]
    written: set[str]



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
        # supervision: the worker threads by role, why each one that is down died, what each had in hand
        self.restart_delay_s = restart_delay_s
        self._supervisor: Supervisor | None = None
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
        # what a previous run had in hand is not acked; the broker sends it again on this connection
        self._prepare_in_hand = self._write_in_hand = None
        self._supervisor = Supervisor(
            self.client_id,
            # in stop order: what the prepare stage still has goes to the writer
            {"prepare": self._prepare_loop, "writer": self._write_loop, "outbox": self._outbox_loop},
            self._stopping,
            self._counts,
            self.restart_delay_s,
            self._on_worker_death,
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
            self._supervisor.join(deadline)
        if retire:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
            self._client.disconnect(properties=props)
        else:
            self._client.disconnect()
        self._client.loop_stop()
        self._client = None
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
        problems = self._supervisor.problems() if self._supervisor is not None else []
        network = getattr(self._client, "_thread", None)  # paho's loop_start() thread
        if network is not None and not network.is_alive():
            problems.append(f"ingest {self.client_id}: the MQTT network thread is not running")
        return problems

    def _on_worker_death(self, role: str, why: str) -> None:
        """The batch a worker had in hand when it died counts a kill: twice, and its messages go one by one."""
        if role == "prepare" and self._prepare_in_hand is not None:
            self._prepare_kills += 1
        if role == "writer" and self._write_in_hand is not None:
            self._write_kills += 1
        self._last_error = f"thread {role} died: {why}"

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
                    sup = self._supervisor
                    if self._stopping.is_set() and (sup is None or not sup.alive("prepare")):
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
        client = self._client
        if client is None:
            return
        sent = 0
        for receipt in receipts.for_batch(batch, parsed, self.mqtt.prefix):
            topic = topics.topic(receipt.site_id, receipt.camera_id, "receipt", self.mqtt.prefix)
            payload = encode(receipt)
            props = self._signed(topic, receipt.site_id, receipt.camera_id, payload)
            client.publish(topic, payload, qos=1, properties=props)
            sent += 1
        self._counts["receipts"] += sent

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
        """The fast path (`store.add_batch`), then the workflow per stored message once the rows are flushed."""
        outcomes, deferred = store.add_batch(session, batch, parsed, self._put_picture)
        self._flush_own_evidence()
        session.flush()
        for name, msg, item in deferred:
            self._call_workflow(session, name, msg, item)
        return outcomes

    def _run_one_by_one(
        self, session: Session, batch: list[Inbound], parsed: list[Any]
    ) -> list[tuple[str, str | None]]:
        out = [
            store.handle_one(session, item, msg, self._put_picture, self._call_workflow)
            for item, msg in zip(batch, parsed, strict=True)
        ]
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
        return validate(item, self.mqtt.prefix, self.edge_keys)

    def _put_picture(self, sha256: str, data: bytes) -> None:
        """Content-addressed and atomic; durable once the batch's flush() runs, before the commit (the prepare
        stage has usually written and synced it already). A rolled-back transaction leaves an unreferenced
        blob behind, nothing worse."""
        if sha256 not in self._written:
            self._wrote_here = True
            self._put_evidence(data)

    def _put_evidence(self, data: bytes) -> None:
        if isinstance(self.store, EvidenceStore):
            self.store.put(data, durable=False)
        else:
            self.store.put(data)  # a duck-typed store without deferred durability

    def _apply(
        self, session: Session, msg: Any, item: Inbound, rows: Rows, deferred: list[tuple[str, Any, Inbound]]
    ) -> str:
        return store.apply(session, msg, item, rows, deferred, self._put_picture)

    def _dead_letter(
        self, session: Session, item: Inbound, reason: str, msg: Any = None, *, savepoint: bool = True
    ) -> None:
        store.dead_letter(session, item, reason, msg, savepoint=savepoint)

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
        sent = commands.publish_pending(
            self.session_factory, lambda: self._client, self.client_id, self.mqtt.prefix, self._signed, self._pub_codes
        )
        self._counts["command_sent"] += sent
