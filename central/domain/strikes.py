"""Three strikes: confirmed violations of one shop in a rolling window decide what the owner is sent.

1st → advice (劝导), 2nd → written rectification notice (整改通知), 3rd and later → penalty (处罚单).
Dismissed cases never count; cases the shop fixed inside its window do not count towards later strikes
when `settings.lenient_self_rectified` is on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.orm.cases import Case
from central.settings import CentralSettings

PENALTY_STRIKE = 3
NOTICE_KINDS = {1: "advice", 2: "rectification_notice"}


def notice_kind(strike: int) -> str:
    return NOTICE_KINDS.get(strike, "penalty_notice")


def counting_filter(settings: CentralSettings):
    """SQL condition: the case counts as a strike (confirmed, not dismissed, leniency applied)."""
    cond = Case.confirmed_at.is_not(None) & (Case.state != "dismissed")
    if settings.lenient_self_rectified:
        cond = cond & Case.self_rectified.is_(False)
    return cond


def prior_strikes(
    session: Session,
    shop_id: str,
    now: datetime,
    settings: CentralSettings,
    *,
    exclude_case: str | None = None,
) -> int:
    since = now - timedelta(days=settings.strike_window_days)
    stmt = (
        select(func.count())
        .select_from(Case)
        .where(Case.shop_id == shop_id, Case.confirmed_at >= since, Case.confirmed_at <= now)
        .where(counting_filter(settings))
    )
    if exclude_case is not None:
        stmt = stmt.where(Case.id != exclude_case)
    return int(session.scalar(stmt) or 0)


NOTICE_TEXT = {
    "advice": "Advice: goods or trading outside your door were seen ({violation}). Please clear the door "
    "strip within {minutes} minutes; it will be checked again.",
    "rectification_notice": "Written rectification notice: second violation in {days} days ({violation}). "
    "Clear the door strip within {minutes} minutes; it will be checked again.",
    "penalty_notice": "Penalty notice: violation number {strike} in {days} days ({violation}). A penalty "
    "ticket will be issued; clear the door strip within {minutes} minutes.",
}


def notice_text(kind: str, *, strike: int, violation: str, settings: CentralSettings) -> str:
    return NOTICE_TEXT[kind].format(
        strike=strike,
        violation=violation.replace("_", " "),
        minutes=round(settings.self_rectify_window_s / 60),
        days=settings.strike_window_days,
    )
