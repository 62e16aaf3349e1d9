"""An upheld appeal undoes the strike: the case is annulled and stops counting (strike count, sanction and grade
recomputed by the domain's own functions), audited; a rejected appeal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from central import workflow
from central.domain import appeals, cases
from central.domain.errors import InvalidTransition
from central.domain.strikes import prior_strikes
from central.notices import owner
from central.orm.audit import AuditRecord
from central.orm.grades import GradeChange
from central.orm.shops import Shop

from .conftest import T0


def _violation(s, w, settings, at):
    """One confirmed case of shop A that the shop fixed in its window (the camera saw it clear)."""
    case = workflow.handle_event(s, w.event(zone="za", at=at), settings, now=at)
    cases.confirm(s, case.id, actor="op", settings=settings, now=at + timedelta(minutes=1))
    workflow.tick(s, at + timedelta(minutes=32), settings)
    workflow.handle_recheck(s, w.recheck(case, "clear", at + timedelta(minutes=33)), settings,
                            now=at + timedelta(minutes=33))
    return case


def _three(s, w, settings):
    w.shop("A", zone="za")
    c1, c2, c3 = (_violation(s, w, settings, T0 + timedelta(days=d)) for d in (0, 3, 10))
    assert [c.strike for c in (c1, c2, c3)] == [1, 2, 3]
    assert c3.state == "penalty_due" and [t.kind for t in c3.tasks if t.status == "open"] == ["penalty"]
    assert s.get(Shop, "A").grade == "yellow"  # 3 violations in the window (counts rule: 3–4 yellow)
    return c1, c2, c3


def _actions(s, case_id: str) -> list[str]:
    return list(s.scalars(select(AuditRecord.action).where(AuditRecord.case_id == case_id).order_by(AuditRecord.seq)))


def test_upheld_appeal_on_the_third_strike_undoes_it(any_session, any_world, settings) -> None:
    s, w = any_session, any_world
    c1, c2, c3 = _three(s, w, settings)
    later = T0 + timedelta(days=10, hours=2)
    row = owner.appeal(s, "A", c3.id, reason="the boxes were the courier's", now=later)
    appeals.decide(s, row.id, outcome="upheld", actor="rev", settings=settings, note="courier's boxes",
                   now=later + timedelta(hours=1))
    s.commit()

    assert (c3.state, c3.is_open) == ("annulled", False)
    assert prior_strikes(s, "A", later + timedelta(hours=2), settings) == 2
    # no penalty: the penalty task is closed as annulled, nothing is waiting
    assert [(t.kind, t.status, t.outcome) for t in c3.tasks] == [("penalty", "done", "annulled")]
    assert not c3.penalties
    shop = s.get(Shop, "A")
    assert shop.grade == "green"  # 2 violations now
    change = s.scalars(select(GradeChange).where(GradeChange.shop_id == "A").order_by(GradeChange.id)).all()[-1]
    assert (change.old_grade, change.new_grade) == ("yellow", "green") and "appeal upheld" in change.reason
    assert _actions(s, c3.id)[-3:] == ["case.appeal", "appeal.upheld", "case.annul"]
    # the next violation is strike 3 again, not 4: the annulled case is gone from the count
    c4 = _violation(s, w, settings, T0 + timedelta(days=20))
    assert c4.strike == 3 and c4.notices[0].kind == "penalty_notice"
    # an annulled case can be neither appealed again nor annulled twice
    with pytest.raises(InvalidTransition):
        owner.appeal(s, "A", c3.id, reason="again")
    with pytest.raises(InvalidTransition):
        appeals.annul(s, c3.id, actor="rev", reason="again", settings=settings)


def test_upheld_appeal_on_the_first_renumbers_the_later_ones(session, world, settings) -> None:
    s, w = session, world
    c1, c2, c3 = _three(s, w, settings)
    row = owner.appeal(s, "A", c1.id, reason="not our shop", now=T0 + timedelta(days=11))
    appeals.decide(s, row.id, outcome="upheld", actor="rev", settings=settings, now=T0 + timedelta(days=11))
    s.commit()
    assert c1.state == "annulled" and (c2.strike, c3.strike) == (1, 2)
    # strike 2 needs no penalty: the third case (waiting for its ticket) closes as rectified
    assert (c3.state, c3.is_open) == ("rectified", False) and "no penalty due" in c3.closed_reason
    assert [(t.kind, t.status, t.outcome) for t in c3.tasks] == [("penalty", "done", "annulled")]
    assert _actions(s, c3.id)[-1] == "case.restrike" and _actions(s, c2.id)[-1] == "case.restrike"
    assert s.get(Shop, "A").grade == "green"


def test_rejected_appeal_changes_nothing(session, world, settings) -> None:
    s, w = session, world
    c1, c2, c3 = _three(s, w, settings)
    row = owner.appeal(s, "A", c3.id, reason="no", now=T0 + timedelta(days=11))
    appeals.decide(s, row.id, outcome="rejected", actor="rev", settings=settings, now=T0 + timedelta(days=11))
    s.commit()
    assert c3.state == "penalty_due" and c3.strike == 3 and s.get(Shop, "A").grade == "yellow"
    assert prior_strikes(s, "A", T0 + timedelta(days=12), settings) == 3
    with pytest.raises(InvalidTransition):  # decided once
        appeals.decide(s, row.id, outcome="upheld", actor="rev", settings=settings)
