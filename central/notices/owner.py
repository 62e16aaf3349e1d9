"""What a shop owner can do from their page: say a problem is fixed (with a photo), which starts the camera
recheck at once through the same path the expiring window takes; or appeal a case, which puts it in the
review queue. Functions flush but never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.domain import audit, cases, rectification
from central.domain.clock import as_utc, now_utc
from central.domain.errors import InvalidTransition, NotFound
from central.orm.cases import Case
from central.orm.notices import Appeal
from central.settings import CentralSettings


def _owned_case(session: Session, shop_id: str, case_id: str) -> Case:
    case = cases.get_case(session, case_id, lock=True) if session.get(Case, case_id) is not None else None
    if case is None or case.shop_id != shop_id:
        raise NotFound(f"no case {case_id!r} for this shop")
    return case


def report_fixed(session: Session, shop_id: str, case_id: str, *, photo_sha256: str, settings: CentralSettings,
                 now: datetime | None = None) -> Case:
    """The owner says it is fixed: keep their photo with the case and recheck now instead of at the end of
    the window (a camera recheck command, or an officer task where no camera can look)."""
    now = as_utc(now) or now_utc()
    case = _owned_case(session, shop_id, case_id)
    if case.state != "notified":
        raise InvalidTransition(f"case {case_id} is {case.state}; 'fixed' is for a case waiting for its owner")
    case.evidence = [*case.evidence, photo_sha256]
    session.flush()
    audit.record(session, actor=f"owner:{shop_id}", action="case.owner_fixed", case_id=case.id, shop_id=shop_id,
                 at=now, details={"photo": photo_sha256}, evidence=[photo_sha256])
    rectification.start_recheck(session, case, settings=settings, now=now)
    return case


def open_appeal(session: Session, case_id: str) -> Appeal | None:
    return session.scalar(select(Appeal).where(Appeal.case_id == case_id, Appeal.status == "open"))


def appeal(session: Session, shop_id: str, case_id: str, *, reason: str, now: datetime | None = None) -> Appeal:
    now = as_utc(now) or now_utc()
    reason = reason.strip()
    if not reason:
        raise InvalidTransition("an appeal needs a reason")
    case = _owned_case(session, shop_id, case_id)
    if case.confirmed_at is None or case.state in ("dismissed", "annulled"):
        raise InvalidTransition(f"case {case_id} is {case.state}; only a confirmed case can be appealed")
    if open_appeal(session, case_id) is not None:
        raise InvalidTransition(f"case {case_id} already has an appeal waiting for review")
    row = Appeal(case_id=case.id, shop_id=shop_id, reason=reason[:2000], created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=f"owner:{shop_id}", action="case.appeal", case_id=case.id, shop_id=shop_id, at=now,
                 details={"appeal_id": row.id, "reason": row.reason})
    return row
