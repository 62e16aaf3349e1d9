"""Taking back a dismissal a moment after it was made: the case is `detected` again, back in the queue.

Allowed for `window_s` after the dismissal and only while no newer case for the same shop and violation
is open (one open case per shop and violation). The audit trail keeps both the dismissal and its undo."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from central.domain import audit
from central.domain.cases import find_open_case, get_case
from central.domain.clock import as_utc, now_utc
from central.domain.errors import InvalidTransition
from central.domain.scope import EVERYWHERE, Scope
from central.orm.cases import Case

UNDO_WINDOW_S = 300.0


def undo_dismiss(session: Session, case_id: str, *, actor: str, now: datetime | None = None,
                 window_s: float = UNDO_WINDOW_S, scope: Scope = EVERYWHERE) -> Case:
    now = as_utc(now) or now_utc()
    case = get_case(session, case_id, lock=True, scope=scope)
    if case.state != "dismissed":
        raise InvalidTransition(f"case {case_id} is {case.state}; only a dismissed case can be restored")
    closed = as_utc(case.closed_at)
    if closed is None or now - closed > timedelta(seconds=window_s):
        raise InvalidTransition(f"case {case_id} was dismissed more than {window_s:.0f} s ago; it stays dismissed")
    newer = find_open_case(session, case.shop_id, case.violation)
    if newer is not None:
        raise InvalidTransition(f"case {newer.id} is open for the same shop and violation; case {case_id} "
                                "stays dismissed")
    reason = case.closed_reason
    case.state, case.is_open, case.closed_at, case.closed_reason = "detected", True, None, None
    session.flush()
    audit.record(session, actor=actor, action="case.undo_dismiss", case_id=case.id, shop_id=case.shop_id, at=now,
                 details={"from": "dismissed", "to": "detected", "dismissal_reason": reason})
    return case
