"""The rows a batch of messages looks at: fetched for the whole batch in a few IN queries, then answered
from memory."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.ingest.inbound import Rejected
from central.orm.events import Event, EventPhaseRecord, Evidence, RecheckRecord
from wire.schema import Bundle, EventMessage, EvidenceMessage, RecheckResult


class Rows:
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
