"""Prometheus text exposition of the transport: ingest queue depths and counters, per ingest instance.

`IngestService.start()` registers itself here; `render()` is what `GET /metrics` serves. `render(session)`
also reports table-level gauges (pending outbox rows, dead letters, edge spool depths from EdgeStatus).

Where a backlog can be, when central is slower than the edges:
- in an edge's spool, only while the broker does not take its messages (unreachable, or no subscriber):
  the broker PUBACKs a message as soon as it has queued it, whatever central does. Seen through each edge's
  retained status (`doorline_edge_spool_depth`, as of central's last stored status).
- in central: at most Receive Maximum messages (`doorline_ingest_unacked`, of which
  `doorline_ingest_queue_depth` have not yet been taken into a batch).
- in the broker: everything else. Central cannot see it over MQTT; `watch_broker()` reads it from
  Mosquitto's `$SYS` tree (`doorline_broker_store_messages`, `doorline_broker_dropped_messages_total`). The
  broker drops messages past a session's `max_queued_messages` (Mosquitto's default: 1000) even though their
  publisher got a PUBACK; that counter is the only place such a loss shows.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from wire.mqtt import MqttSettings, mqtt_client

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _HasStats(Protocol):
    def stats(self) -> dict[str, Any]: ...


_services: list[_HasStats] = []
_lock = threading.Lock()

# stats() key → (metric name, type, help)
_INGEST: dict[str, tuple[str, str, str]] = {
    "queue_depth": (
        "doorline_ingest_queue_depth",
        "gauge",
        "messages received, not yet taken into a batch (those being prepared or written count in unacked)",
    ),
    "queue_capacity": ("doorline_ingest_queue_capacity", "gauge", "MQTT Receive Maximum = queue size"),
    "unacked": ("doorline_ingest_unacked", "gauge", "messages received and not yet acknowledged"),
    "connected": ("doorline_ingest_connected", "gauge", "1 when connected to the broker"),
    "received": ("doorline_ingest_received_total", "counter", "messages received from the broker"),
    "stored": ("doorline_ingest_stored_total", "counter", "messages stored"),
    "latency_s_sum": (
        "doorline_ingest_latency_seconds_sum",
        "counter",
        "seconds from the edge making each stored message to its commit (includes time spooled at the edge "
        "and the edge's clock offset)",
    ),
    "latency_count": ("doorline_ingest_latency_seconds_count", "counter", "stored messages in that sum"),
    "duplicates": ("doorline_ingest_duplicates_total", "counter", "redelivered messages stored before"),
    "dead_letters": ("doorline_ingest_dead_letters_total", "counter", "messages refused into dead letters"),
    "statuses": ("doorline_ingest_statuses_total", "counter", "edge status messages applied"),
    "db_errors": ("doorline_ingest_db_errors_total", "counter", "failed commits (retried, not acked)"),
    "commands_sent": ("doorline_outbox_sent_total", "counter", "commands published to edges"),
    "internal_errors": (
        "doorline_ingest_internal_errors_total",
        "counter",
        "messages whose validation or storage raised unexpectedly (each became a dead letter)",
    ),
    "thread_deaths": ("doorline_ingest_thread_deaths_total", "counter", "ingest worker threads that died"),
    "thread_restarts": (
        "doorline_ingest_thread_restarts_total",
        "counter",
        "ingest worker threads the supervisor restarted",
    ),
}


def register(service: _HasStats) -> None:
    with _lock:
        if service not in _services:
            _services.append(service)


def unregister(service: _HasStats) -> None:
    with _lock:
        if service in _services:
            _services.remove(service)


def problems() -> list[str]:
    """Why a registered ingest service cannot work right now (`health_problems()`), one line each."""
    with _lock:
        services = list(_services)
    out: list[str] = []
    for svc in services:
        check = getattr(svc, "health_problems", None)
        if check is not None:
            out += check()
    return out


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(session: Session | None = None) -> tuple[bytes, str]:
    """(body, content type). The table gauges (outbox, dead letters, edge spools) come from `session`, or
    from a session of the first registered ingest service; without either only its counters are shown."""
    with _lock:
        services = list(_services)
        brokers = list(_brokers)
    lines: list[str] = []
    for key, (name, kind, help_) in _INGEST.items():
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
        for svc in services:
            st = svc.stats()
            lines.append(
                f'{name}{{instance="{_label(str(st.get("client_id", "")))}"}} {float(st.get(key, 0))}'
            )
    lines += _broker_gauges(brokers)
    try:
        if session is not None:
            lines += _table_gauges(session)
        else:
            factory = next((getattr(s, "session_factory", None) for s in services), None)
            if factory is not None:
                with factory() as own:
                    lines += _table_gauges(own)
    except SQLAlchemyError as exc:  # a scrape must not fail because the database is down
        lines.append(f"# table gauges unavailable: {str(exc).splitlines()[0][:200]}")
    return ("\n".join(lines) + "\n").encode("utf-8"), CONTENT_TYPE


def _table_gauges(session: Session) -> list[str]:
    from central.orm.events import DeadLetter, EdgeStatus, Outbox

    pending = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.sent_at.is_(None))) or 0
    dead = session.scalar(select(func.count()).select_from(DeadLetter)) or 0
    lines = [
        "# HELP doorline_outbox_pending commands waiting to be published",
        "# TYPE doorline_outbox_pending gauge",
        f"doorline_outbox_pending {pending}",
        "# HELP doorline_dead_letters rows in the dead-letter table",
        "# TYPE doorline_dead_letters gauge",
        f"doorline_dead_letters {dead}",
    ]
    lines += _notice_gauges(session)
    lines += [
        "# HELP doorline_edge_spool_depth messages waiting in an edge's spool (from its status)",
        "# TYPE doorline_edge_spool_depth gauge",
    ]
    rows = session.execute(
        select(
            EdgeStatus.site_id,
            EdgeStatus.camera_id,
            EdgeStatus.edge_id,
            EdgeStatus.spool_depth,
            EdgeStatus.spool_bytes,
            EdgeStatus.state,
        )
    ).all()
    for site, cam, edge, depth, _bytes, _state in rows:
        lines.append(
            f'doorline_edge_spool_depth{{site="{_label(site)}",camera="{_label(cam)}",'
            f'edge="{_label(edge)}"}} {depth}'
        )
    lines += [
        "# HELP doorline_edge_spool_bytes bytes waiting in an edge's spool",
        "# TYPE doorline_edge_spool_bytes gauge",
    ]
    for site, cam, edge, _depth, nbytes, _state in rows:
        lines.append(
            f'doorline_edge_spool_bytes{{site="{_label(site)}",camera="{_label(cam)}",'
            f'edge="{_label(edge)}"}} {nbytes}'
        )
    lines += [
        "# HELP doorline_edge_online 1 when the camera's edge reports online or degraded",
        "# TYPE doorline_edge_online gauge",
    ]
    for site, cam, edge, _depth, _bytes, state in rows:
        lines.append(
            f'doorline_edge_online{{site="{_label(site)}",camera="{_label(cam)}",'
            f'edge="{_label(edge)}"}} {0 if state == "offline" else 1}'
        )
    return lines


def _notice_gauges(session: Session) -> list[str]:
    """Notice deliveries per channel and status (pending, sent, dead = given up): a row is never deleted, so
    `increase()` of the sent and dead counts reads as notices sent / failed."""
    from central.orm.notices import NoticeDelivery

    rows = session.execute(
        select(NoticeDelivery.channel, NoticeDelivery.status, func.count()).group_by(
            NoticeDelivery.channel, NoticeDelivery.status)
    ).all()
    lines = ["# HELP doorline_notices notice deliveries by channel and status (pending, sent, dead)",
             "# TYPE doorline_notices gauge"]
    lines += [f'doorline_notices{{channel="{_label(ch)}",status="{_label(st)}"}} {n}' for ch, st, n in rows]
    return lines


# ---------------------------------------------------------------------------------------------------- broker

# $SYS topic → (metric name, type, help). Mosquitto republishes a value (retained) when it changed, at most
# every `sys_interval` seconds (default 10).
_SYS: dict[str, tuple[str, str, str]] = {
    "$SYS/broker/store/messages/count": (
        "doorline_broker_store_messages",
        "gauge",
        "messages the broker holds: queued or in flight for every session (central's backlog among them), "
        "plus retained ones (its own $SYS values included)",
    ),
    "$SYS/broker/store/messages/bytes": ("doorline_broker_store_bytes", "gauge", "payload bytes of those messages"),
    "$SYS/broker/publish/messages/dropped": (
        "doorline_broker_dropped_messages_total",
        "counter",
        "messages the broker threw away at a session's queue limit (max_queued_messages/bytes): lost, "
        "although their publisher got a PUBACK",
    ),
}
_UPTIME = "$SYS/broker/uptime"  # republished every sys_interval even when nothing changed: the heartbeat


class BrokerMonitor:
    """Mosquitto's own counts, read from its `$SYS` tree over a separate clean-session MQTT connection (the
    broker account needs read access to `$SYS/broker/#`). The numbers are broker-wide, not per client:
    Mosquitto 2 publishes no per-session queue length."""

    def __init__(self, settings: MqttSettings, client_id: str):
        self.settings = settings
        self.client_id = client_id
        self.label = f"{settings.host}:{settings.port}"
        self._values: dict[str, float] = {}
        self._last_seen: float | None = None
        self._connected = threading.Event()
        self._first = threading.Event()
        self._vlock = threading.Lock()
        self._client: mqtt.Client | None = None

    def start(self) -> BrokerMonitor:
        client = mqtt_client(self.settings, self.client_id)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_a: self._connected.clear()
        client.on_message = self._on_message
        self._client = client
        client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        client.loop_start()
        with _lock:
            _brokers.append(self)
        return self

    def stop(self) -> None:
        with _lock:
            if self in _brokers:
                _brokers.remove(self)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def wait_ready(self, timeout: float = 10) -> bool:
        """True once the first $SYS value arrived (False: no access, or not a Mosquitto)."""
        return self._first.wait(timeout)

    def _on_connect(self, client, _u, _f, reason_code, _p) -> None:
        if reason_code.is_failure:
            return
        client.subscribe([(t, 0) for t in (*_SYS, _UPTIME)])
        self._connected.set()

    def _on_message(self, _c, _u, message) -> None:
        try:
            value = float(bytes(message.payload).split()[0])
        except (ValueError, IndexError):
            return
        with self._vlock:
            self._last_seen = time.monotonic()
            if message.topic in _SYS:
                self._values[_SYS[message.topic][0]] = value
        self._first.set()

    def sample(self) -> dict[str, float]:
        """metric name → value now: connected, age of the last $SYS value, and the broker's numbers (absent
        until received)."""
        with self._vlock:
            out, last = dict(self._values), self._last_seen
        out["doorline_broker_sys_connected"] = 1.0 if self._connected.is_set() else 0.0
        if last is not None:
            out["doorline_broker_sys_age_seconds"] = round(time.monotonic() - last, 1)
        return out


_brokers: list[BrokerMonitor] = []


def watch_broker(settings: MqttSettings, client_id: str) -> BrokerMonitor:
    """Start a `BrokerMonitor` whose numbers `render()` includes until its `stop()`."""
    return BrokerMonitor(settings, client_id).start()


_BROKER_FAMILIES: list[tuple[str, str, str]] = [
    ("doorline_broker_sys_connected", "gauge", "1 when the $SYS reader is connected to the broker"),
    ("doorline_broker_sys_age_seconds", "gauge", "seconds since the broker last published a $SYS value"),
    *_SYS.values(),
]


def _broker_gauges(brokers: list[BrokerMonitor]) -> list[str]:
    if not brokers:
        return []
    samples = [(f'broker="{_label(b.label)}"', b.sample()) for b in brokers]
    lines = [
        f"# {b.label}: no $SYS value received yet (needs read access to $SYS/broker/#)"
        for b, (_l, v) in zip(brokers, samples, strict=True)
        if "doorline_broker_sys_age_seconds" not in v
    ]
    for name, kind, help_ in _BROKER_FAMILIES:
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{{{label}}} {_number(values[name])}" for label, values in samples if name in values]
    return lines


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
