"""The last status each edge camera reported, as a table for the API and the console."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.orm.events import EdgeStatus


@dataclass
class StatusTable:
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def edge_statuses(session: Session) -> StatusTable:
    """Every EdgeStatus row as a dict of its columns, newest first."""
    cols = [c.key for c in sa_inspect(EdgeStatus).column_attrs]
    stmt = select(EdgeStatus).order_by(EdgeStatus.updated_at.desc()).limit(1000)
    rows = [{k: _plain(getattr(r, k)) for k in cols} for r in session.scalars(stmt)]
    return StatusTable(cols, rows)
