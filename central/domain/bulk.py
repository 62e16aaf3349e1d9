"""Fast bulk INSERT for large batches (250,000 shops, grade histories).

PostgreSQL (psycopg): COPY — psycopg's executemany sends the rows one by one and is several times slower.
Other databases (SQLite): the DBAPI's executemany with the column types' own bind processors applied once
per value, skipping SQLAlchemy's per-row parameter machinery (about a third of the import time otherwise);
values are stored exactly as SQLAlchemy would store them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys in the same order, every value given) into `table`, in the
    session's transaction."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    cols = list(rows[0])
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in cols)
    dbapi = conn.connection.dbapi_connection
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        as_json = {c for c in cols if isinstance(table.c[c].type, JSON)}
        with (
            dbapi.cursor() as cur,
            cur.copy(f"COPY {dialect.identifier_preparer.quote(table.name)} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([json.dumps(v) if c in as_json and v is not None else v for c, v in row.items()])
        return
    procs = [table.c[c].type._cached_bind_processor(dialect) for c in cols]
    params = [
        tuple(v if p is None or v is None else p(v) for p, v in zip(procs, row.values(), strict=True)) for row in rows
    ]
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in cols)
    cur = dbapi.cursor()
    try:
        cur.executemany(
            f"INSERT INTO {dialect.identifier_preparer.quote(table.name)} ({names}) VALUES ({marks})", params
        )
    finally:
        cur.close()
