"""Hot spots (≥5 tickets at an address, until none open), road grades, and the statistics."""

from __future__ import annotations

from datetime import date, timedelta

from central.domain import grades, hotspots, stats
from central.orm.cases import Case
from central.orm.grades import GradeChange
from central.orm.shops import Shop
from wire.ids import new_id

from .conftest import T0


def _case(session, shop_id: str, at, *, is_open: bool, **kw) -> Case:
    c = Case(
        id=new_id(),
        shop_id=shop_id,
        violation=kw.pop("violation", "piled_goods"),
        state="escalated" if is_open else "resolved",
        is_open=is_open,
        opened_at=at,
        **kw,
    )
    session.add(c)
    return c


def test_hotspot_opens_at_five_tickets_and_clears_when_none_open(any_session, any_world, settings) -> None:
    session, world = any_session, any_world
    world.shop("A", zone="za", address="88 Market Street", road="Market Street")
    world.shop("B", zone="zb", address="88 Market Street", road="Market Street")  # same address, other shop
    world.shop("C", zone="zc", address="1 Quiet Lane", road="Quiet Lane")
    for i in range(3):
        _case(session, "A", T0 + timedelta(hours=i), is_open=False, violation="cross_door_trading")
    _case(session, "B", T0, is_open=False)
    last = _case(session, "B", T0 + timedelta(days=1), is_open=True, violation="cross_door_trading")
    for i in range(4):
        _case(session, "C", T0 + timedelta(hours=i), is_open=i == 0, violation="cross_door_trading")
    session.flush()

    from central import workflow

    workflow.tick(session, T0 + timedelta(days=2), settings)  # the timer refreshes hot spots
    assert [h.address for h in hotspots.hotspots(session)] == ["88 Market Street"]
    assert hotspots.refresh_hotspots(session, now=T0 + timedelta(days=2), settings=settings) == (0, 0)
    spot = hotspots.hotspots(session)[0]
    assert (spot.address, spot.tickets, spot.open_cases) == ("88 Market Street", 5, 1)
    session.get(Shop, "A").grade = "green"
    session.get(Shop, "B").grade = "green"
    session.get(Shop, "C").grade = "yellow"
    roads = {r.road: r for r in hotspots.road_grades(session)}
    assert roads["Market Street"].grade == "red" and roads["Market Street"].hot_spots == 1
    assert roads["Quiet Lane"].grade == "yellow"

    last.is_open, last.state = False, "resolved"
    session.flush()
    assert hotspots.refresh_hotspots(session, now=T0 + timedelta(days=3), settings=settings) == (0, 1)
    assert hotspots.hotspots(session) == []
    assert hotspots.hotspots(session, active_only=False)[0].cleared_at is not None
    assert {r.road: r.grade for r in hotspots.road_grades(session)}["Market Street"] == "green"


def test_statistics(any_session, any_world, settings) -> None:
    s = any_session
    for sid in "ABC":
        any_world.shop(sid, zone=f"z{sid}")
    _case(s, "A", T0, is_open=False, confirmed_at=T0, notified_at=T0, self_rectified=True)
    _case(s, "B", T0, is_open=True, confirmed_at=T0, notified_at=T0, violation="cross_door_trading")
    _case(s, "C", T0 + timedelta(days=1), is_open=False, notified_at=T0 + timedelta(days=1))
    c = _case(s, "A", T0 + timedelta(days=1), is_open=False)
    c.state = "dismissed"
    s.flush()
    per_day = stats.violations_per_day(s, date(2026, 3, 2), date(2026, 3, 4))
    assert [d["total"] for d in per_day] == [2, 2, 0]
    assert per_day[0]["cross_door_trading"] == 1 and per_day[0]["confirmed"] == 2 and per_day[1]["dismissed"] == 1
    rate = stats.self_rectification_rate(s, date(2026, 3, 1), date(2026, 3, 5))
    assert (rate["notified"], rate["judged"], rate["self_rectified"], rate["rate"]) == (3, 3, 1, 0.3333)

    s.add_all(
        [
            GradeChange(
                shop_id="A",
                at=T0 - timedelta(days=5),
                old_grade=None,
                new_grade="green",
                rule_set="counts",
                reason="r",
            ),
            GradeChange(
                shop_id="B",
                at=T0 - timedelta(days=5),
                old_grade=None,
                new_grade="green",
                rule_set="counts",
                reason="r",
            ),
            GradeChange(
                shop_id="B",
                at=T0 + timedelta(hours=2),
                old_grade="green",
                new_grade="red",
                rule_set="counts",
                reason="r",
            ),
            GradeChange(
                shop_id="B",
                at=T0 + timedelta(days=2),
                old_grade="red",
                new_grade="yellow",
                rule_set="counts",
                reason="r",
            ),
        ]
    )
    s.flush()
    dist = stats.grade_distribution_over_time(s, date(2026, 3, 1), date(2026, 3, 4))
    assert [(d["green"], d["yellow"], d["red"]) for d in dist] == [(2, 0, 0), (1, 0, 1), (1, 0, 1), (1, 1, 0)]
    assert [sum(d[g] for g in grades.GRADES) for d in dist] == [2, 2, 2, 2], "every graded shop counted once a day"
