"""Grades move with the violations in the window: red → yellow → green as they age out; every change kept
with its reason. Business-type and inspection-score rule sets."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from central.domain import grades
from central.domain.inspections import record_inspection
from central.orm.cases import Case, Complaint
from central.orm.grades import GradeChange
from central.orm.shops import Shop
from wire.ids import new_id

from .conftest import T0


def _confirmed(session, shop_id: str, at, **kw) -> None:
    fields = {"state": "resolved", "is_open": False, "strike": 1} | kw
    session.add(Case(id=new_id(), shop_id=shop_id, violation="piled_goods", opened_at=at, confirmed_at=at, **fields))


def test_red_yellow_green_as_violations_age(any_session, any_world, settings) -> None:
    s = any_session
    any_world.shop("A", zone="za")
    any_world.shop("B", zone="zb")
    window = timedelta(days=settings.strike_window_days)
    for days in (0, 10, 20):  # three violations
        _confirmed(s, "A", T0 + timedelta(days=days))
    for days in (30, 40):  # and two citizen complaints: 5 in the window → red
        s.add(Complaint(shop_id="A", at=T0 + timedelta(days=days), text="boxes on the pavement"))
    _confirmed(s, "B", T0, state="dismissed")  # dismissed: never counts
    s.flush()

    run = grades.recompute(s, now=T0 + timedelta(days=41), settings=settings)
    assert run.shops == 2 and run.changed == 2
    assert s.get(Shop, "A").grade == "red" and s.get(Shop, "B").grade == "green"

    # 2 violations age out → 3 in the window → yellow; 2 more → 1 → green
    grades.recompute(s, now=T0 + window + timedelta(days=15), settings=settings)
    assert s.get(Shop, "A").grade == "yellow"
    grades.recompute(s, now=T0 + window + timedelta(days=35), settings=settings)
    assert s.get(Shop, "A").grade == "green"
    again = grades.recompute(s, now=T0 + window + timedelta(days=36), settings=settings)
    assert again.changed == 0

    hist = list(s.scalars(select(GradeChange).where(GradeChange.shop_id == "A").order_by(GradeChange.id)))
    assert [(h.old_grade, h.new_grade) for h in hist] == [
        (None, "red"),
        ("red", "yellow"),
        ("yellow", "green"),
    ]
    assert "3 violations + 2 complaints" in hist[0].reason
    assert "1 violations + 2 complaints" in hist[1].reason
    assert grades.distribution(s) == {"green": 2, "yellow": 0, "red": 0, "ungraded": 0}


def test_business_type_rule(any_session, any_world, settings) -> None:
    session, world = any_session, any_world
    for sid, bt in (("F", "Fruit shop"), ("R", "small restaurant"), ("H", "hardware"), ("C", "clothing")):
        world.shop(sid, zone=f"z{sid}", business_type=bt)
    session.execute(Shop.__table__.update().values(created_at=T0))  # registered on T0
    rules = settings.model_copy(update={"grade_rules": "business_type"})
    grades.recompute(session, now=T0, settings=rules)
    got = {s.id: s.grade for s in session.scalars(select(Shop))}
    assert got == {"F": "red", "R": "yellow", "H": "yellow", "C": "green"}
    # after probation the counts decide: the clean fruit shop turns green, the clothing shop with 3 → yellow
    for d in range(3):
        _confirmed(session, "C", T0 + timedelta(days=100 + d))
    session.flush()
    grades.recompute(session, now=T0 + timedelta(days=120), settings=rules)
    got = {s.id: s.grade for s in session.scalars(select(Shop))}
    assert got == {"F": "green", "R": "green", "H": "green", "C": "yellow"}


@pytest.mark.parametrize(
    "scores,expect",
    [((90, 95, 88), "green"), ((70, 65, 80), "yellow"), ((40, 50, 55), "red"), ((95, 95, 30), "yellow")],
)
def test_inspection_score_rule(any_session, any_world, settings, scores, expect) -> None:
    session, world = any_session, any_world
    rules = settings.model_copy(update={"grade_rules": "inspection_score"})
    world.shop("A", zone="za")
    world.shop("N", zone="zn")  # never inspected: counts decide
    record_inspection(
        session,
        "A",
        inspector="li",
        waste=50,
        sanitation=50,
        advertising=50,
        at=T0 - timedelta(days=30),
        settings=rules,
    )
    ins = record_inspection(
        session,
        "A",
        inspector="li",
        waste=scores[0],
        sanitation=scores[1],
        advertising=scores[2],
        at=T0,
        settings=rules,
    )
    assert ins.result == expect
    grades.recompute(session, now=T0 + timedelta(hours=1), settings=rules)
    assert session.get(Shop, "A").grade == expect  # the latest inspection counts, not the older one
    assert session.get(Shop, "N").grade == "green"


def test_engine_is_vectorised_over_many_shops(session, settings) -> None:
    n = 3000
    rows = [{"id": f"s{i:05d}", "name": f"S{i}", "business_type": "fruit" if i % 3 == 0 else "other"} for i in range(n)]
    session.execute(Shop.__table__.insert(), rows)
    rng = np.random.default_rng(1)
    for i in rng.choice(n, 200, replace=False):
        for _ in range(int(rng.integers(1, 7))):
            _confirmed(session, f"s{i:05d}", T0)
    session.flush()
    run = grades.recompute(session, now=T0 + timedelta(days=1), settings=settings)
    expected = {}
    for sid, n_cases in session.execute(select(Case.shop_id, grades.func.count()).group_by(Case.shop_id)):
        expected[sid] = "red" if n_cases >= 5 else "yellow" if n_cases >= 3 else "green"
    got = dict(session.execute(select(Shop.id, Shop.grade)).all())
    assert all(got[sid] == g for sid, g in expected.items())
    assert sum(1 for g in got.values() if g == "green") == run.distribution["green"]
    assert run.shops == n


def test_tick_refreshes_grades_periodically(session, world, settings) -> None:
    from central import workflow

    world.shop("A", zone="za")
    for d in range(3):
        _confirmed(session, "A", T0 + timedelta(days=d))
    session.flush()
    workflow.tick(session, T0 + timedelta(days=3), settings)
    assert session.get(Shop, "A").grade == "yellow"
    # within the refresh interval nothing is recomputed, even though the window has moved on
    _confirmed(session, "A", T0 + timedelta(days=3))
    _confirmed(session, "A", T0 + timedelta(days=3))
    session.flush()
    workflow.tick(session, T0 + timedelta(days=3, minutes=10), settings)
    assert session.get(Shop, "A").grade == "yellow"
    workflow.tick(session, T0 + timedelta(days=3, hours=2), settings)
    assert session.get(Shop, "A").grade == "red"
    workflow.tick(session, T0 + timedelta(days=400), settings)
    assert session.get(Shop, "A").grade == "green"
    reasons = [h.reason for h in grades.history(session, "A")]
    assert reasons[0].startswith("periodic: 0 violations")
