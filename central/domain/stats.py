"""Statistics for the dashboard: grade distribution over time, violations per day, self-rectification rate.

Counted in Python over the rows of the period, bucketed by local day (`tz`, the deployment's
settings.timezone), so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.domain.clock import local_day, local_day_bounds
from central.domain.grades import GRADES
from central.domain.scope import EVERYWHERE, Scope
from central.orm.cases import Case
from central.orm.grades import GradeChange

# a case is decided once the shop's window has been judged: fixed by the shop or not (closed, escalated,
# waiting for its penalty); cases still waiting for the window, the camera or an officer are not
DECIDED_STATES = ("rectified", "resolved", "escalated", "penalty_due")


def _start(day: date, tz: str) -> datetime:
    """The UTC instant the local day starts."""
    return local_day_bounds(day, tz)[0]


def _days(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError("end is before start")
    if (end - start).days > 3660:
        raise ValueError("period longer than ten years")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def grade_distribution_over_time(session: Session, start: date, end: date, *, tz: str = "UTC",
                                 scope: Scope = EVERYWHERE) -> list[dict]:
    """Shops per grade at the end of each day, replayed from the grade history."""
    days = _days(start, end)
    counts = Counter()
    # everything before the period sets the starting point
    before = session.execute(
        select(GradeChange.old_grade, GradeChange.new_grade, func.count())
        .where(GradeChange.at < _start(start, tz), scope.by_shop(GradeChange.shop_id))
        .group_by(GradeChange.old_grade, GradeChange.new_grade)
    )
    for old, new, n in before:
        counts[new] += n
        if old:
            counts[old] -= n
    rows = session.execute(
        select(GradeChange.at, GradeChange.old_grade, GradeChange.new_grade)
        .where(GradeChange.at >= _start(start, tz), GradeChange.at < _start(end + timedelta(1), tz),
               scope.by_shop(GradeChange.shop_id))
        .order_by(GradeChange.at)
    )
    per_day: dict[date, Counter] = {}
    for at, old, new in rows:
        c = per_day.setdefault(local_day(at, tz), Counter())
        c[new] += 1
        if old:
            c[old] -= 1
    out = []
    for d in days:
        counts.update(per_day.get(d, Counter()))
        out.append({"day": d.isoformat(), **{g: int(counts[g]) for g in GRADES}})
    return out


def violations_per_day(session: Session, start: date, end: date, *, tz: str = "UTC",
                       scope: Scope = EVERYWHERE) -> list[dict]:
    """Cases opened per day by violation type, and how many of them were confirmed / dismissed."""
    days = _days(start, end)
    rows = session.execute(
        select(Case.opened_at, Case.violation, Case.confirmed_at, Case.state).where(
            Case.opened_at >= _start(start, tz), Case.opened_at < _start(end + timedelta(1), tz),
            scope.by_shop(Case.shop_id),
        )
    )
    per: dict[date, Counter] = {d: Counter() for d in days}
    for opened, violation, confirmed, state in rows:
        c = per[local_day(opened, tz)]
        c["total"] += 1
        c[violation] += 1
        c["confirmed"] += confirmed is not None
        c["dismissed"] += state == "dismissed"
    return [
        {
            "day": d.isoformat(),
            "total": per[d]["total"],
            "cross_door_trading": per[d]["cross_door_trading"],
            "piled_goods": per[d]["piled_goods"],
            "confirmed": per[d]["confirmed"],
            "dismissed": per[d]["dismissed"],
        }
        for d in days
    ]


def self_rectification_rate(session: Session, start: date, end: date, *, tz: str = "UTC",
                            scope: Scope = EVERYWHERE) -> dict:
    """Of the cases notified in the period that are decided (see DECIDED_STATES), the share the shop fixed
    itself. Cases still waiting (window, camera recheck, officer) are counted apart, never as "not fixed"."""
    rows = session.execute(
        select(Case.state, Case.self_rectified).where(
            Case.notified_at >= _start(start, tz), Case.notified_at < _start(end + timedelta(1), tz),
            scope.by_shop(Case.shop_id),
        )
    )
    notified = decided = fixed = 0
    for state, self_fixed in rows:
        notified += 1
        if state in DECIDED_STATES:
            decided += 1
            fixed += bool(self_fixed)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "notified": notified,
        "judged": decided,
        "pending": notified - decided,
        "self_rectified": fixed,
        "rate": round(fixed / decided, 4) if decided else None,
    }
