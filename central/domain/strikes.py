"""Three strikes (三次违法必罚): confirmed violations of one shop in a rolling window decide the sanction.

The strike number of a case is a function of confirmed violations only:

    strike(case) = number of the shop's cases confirmed in [t - W, t] and neither dismissed nor annulled,
                   this one included, where t = the case's confirmation time and W = settings.strike_window_days.

A case annulled by an upheld appeal (`central.domain.appeals`) stops counting: the later cases are
renumbered by this same function.

Whether earlier cases were fixed by the shop, and when they were judged, does not change the count: fixing a
violation is not undoing it. The sanction follows the strike (Suzhou, seed 002: 一次劝导、二次下达整改通知、
三次开具处罚单):

    strike 1 → advice (劝导)                     strike 2 → written rectification notice (整改通知)
    strike ≥ 3 → penalty ticket (处罚单); the case cannot close without one

`settings.lenient_self_rectified` (on by default) lightens, it never erases: a shop that fixes a strike ≥ 3
inside its window still gets the penalty ticket, marked "lighter penalty" (从轻处罚) for the officer; at
strikes 1–2 a fixed case needs nothing more (主动整改的商户一般免于处罚). Grades count the same violations.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.domain.clock import to_local
from central.orm.cases import Case
from central.settings import CentralSettings

PENALTY_STRIKE = 3
NOTICE_KINDS = {1: "advice", 2: "rectification_notice"}
# people-facing names of the notice kinds (Chinese first); every value notice_kind() returns has one
NOTICE_LABELS = {
    "advice": "劝导 Advice",
    "rectification_notice": "整改通知 Written rectification notice",
    "penalty_notice": "处罚通知 Penalty notice",
}
NOT_COUNTING = ("dismissed", "annulled")  # closed states that are no violation
SANCTIONS = ("advice", "rectification_notice", "penalty", "lighter_penalty")
VIOLATION_NAMES = {"cross_door_trading": "跨门经营 cross-door trading", "piled_goods": "占道堆物 piled goods"}


def notice_kind(strike: int) -> str:
    return NOTICE_KINDS.get(strike, "penalty_notice")


def sanction(strike: int, *, self_rectified: bool, settings: CentralSettings) -> str:
    """What the case calls for once judged: advice, rectification_notice, penalty or lighter_penalty."""
    if strike < PENALTY_STRIKE:
        return "advice" if strike <= 1 else "rectification_notice"
    return "lighter_penalty" if self_rectified and settings.lenient_self_rectified else "penalty"


def counting_filter(settings: CentralSettings):
    """SQL condition: the case counts as a violation (confirmed, neither dismissed nor annulled by an upheld
    appeal). Self-rectified cases count too; `settings` is kept for rule variants."""
    return Case.confirmed_at.is_not(None) & Case.state.not_in(NOT_COUNTING)


def prior_strikes(
    session: Session,
    shop_id: str,
    now: datetime,
    settings: CentralSettings,
    *,
    exclude_case: str | None = None,
) -> int:
    """Violations of the shop confirmed in [now - window, now] (so a case confirmed at `now` is strike
    prior_strikes + 1)."""
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
    "advice": "【劝导】您的门前发现{violation_zh}。请在 {deadline} 前清理门前责任区，届时将复查。\n"
    "Advice: {violation_en} was seen outside your door. Please clear the door strip before {deadline} "
    "({minutes} minutes); it will be checked again.",
    "rectification_notice": "【整改通知】{days} 天内第二次违反门前责任区规定（{violation_zh}）。请在 {deadline} 前"
    "整改，届时将复查。\nWritten rectification notice: second violation in {days} days ({violation_en}). "
    "Clear the door strip before {deadline} ({minutes} minutes); it will be checked again.",
    "penalty_notice": "【处罚通知】{days} 天内第 {strike} 次违反门前责任区规定（{violation_zh}），将开具处罚单；"
    "请在 {deadline} 前清理。\nPenalty notice: violation number {strike} in {days} days ({violation_en}). "
    "A penalty ticket will be issued; clear the door strip before {deadline} ({minutes} minutes).",
}


def notice_text(kind: str, *, strike: int, violation: str, settings: CentralSettings, deadline: datetime) -> str:
    """The owner's notice; the deadline (end of the self-rectification window) in the deployment's local time."""
    zh, en = VIOLATION_NAMES.get(violation, f"{violation} {violation.replace('_', ' ')}").split(" ", 1)
    return NOTICE_TEXT[kind].format(
        strike=strike,
        violation_zh=zh,
        violation_en=en,
        minutes=round(settings.self_rectify_window_s / 60),
        days=settings.strike_window_days,
        deadline=f"{to_local(deadline, settings.timezone):%m-%d %H:%M}",
    )
