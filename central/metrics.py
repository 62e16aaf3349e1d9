"""Prometheus text exposition of the transport: ingest queue depths and counters, per ingest instance.

`IngestService.start()` registers itself here; `render()` is what `GET /metrics` serves. `render(session)`
also reports table-level gauges (pending outbox rows, dead letters, edge spool depths from EdgeStatus).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _HasStats(Protocol):
    def stats(self) -> dict[str, Any]: ...


_services: list[_HasStats] = []
_lock = threading.Lock()

# stats() key → (metric name, type, help)
_INGEST: dict[str, tuple[str, str, str]] = {
    "queue_depth": ("doorline_ingest_queue_depth", "gauge", "messages received, waiting for the DB writer"),
    "queue_capacity": ("doorline_ingest_queue_capacity", "gauge", "MQTT Receive Maximum = queue size"),
    "unacked": ("doorline_ingest_unacked", "gauge", "messages received and not yet acknowledged"),
    "connected": ("doorline_ingest_connected", "gauge", "1 when connected to the broker"),
    "received": ("doorline_ingest_received_total", "counter", "messages received from the broker"),
    "stored": ("doorline_ingest_stored_total", "counter", "messages stored"),
    "duplicates": ("doorline_ingest_duplicates_total", "counter", "redelivered messages stored before"),
    "dead_letters": ("doorline_ingest_dead_letters_total", "counter", "messages refused into dead letters"),
    "statuses": ("doorline_ingest_statuses_total", "counter", "edge status messages applied"),
    "db_errors": ("doorline_ingest_db_errors_total", "counter", "failed commits (retried, not acked)"),
    "commands_sent": ("doorline_outbox_sent_total", "counter", "commands published to edges"),
}


def register(service: _HasStats) -> None:
    with _lock:
        if service not in _services:
            _services.append(service)


def unregister(service: _HasStats) -> None:
    with _lock:
        if service in _services:
            _services.remove(service)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(session: Session | None = None) -> tuple[bytes, str]:
    """(body, content type). The table gauges (outbox, dead letters, edge spools) come from `session`, or
    from a session of the first registered ingest service; without either only its counters are shown."""
    with _lock:
        services = list(_services)
    lines: list[str] = []
    for key, (name, kind, help_) in _INGEST.items():
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
        for svc in services:
            st = svc.stats()
            lines.append(
                f'{name}{{instance="{_label(str(st.get("client_id", "")))}"}} {float(st.get(key, 0))}'
            )
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
