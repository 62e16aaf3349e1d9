"""Commands for edges, written in the caller's transaction and published after commit (transactional outbox).

`enqueue_command` only inserts a row; `IngestService` claims pending rows, publishes them QoS 1 to the
camera's `cmd` topic and marks them sent after the PUBACK. A row claimed by an instance that died is
reclaimed after `CLAIM_TIMEOUT`. Edges drop a command whose message_id they have already handled.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from central.domain.clock import now_utc
from central.orm.events import Outbox
from wire.schema import CommandMessage, encode

CLAIM_TIMEOUT = timedelta(seconds=30)


def enqueue_command(session: Session, cmd: CommandMessage) -> None:
    """Add `cmd` to the outbox; it leaves when the caller's transaction commits."""
    if not isinstance(cmd, CommandMessage):
        raise TypeError(f"enqueue_command needs a CommandMessage, not {type(cmd).__name__}")
    session.add(
        Outbox(
            message_id=cmd.message_id,
            command_id=cmd.command_id,
            site_id=cmd.site_id,
            camera_id=cmd.camera_id,
            cmd=cmd.cmd,
            payload=encode(cmd).decode("utf-8"),
        )
    )
    session.flush()


def pending(session: Session, limit: int = 100) -> list[Outbox]:
    return list(
        session.scalars(select(Outbox).where(Outbox.sent_at.is_(None)).order_by(Outbox.id).limit(limit))
    )


def claim(session: Session, owner: str, limit: int = 100, now: datetime | None = None) -> list[Outbox]:
    """Claim up to `limit` unsent rows for `owner` (rows not claimed, or claimed longer ago than the timeout).
    Commits. Each row is claimed by a conditional UPDATE, so two instances never both own one."""
    now = now or now_utc()
    stale = now - CLAIM_TIMEOUT
    candidates = session.scalars(
        select(Outbox.id)
        .where(Outbox.sent_at.is_(None), or_(Outbox.claimed_at.is_(None), Outbox.claimed_at < stale))
        .order_by(Outbox.id)
        .limit(limit)
    ).all()
    won: list[int] = []
    for row_id in candidates:
        res = session.execute(
            update(Outbox)
            .where(
                Outbox.id == row_id,
                Outbox.sent_at.is_(None),
                or_(Outbox.claimed_at.is_(None), Outbox.claimed_at < stale),
            )
            .values(claimed_by=owner, claimed_at=now, attempts=Outbox.attempts + 1)
        )
        if res.rowcount == 1:
            won.append(row_id)
    session.commit()
    if not won:
        return []
    return list(session.scalars(select(Outbox).where(Outbox.id.in_(won)).order_by(Outbox.id)))


def mark_sent(session: Session, row_id: int, now: datetime | None = None) -> None:
    session.execute(
        update(Outbox).where(Outbox.id == row_id).values(sent_at=now or now_utc(), last_error=None)
    )
    session.commit()


def release(session: Session, row_id: int, error: str, now: datetime | None = None) -> None:
    """Publishing failed: give the row back; it is retried after CLAIM_TIMEOUT."""
    session.execute(
        update(Outbox)
        .where(Outbox.id == row_id, Outbox.sent_at.is_(None))
        .values(claimed_by=None, claimed_at=now or now_utc(), last_error=error[:500])
    )
    session.commit()
