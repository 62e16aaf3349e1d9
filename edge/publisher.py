"""Edge → broker: spool first, publish in the background, delete after PUBACK; commands back to the edge.

`Publisher.publish()` only writes the message to the on-disk spool and returns, so a dead broker never
blocks the pipeline. A sender thread publishes spooled messages in order (QoS 1) with at most
`inflight_window` unacknowledged at a time, and deletes each row when its PUBACK arrives with a success
code. A PUBACK with an error code (e.g. 0x87 not authorised) moves the row to the spool's `rejected` table
and logs it: it will never be accepted, so retrying it would only block the queue. A PUBACK with 0x10 (no
matching subscribers: central is not subscribed, e.g. while it re-subscribes after a broker restart) means
the broker threw the message away, so the row stays and is sent again a second later; such retries are the
one case where messages can overtake each other (central does not depend on arrival order).

Status: one retained `StatusMessage` per camera on `{prefix}/v1/{site}/{camera}/status`, republished every
`status_interval_s` and on `set_status()`, carrying the spool depth and size. It is not spooled (only the
latest value matters). The last will, an `offline` status on the first camera's topic, tells central the
edge died; central marks every camera of that edge offline. Commands arrive on each camera's `cmd` topic
(persistent session, so commands sent while the edge was away are delivered when it returns); each is
validated, de-duplicated by message_id and handed to the `on_command` callbacks on their own thread.

Receipts (`receipts=True`, the default; `False` deletes a row on its PUBACK): a PUBACK only says the
broker has the message, and a broker killed before it
wrote that to disk loses it. With receipts the edge keeps each PUBACKed row (marked sent) until central's
`ReceiptMessage` on the camera's `receipt` topic names its message id, and publishes it again when none
came within `receipt_timeout_s` (central stores a message once, so a resend costs nothing but bandwidth).
That timeout runs on the monotonic clock, so a step of the wall clock neither floods nor stalls resends; rows
an earlier process sent and central never receipted go out again at start.

A spool that cannot take a message (disk full, read-only file system, or full of events the broker has not
taken yet) does not lose it: the publisher holds it in memory, up to `held_max_bytes`, and later messages
queue behind it so the order is kept. The sender thread writes the held messages to the spool, oldest first,
as soon as it takes them again (checked every second). Held messages count in the status topic's depth, its
state is `degraded` and its detail says why; only a stop while the spool is still unwritable loses them, and
that is logged with their number.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties

from edge.command_inbox import CommandCallback, CommandInbox
from edge.spool import DEFAULT_MAX_BYTES, Spool, SpoolError
from wire import signing, topics
from wire.mqtt import MqttSettings, mqtt_client, session_properties
from wire.schema import (
    MAX_MESSAGE_BYTES,
    EventMessage,
    EvidenceMessage,
    ReceiptMessage,
    RecheckResult,
    SchemaError,
    StatusMessage,
    ZoneProposal,
    bundle_overhead,
    decode,
    encode,
    encode_bundle,
    evidence_owner,
)
from wire.signing import Signer

log = logging.getLogger("doorline.edge.publisher")

NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT v5 PUBACK reason: accepted, but no subscriber got it
UNROUTED_RETRY_S = 1.0
_KIND_OF: dict[type, str] = {EventMessage: "event", EvidenceMessage: "evidence", RecheckResult: "recheck"}


def _attachments(msgs: Sequence[Any]) -> dict[int, list[EvidenceMessage]]:
    """id(head) → the evidence messages among `msgs` that the head references and that fit one payload."""
    out: dict[int, list[EvidenceMessage]] = {}
    taken: set[int] = set()
    for head in msgs:
        if not isinstance(head, EventMessage | RecheckResult) or not head.evidence:
            continue
        refs = {r.evidence_id: r for r in head.evidence}
        owner = evidence_owner(head)
        room = MAX_MESSAGE_BYTES - bundle_overhead(head)
        parts = []
        for m in msgs:
            ref = refs.get(getattr(m, "evidence_id", ""))
            if (
                isinstance(m, EvidenceMessage)
                and ref is not None
                and id(m) not in taken
                and m.event_id == owner
                and m.camera_id == head.camera_id
                and (ref.sha256, ref.kind, ref.size) == (m.sha256, m.kind, len(m.data()))
                and len(m.data()) <= room
            ):
                parts.append(m)
                taken.add(id(m))
                room -= len(m.data())
        if parts:
            out[id(head)] = parts
    return out


class Publisher:
    def __init__(
        self,
        mqtt_settings: MqttSettings,
        *,
        edge_id: str,
        site_id: str,
        camera_ids: list[str],
        spool_path: Path,
        spool_max_bytes: int = DEFAULT_MAX_BYTES,
        inflight_window: int = 64,
        status_interval_s: float = 10.0,
        client_id: str | None = None,
        bundle_evidence: bool = True,
        receipts: bool = True,
        receipt_timeout_s: float = 30.0,
        verify_central: bool = True,
        held_max_bytes: int = 64 * 1024 * 1024,
    ):
        if not camera_ids:
            raise ValueError("a Publisher needs at least one camera id")
        for cam in camera_ids:
            topics.topic(site_id, cam, "event")  # validates the ids as topic parts
        self.settings = mqtt_settings
        self.edge_id = edge_id
        self.site_id = site_id
        self.camera_ids = list(camera_ids)
        self.spool = Spool(spool_path, max_bytes=spool_max_bytes)
        self.inflight_window = inflight_window
        self.status_interval_s = status_interval_s
        self.client_id = client_id or f"doorline-edge-{edge_id}"
        self.bundle_evidence = bundle_evidence
        self.receipts = receipts
        self.receipt_timeout_s = receipt_timeout_s
        # with a broker password, every message is signed for central to check (wire.signing)
        self._signer = (
            Signer(mqtt_settings.username, mqtt_settings.password)
            if mqtt_settings.username and mqtt_settings.password
            else None
        )
        # and it acts only on commands and receipts that central signed with the same key
        self.verify_central = verify_central and self._signer is not None

        # messages the spool could not take (disk full, ...), oldest first: (rows, message ids, bytes)
        self.held_max_bytes = held_max_bytes
        self._held: collections.deque[tuple[list[tuple[str, bytes, str]], list[str], int]] = collections.deque()
        self._held_bytes = 0
        self._held_lock = threading.Lock()
        self._held_error = ""
        self._next_held_try = 0.0
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._listening = threading.Event()  # SUBACK received for the command topics
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._inflight: dict[int, int] = {}  # mid → spool seq; touched only by the sender thread
        self._acks: collections.deque[tuple[int, int, str]] = collections.deque()  # (mid, code, reason)
        self._inflight_seqs: set[int] = set()
        self._cursor = 0
        self._hold_until = 0.0
        self._next_receipt_check = 0.0
        self._sender: threading.Thread | None = None
        self._status: dict[str, Any] = {"state": "online", "fps": 0.0, "source_state": "", "detail": ""}
        self._proposals: dict[str, ZoneProposal] = {}  # camera id -> realigned zones waiting for an operator
        self._status_due = threading.Event()
        self._counters = collections.Counter()
        self._last_error = ""
        # commands wait here for the pipeline's handler; bounded like the pipeline's own queue
        self.inbox = CommandInbox(edge_id, self._counters)

    # ------------------------------------------------------------------ public API

    def start(self) -> None:
        if self._client is not None:
            raise RuntimeError("publisher already started")
        if self.receipts:
            try:
                again = self.spool.forget_sent()
            except SpoolError as exc:
                log.error("edge %s: %s", self.edge_id, exc)
            else:
                if again:
                    log.info("edge %s: %d message(s) sent before the restart and not receipted go out again",
                             self.edge_id, again)
        client = mqtt_client(self.settings, self.client_id)
        client.max_inflight_messages_set(max(self.inflight_window, 20))
        will = self._status_message(self.camera_ids[0], state="offline", detail="connection lost (last will)")
        will_topic, will_payload = self._topic(self.camera_ids[0], "status"), encode(will)
        client.will_set(
            will_topic, will_payload, qos=1, retain=True, properties=self._signed(will_topic, will_payload, will=True)
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._client = client
        client.connect_async(
            self.settings.host,
            self.settings.port,
            keepalive=self.settings.keepalive_s,
            clean_start=False,
            properties=session_properties(),
        )
        client.loop_start()
        self._sender = threading.Thread(
            target=self._send_loop, name=f"spool-sender-{self.edge_id}", daemon=True
        )
        self._sender.start()
        self.inbox.start()

    def stop(self, timeout: float = 10) -> None:
        """Publish `offline` for every camera (if connected), disconnect, close the spool. Unsent messages
        stay in the spool for the next start."""
        if self._client is None:
            return
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        if self._sender:
            self._sender.join(max(0.1, deadline - time.monotonic()))
        if self._connected.is_set():
            infos = [
                self._publish_now(
                    self._topic(cam, "status"),
                    encode(self._status_message(cam, state="offline", detail="stopped")),
                    retain=True,
                )
                for cam in self.camera_ids
            ]
            for info in infos:
                try:
                    info.wait_for_publish(max(0.1, min(2.0, deadline - time.monotonic())))
                except (RuntimeError, ValueError):
                    break
        self._client.disconnect()
        self._client.loop_stop()
        self.inbox.stop(deadline)
        self._drain_acks()
        if self._held:
            self._spool_held()
            if self._held:
                log.error("edge %s: stopping with %d message(s) the spool never took (%s); they are lost",
                          self.edge_id, self.held, self._held_error)
        self.spool.close()
        self._client = None

    def publish(self, msg: EventMessage | EvidenceMessage | RecheckResult) -> int:
        """Spool `msg` for delivery and return its spool seq (0 when the spool cannot take it now and it is held
        in memory). Never waits for the broker. Raises ValueError for a message this edge may not send,
        SpoolFullError / SpoolError when it cannot be stored nor held."""
        seqs = self.publish_many([msg])
        return seqs[0] if seqs else 0

    def publish_many(self, msgs: Sequence[EventMessage | EvidenceMessage | RecheckResult]) -> list[int]:
        """`publish` for several messages in one spool transaction, sent in this order: all are spooled or
        none is (an event and its evidence pictures travel together).

        With `bundle_evidence` (the default), an event or recheck result goes out as one `Bundle` payload
        with the pictures among `msgs` that it references, as many as fit the message limit, so central
        stores them in one transaction; pictures left over go as evidence messages before it."""
        for msg in msgs:
            if type(msg) not in _KIND_OF:
                raise ValueError(
                    f"an edge publishes events, evidence and recheck results, not {type(msg).__name__}"
                )
            if msg.site_id != self.site_id or msg.camera_id not in self.camera_ids:
                raise ValueError(
                    f"message for {msg.site_id}/{msg.camera_id}; this edge speaks for "
                    f"{self.site_id}/{self.camera_ids}"
                )
        attached = _attachments(msgs) if self.bundle_evidence else {}
        carried = {id(e) for parts in attached.values() for e in parts}
        rows, ids = [], []
        for msg in msgs:
            if id(msg) in carried:
                continue
            kind = _KIND_OF[type(msg)]
            parts = attached.get(id(msg))
            if parts:
                rows.append((self._topic(msg.camera_id, kind), encode_bundle(msg, parts), "bundle"))
            else:
                rows.append((self._topic(msg.camera_id, kind), encode(msg), kind))
            ids.append(msg.message_id)  # a bundle is receipted by its head's id
        size = sum(len(topic) + len(payload) for topic, payload, _ in rows)
        self.spool.check_fits(size, len(rows))  # what can never fit is refused, not held
        with self._held_lock:
            if not self._held:
                try:
                    seqs = self.spool.put_many(rows, qos=1, message_ids=ids)
                except SpoolError as exc:
                    self._hold(rows, ids, size, exc)
                    return []
                self._counters["spooled"] += len(seqs)
                self._wake.set()
                return seqs
            self._hold(rows, ids, size, None)  # behind the held ones, to keep the order; the sender spools them
        return []

    def _hold(self, rows: list[tuple[str, bytes, str]], ids: list[str], size: int, exc: SpoolError | None) -> None:
        """Keep messages the spool cannot take (caller holds `_held_lock`); raises when memory is full too."""
        if exc is not None:
            self._held_error = str(exc)
            log.error("edge %s: spool cannot take %d message(s) (%s); holding them in memory until it can",
                      self.edge_id, len(rows), exc)
        if self._held_bytes + size > self.held_max_bytes:
            self._counters["refused"] += len(rows)
            raise SpoolError(
                f"spool unwritable ({self._held_error}) and {self._held_bytes} bytes already held in memory "
                f"(limit {self.held_max_bytes}); {len(rows)} message(s) refused"
            )
        first = not self._held
        self._held.append((rows, ids, size))
        self._held_bytes += size
        self._counters["held"] += len(rows)
        if first:
            self._status_due.set()
            self._wake.set()

    def _spool_held(self) -> None:
        """Write held messages to the spool, oldest first, until it refuses one again."""
        with self._held_lock:
            while self._held:
                rows, ids, size = self._held[0]
                try:
                    seqs = self.spool.put_many(rows, qos=1, message_ids=ids)
                except SpoolError as exc:
                    self._held_error = str(exc)
                    return
                self._held.popleft()
                self._held_bytes -= size
                self._counters["spooled"] += len(seqs)
                self._counters["spooled_late"] += len(rows)
            log.info("edge %s: the spool takes messages again; every held message is spooled", self.edge_id)
            self._held_error = ""
            self._status_due.set()
            self._wake.set()

    @property
    def held(self) -> int:
        """Messages waiting in memory because the spool could not take them."""
        with self._held_lock:
            return sum(len(rows) for rows, _, _ in self._held)

    def on_command(self, callback: CommandCallback) -> None:
        self.inbox.on_command(callback)

    def set_status(
        self,
        state: str,
        *,
        fps: float | None = None,
        source_state: str | None = None,
        detail: str | None = None,
        proposals: dict[str, ZoneProposal] | None = None,
    ) -> None:
        """Update the retained status of every camera (sent now if connected, and periodically). `proposals`:
        the cameras' pending realigned zones (each goes in its own camera's status; None keeps them)."""
        if state not in ("online", "degraded", "offline"):
            raise ValueError(f"status state must be online, degraded or offline, not {state!r}")
        self._status["state"] = state
        if fps is not None:
            self._status["fps"] = float(fps)
        if source_state is not None:
            self._status["source_state"] = source_state
        if detail is not None:
            self._status["detail"] = detail
        if proposals is not None:
            self._proposals = dict(proposals)
        self._status_due.set()
        self._wake.set()

    @property
    def depth(self) -> int:
        return self.spool.depth

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def listening(self) -> bool:
        """Connected, and the broker has granted the subscription to this edge's command topics."""
        return self._connected.is_set() and self._listening.is_set()

    def stats(self) -> dict[str, Any]:
        return {
            **self.spool.stats(),
            "connected": self.connected,
            "inflight": len(self._inflight),
            "spooled": self._counters["spooled"],
            "acked": self._counters["acked"],
            "unrouted": self._counters["unrouted"],
            "commands": self._counters["commands"],
            "bad_commands": self._counters["bad_commands"],
            "commands_dropped": self._counters["commands_dropped"],
            "receipted": self._counters["receipted"],
            "resent_for_receipt": self._counters["resent_for_receipt"],
            "unauthenticated": self._counters["unauthenticated"],
            "bad_receipts": self._counters["bad_receipts"],
            "downstream_errors": self._counters["downstream_errors"],
            "held": self.held,
            "held_bytes": self._held_bytes,
            "spooled_late": self._counters["spooled_late"],
            "refused": self._counters["refused"],
            "last_spool_error": self._held_error,
            "last_error": self._last_error,
        }

    def wait_drained(self, timeout: float) -> bool:
        """Block until the spool is empty (everything PUBACKed, or with receipts: stored by central) and nothing
        is held in memory; False on timeout. For tests and shutdown."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spool.depth == 0 and not self._held:
                return True
            time.sleep(0.05)
        return self.spool.depth == 0 and not self._held

    # ------------------------------------------------------------------ helpers

    def _topic(self, camera_id: str, kind: str) -> str:
        return topics.topic(self.site_id, camera_id, kind, prefix=self.settings.prefix)  # type: ignore[arg-type]

    def _status_message(
        self, camera_id: str, *, state: str | None = None, detail: str | None = None
    ) -> StatusMessage:
        st = self.spool.stats()
        extra = (
            f"; {st['dropped_evidence']} evidence image(s) dropped at the spool cap"
            if st["dropped_evidence"]
            else ""
        )
        held, held_bytes = self.held, self._held_bytes
        if held:
            extra += f"; {held} message(s) held in memory, the spool cannot take them: {self._held_error}"
        own = state or self._status["state"]
        return StatusMessage(
            site_id=self.site_id,
            camera_id=camera_id,
            edge_id=self.edge_id,
            state="degraded" if held and own == "online" else own,
            fps=self._status["fps"],
            source_state=self._status["source_state"][:200],
            spool_depth=st["depth"] + held,
            spool_bytes=st["bytes"] + held_bytes,
            detail=((detail if detail is not None else self._status["detail"]) + extra)[:1000],
            proposal=None if own == "offline" else self._proposals.get(camera_id),
        )

    # ------------------------------------------------------------------ paho callbacks (network thread)

    def _on_connect(self, client: mqtt.Client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self._last_error = f"connect refused: {reason_code}"
            log.error(
                "broker %s:%d refused edge %s: %s",
                self.settings.host,
                self.settings.port,
                self.edge_id,
                reason_code,
            )
            return
        kinds = topics.DOWNSTREAM if self.receipts else ("cmd",)
        client.subscribe([(self._topic(cam, kind), 1) for cam in self.camera_ids for kind in kinds])
        self._connected.set()
        self._status_due.set()
        self._wake.set()
        log.info("edge %s connected to %s:%d", self.edge_id, self.settings.host, self.settings.port)

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _props) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            self._last_error = f"command subscription refused: {refused}"
            log.error("edge %s: broker refused its command subscription: %s", self.edge_id, refused)
        else:
            self._listening.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self._connected.clear()
        self._listening.clear()
        if not self._stopping.is_set():
            self._last_error = f"disconnected: {reason_code}"
            log.warning("edge %s lost the broker (%s); spooling, will reconnect", self.edge_id, reason_code)

    def _on_publish(self, _client, _userdata, mid: int, reason_code, _props) -> None:
        self._acks.append((mid, int(reason_code.value), str(reason_code)))
        self._wake.set()

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        """Commands and receipts from central, on paho's network thread: whatever a payload holds, it is
        refused and counted here, and the thread goes on (it also carries the spool's PUBACKs)."""
        try:
            self._handle_downstream(message)
        except Exception as exc:  # noqa: BLE001 -- a bug or a poisoned payload must not stop the network thread
            self._counters["downstream_errors"] += 1
            self._last_error = f"message on {getattr(message, 'topic', '?')} not handled: {type(exc).__name__}: {exc}"
            log.exception("edge %s: %s", self.edge_id, self._last_error)

    def _handle_downstream(self, message: mqtt.MQTTMessage) -> None:
        if self.verify_central and self._signer is not None:
            why = self._signer.check(message.topic, bytes(message.payload), signing.signature_of(message))
            if why is not None:
                self._counters["unauthenticated"] += 1
                self._last_error = f"ignored unsigned or forged message on {message.topic}: {why}"
                log.error("edge %s: %s (central needs DOORLINE_EDGE_ACCOUNTS to sign)", self.edge_id,
                          self._last_error)
                return
        if message.topic.endswith("/receipt"):
            self._on_receipt(message)
        else:
            self.inbox.take(message.topic, bytes(message.payload))

    def _on_receipt(self, message: mqtt.MQTTMessage) -> None:
        try:
            msg = decode(message.payload)
            if not isinstance(msg, ReceiptMessage):
                raise SchemaError(f"{msg.type} message on a receipt topic")
        except (SchemaError, ValueError) as exc:
            self._counters["bad_receipts"] += 1
            log.error("ignored malformed receipt on %s: %s", message.topic, getattr(exc, "reason", exc))
            return
        try:
            self._counters["receipted"] += self.spool.ack_messages(msg.message_ids)
        except SpoolError as exc:  # the rows stay; they are sent again and receipted again
            self._last_error = str(exc)
            log.error("edge %s: receipt not applied: %s", self.edge_id, exc)

    # ------------------------------------------------------------------ threads

    def _drain_acks(self) -> None:
        done: list[int] = []
        while self._acks:
            mid, code, reason = self._acks.popleft()
            seq = self._inflight.pop(mid, None)
            if seq is None:
                continue  # an ack for a message of an earlier run or already handled
            self._inflight_seqs.discard(seq)
            if code == NO_MATCHING_SUBSCRIBERS:
                # The broker took it but nobody was subscribed (central down, or re-subscribing after a
                # broker restart): the message went nowhere. Keep it and send it again shortly.
                self._counters["unrouted"] += 1
                self._cursor = min(self._cursor, seq - 1)
                self._hold_until = time.monotonic() + UNROUTED_RETRY_S
            elif code >= 0x80:
                self.spool.reject(seq, reason)
            else:
                done.append(seq)
        if done:
            if self.receipts:
                self.spool.mark_sent(done, now=time.monotonic())  # deleted when central's receipt comes
            else:
                self.spool.ack(done)
            self._counters["acked"] += len(done)

    def _signed(self, topic: str, payload: bytes, *, will: bool = False) -> Properties | None:
        if self._signer is None:
            return None
        return signing.properties(self._signer.value(topic, payload), will=will)

    def _publish_now(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo:
        assert self._client is not None
        return self._client.publish(topic, payload, qos=qos, retain=retain, properties=self._signed(topic, payload))

    def _send_loop(self) -> None:
        next_status = 0.0
        while not self._stopping.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self._drain_acks()
                now = time.monotonic()
                if self._held and now >= self._next_held_try:
                    self._next_held_try = now + 1.0
                    self._spool_held()
                if not self._connected.is_set() or self._client is None:
                    continue
                if self._status_due.is_set() or now >= next_status:
                    self._status_due.clear()
                    next_status = now + self.status_interval_s
                    for cam in self.camera_ids:
                        self._publish_now(self._topic(cam, "status"), encode(self._status_message(cam)), retain=True)
                room = self.inflight_window - len(self._inflight)
                if room <= 0 or now < self._hold_until:
                    continue
                sent_before = -1.0
                if self.receipts:
                    sent_before = now - self.receipt_timeout_s  # monotonic, like mark_sent
                    if now >= self._next_receipt_check:  # MIN(sent) scans the spool: once a second is enough
                        self._next_receipt_check = now + 1.0
                        oldest = self.spool.oldest_sent()
                        if oldest is not None and oldest < sent_before:
                            self._cursor = 0  # no receipt in time: send those again (in order, from the start)
                            self._counters["resent_for_receipt"] += 1
                batch = self.spool.peek(self._cursor, room + len(self._inflight_seqs), sent_before=sent_before)
                sent = 0
                for m in batch:
                    if m.seq in self._inflight_seqs:
                        self._cursor = m.seq  # already on its way (we rewound past it after an unrouted ack)
                        continue
                    if sent >= room:
                        break
                    info = self._publish_now(m.topic, m.payload, qos=m.qos, retain=m.retain)
                    if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                        self._last_error = f"publish failed: {mqtt.error_string(info.rc)}"
                        break
                    # NO_CONN with QoS 1: paho keeps it and resends after reconnecting; track it either way
                    self._inflight[info.mid] = m.seq
                    self._inflight_seqs.add(m.seq)
                    self._cursor = m.seq
                    sent += 1
                if sent and sent >= room:
                    self._wake.set()  # more waiting; go round again once acks come back
            except Exception as exc:  # keep the sender alive; the spool still holds everything
                self._last_error = str(exc)
                log.exception("spool sender error")
                time.sleep(0.5)
