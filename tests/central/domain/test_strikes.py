"""Three strikes: advice, rectification notice, penalty; the third case cannot close without a penalty."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from central import workflow
from central.domain import cases, rectification
from central.domain.errors import InvalidTransition, PenaltyRequired
from central.domain.strikes import prior_strikes
from central.orm.cases import Case

from .conftest import T0


def _violation(s, w, settings, at, *, fixed: bool):
    """One confirmed case for shop A that the shop fixed in time (clear) or did not (officer resolves it)."""
    case = workflow.handle_event(s, w.event(zone="za", at=at), settings, now=at)
    cases.confirm(s, case.id, actor="op", settings=settings, now=at + timedelta(minutes=1))
    workflow.tick(s, at + timedelta(minutes=32), settings)
    workflow.handle_recheck(
        s,
        w.recheck(case, "clear" if fixed else "present", at + timedelta(minutes=33)),
        settings,
        now=at + timedelta(minutes=33),
    )
    return case


def test_three_strikes_penalty_required_to_close(any_session, any_world, settings) -> None:
    s, w = any_session, any_world
    w.shop("A", zone="za")
    strict = settings.model_copy(update={"lenient_self_rectified": False})

    c1 = _violation(s, w, strict, T0, fixed=True)
    assert (c1.strike, c1.notices[0].kind, c1.state) == (1, "advice", "rectified")

    c2 = _violation(s, w, strict, T0 + timedelta(days=3), fixed=False)
    assert (c2.strike, c2.notices[0].kind, c2.state) == (2, "rectification_notice", "escalated")
    esc = c2.tasks[0]
    rectification.complete_task(
        s,
        esc.id,
        actor="officer",
        outcome="resolved",
        note="goods moved",
        evidence=["ef" * 32],
        settings=strict,
        now=T0 + timedelta(days=3, hours=2),
    )
    assert c2.state == "resolved" and not c2.is_open

    c3 = _violation(s, w, strict, T0 + timedelta(days=10), fixed=True)
    assert (c3.strike, c3.notices[0].kind) == (3, "penalty_notice")
    # the shop fixed it, but a third strike must be punished: the case waits for the penalty
    assert c3.state == "penalty_due" and c3.is_open
    with pytest.raises(PenaltyRequired):
        rectification.close_case(s, c3.id, actor="officer", reason="done", now=T0 + timedelta(days=10, hours=1))
    with pytest.raises(PenaltyRequired):
        rectification.complete_task(s, c3.tasks[-1].id, actor="officer", outcome="done", settings=strict)
    rectification.record_penalty(
        s, c3.id, actor="officer", ticket_no="P-2026-0001", amount=200.0, now=T0 + timedelta(days=10, hours=2)
    )
    assert c3.state == "rectified" and not c3.is_open and c3.penalties[0].ticket_no == "P-2026-0001"
    s.commit()

    # the window rolls: a year later the old strikes have aged out
    assert prior_strikes(s, "A", T0 + timedelta(days=11), strict) == 3
    assert prior_strikes(s, "A", T0 + timedelta(days=380), strict) == 0


def test_lenient_policy_still_counts_self_rectified_cases(session, world, settings) -> None:
    """Leniency lightens the sanction; a violation the shop fixed is still a violation (issue 23, item 7)."""
    s, w = session, world
    w.shop("A", zone="za")
    c1 = _violation(s, w, settings, T0, fixed=True)
    c2 = _violation(s, w, settings, T0 + timedelta(days=1), fixed=False)
    assert c1.self_rectified and c1.strike == 1 and c1.state == "rectified"
    assert c2.strike == 2 and c2.notices[0].kind == "rectification_notice"


def test_dismissed_cases_do_not_count_and_transitions_are_guarded(session, world, settings) -> None:
    s, w = session, world
    w.shop("A", zone="za")
    c = workflow.handle_event(s, w.event(zone="za"), settings, now=T0)
    cases.dismiss(s, c.id, actor="op", reason="shadow, not goods", now=T0)
    assert c.state == "dismissed" and not c.is_open
    with pytest.raises(InvalidTransition):
        cases.confirm(s, c.id, actor="op", settings=settings, now=T0)
    # a new event opens a new case, at strike 1
    c2 = workflow.handle_event(s, w.event(zone="za", at=T0 + timedelta(hours=1)), settings, now=T0 + timedelta(hours=1))
    assert c2.id != c.id
    cases.confirm(s, c2.id, actor="op", settings=settings, now=T0 + timedelta(hours=1))
    assert c2.strike == 1
    with pytest.raises(InvalidTransition):
        cases.dismiss(s, c2.id, actor="op", reason="late", now=T0)


def test_strike_window_is_configurable(any_session, any_world, settings) -> None:
    """Two violations 40 days apart: strike 2 with the default 12-month window, strike 1 again with 30 days;
    the grade counts use the same window."""
    from central.domain import grades

    s, w = any_session, any_world
    w.shop("A", zone="za")
    w.shop("B", zone="zb")
    short = settings.model_copy(update={"strike_window_days": 30, "lenient_self_rectified": False})
    long = settings.model_copy(update={"lenient_self_rectified": False})
    for zone, rules in (("za", long), ("zb", short)):
        for days in (0, 40):
            at = T0 + timedelta(days=days)
            case = workflow.handle_event(s, w.event(zone=zone, at=at), rules, now=at)
            cases.confirm(s, case.id, actor="op", settings=rules, now=at)
            rectification.close_case(s, case.id, actor="officer", reason="settled", evidence=["ef" * 32],
                             now=at + timedelta(hours=1))
    s.commit()
    a, b = (sorted(s.scalars(select(Case).where(Case.shop_id == x)), key=lambda c: c.confirmed_at) for x in "AB")
    assert [c.strike for c in a] == [1, 2] and [c.notices[0].kind for c in a] == ["advice", "rectification_notice"]
    assert [c.strike for c in b] == [1, 1] and [c.notices[0].kind for c in b] == ["advice", "advice"]
    assert prior_strikes(s, "B", T0 + timedelta(days=41), short) == 1
    assert prior_strikes(s, "B", T0 + timedelta(days=41), long) == 2
    data = grades.load_inputs(s, T0 + timedelta(days=41), short)
    assert dict(zip(data.ids.tolist(), data.violations.tolist(), strict=True)) == {"A": 1, "B": 1}
