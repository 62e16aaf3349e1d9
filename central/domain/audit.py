"""Hash-chained audit trail. `record()` appends one row; `verify_chain()` re-derives every hash.

Each row's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of
{seq, at, actor, action, case_id, shop_id, details, evidence, prev_hash}; the first row's prev_hash is
64 zeros. `audit_head` holds the tip, and appending updates it first, so concurrent writers queue on that
row instead of forking the chain.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from central.domain.clock import as_utc, now_utc
from central.orm.audit import AuditHead, AuditRecord

GENESIS = "0" * 64


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _at_text(at: datetime) -> str:
    return as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # type: ignore[union-attr]


def row_hash(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    case_id: str | None,
    shop_id: str | None,
    details: str,
    evidence: str,
    prev_hash: str,
) -> str:
    body = canonical(
        {
            "seq": seq,
            "at": _at_text(at),
            "actor": actor,
            "action": action,
            "case_id": case_id,
            "shop_id": shop_id,
            "details": details,
            "evidence": evidence,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _insert_ignore(session: Session, table):
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return insert(table)


def _advance_head(session: Session) -> tuple[int, str]:
    """Take the next sequence number and the previous hash, holding the head row's write lock (one round trip:
    UPDATE … RETURNING, on PostgreSQL and SQLite ≥ 3.35)."""
    bump = (update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.hash))
    row = session.execute(bump).one_or_none()
    if row is None:  # the very first record: create the head, race-free
        session.execute(_insert_ignore(session, AuditHead.__table__).values(id=1, seq=0, hash=GENESIS))
        row = session.execute(bump).one()
    return row[0], row[1]


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    case_id: str | None = None,
    shop_id: str | None = None,
    details: dict[str, Any] | None = None,
    evidence: list[str] | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """Append one audit record to the chain (in the caller's transaction)."""
    session.flush()  # earlier pending rows first, so the head update is not reordered behind them
    seq, prev = _advance_head(session)
    at = as_utc(at) or now_utc()
    details_text = canonical(details or {})
    evidence_text = canonical(list(evidence or []))
    digest = row_hash(seq, at, actor, action, case_id, shop_id, details_text, evidence_text, prev)
    rec = AuditRecord(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        case_id=case_id,
        shop_id=shop_id,
        details=details_text,
        evidence=evidence_text,
        prev_hash=prev,
        hash=digest,
    )
    session.add(rec)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    return rec


def verify_chain(session: Session, *, batch: int = 5000) -> list[str]:
    """Every problem found in the chain, one line each; an empty list means it is intact."""
    problems: list[str] = []
    expected_seq, prev = 1, GENESIS
    last_seq = 0
    stmt = select(AuditRecord).order_by(AuditRecord.seq).execution_options(yield_per=batch)
    for rec in session.scalars(stmt):
        if rec.seq != expected_seq:
            problems.append(f"record {rec.seq}: expected sequence {expected_seq} (rows missing or inserted)")
        if rec.prev_hash != prev:
            problems.append(f"record {rec.seq}: prev_hash does not match the hash of the record before it")
        digest = row_hash(
            rec.seq,
            rec.at,
            rec.actor,
            rec.action,
            rec.case_id,
            rec.shop_id,
            rec.details,
            rec.evidence,
            rec.prev_hash,
        )
        if digest != rec.hash:
            problems.append(f"record {rec.seq}: content does not match its hash (edited after writing)")
        prev = rec.hash
        expected_seq = rec.seq + 1
        last_seq = rec.seq
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if head is None:
        if last_seq:
            problems.append("audit head missing while records exist")
    elif head.seq != last_seq:
        problems.append(f"chain ends at record {last_seq} but the head says {head.seq} (rows removed)")
    elif head.hash != prev:
        problems.append("the head hash does not match the last record")
    return problems


def trail(session: Session, case_id: str) -> list[AuditRecord]:
    return list(session.scalars(select(AuditRecord).where(AuditRecord.case_id == case_id).order_by(AuditRecord.seq)))
