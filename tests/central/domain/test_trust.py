"""Grades, strikes, inspections and statistics a city can trust (issue 23): each test reproduces one
reported wrong answer. Run on SQLite and on PostgreSQL collated by ICU en-US (not C)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from central import workflow
from central.domain import cases, grades, inspections, rectification, stats, strikes
from central.orm.cases import Case, Complaint
from central.orm.shops import Shop
from wire.ids import new_id

from .conftest import T0


def _confirmed(session, shop_id: str, at, **kw) -> None:
    fields = {"state": "resolved", "is_open": False, "strike": 1} | kw
    session.add(Case(id=new_id(), shop_id=shop_id, violation="piled_goods", opened_at=at, confirmed_at=at, **fields))


# ---------------------------------------------------------------- 1: collation


def test_full_recompute_does_not_depend_on_the_database_collation(any_session, any_world, settings) -> None:
    """Ids that a locale collation orders differently from Python (upper/lower case): the full recompute
    gives every shop the grade it gets when graded alone."""
    s = any_session
    ids = ["a1", "B2", "c3", "D4", "e5"]
    for sid in ids:
        any_world.shop(sid, zone=f"z{sid}")
    for days in range(5):  # a1: 5 violations → red; D4: 3 → yellow
        _confirmed(s, "a1", T0 + timedelta(days=days))
    for days in range(3):
        _confirmed(s, "D4", T0 + timedelta(days=days))
    s.flush()
    now = T0 + timedelta(days=10)
    alone = {}
    for sid in ids:
        grades.regrade_shops(s, [sid], now=now, settings=settings)
        alone[sid] = s.get(Shop, sid).grade
    assert alone == {"a1": "red", "B2": "green", "c3": "green", "D4": "yellow", "e5": "green"}
    run = grades.recompute(s, now=now + timedelta(hours=1), settings=settings)
    assert run.changed == 0
    assert {sid: s.get(Shop, sid).grade for sid in ids} == alone


# ---------------------------------------------------------------- 7: strikes


def _violation(s, w, settings, at, *, fixed: bool) -> Case:
    case = workflow.handle_event(s, w.event(zone="za", at=at), settings, now=at)
    cases.confirm(s, case.id, actor="op", settings=settings, now=at + timedelta(minutes=1))
    workflow.tick(s, at + timedelta(minutes=32), settings)
    workflow.handle_recheck(
        s, w.recheck(case, "clear" if fixed else "present", at + timedelta(minutes=33)), settings,
        now=at + timedelta(minutes=33),
    )
    return case


def test_self_rectified_violations_still_count_and_the_third_is_punished(any_session, any_world, settings) -> None:
    """Six violations, each fixed by the shop in its window, with leniency on (the default): strikes 1..6,
    a penalty from the third on (marked lighter), and a red grade."""
    s, w = any_session, any_world
    w.shop("A", zone="za")
    assert settings.lenient_self_rectified
    six, states = [], []
    for d in range(6):
        case = _violation(s, w, settings, T0 + timedelta(days=d), fixed=True)
        six.append(case)
        states.append(case.state)
        if case.state == "penalty_due":
            assert "从轻" in case.tasks[-1].reason, "leniency lightens the sanction"
            rectification.record_penalty(s, case.id, actor="officer", ticket_no=f"P-{d}",
                                         now=T0 + timedelta(days=d, hours=1))
    assert [c.strike for c in six] == [1, 2, 3, 4, 5, 6]
    assert [c.notices[0].kind for c in six] == ["advice", "rectification_notice"] + ["penalty_notice"] * 4
    assert all(c.self_rectified for c in six)
    assert states == ["rectified", "rectified"] + ["penalty_due"] * 4
    assert s.get(Shop, "A").grade == "red"


def test_strike_number_does_not_depend_on_when_earlier_cases_were_judged(any_session, any_world, settings) -> None:
    """Two confirmations close together (the first not yet judged) and far apart (the first fixed by the
    shop) give the same strike number."""
    s, w = any_session, any_world
    w.shop("A", zone="za")
    w.shop("B", zone="zb")
    close1 = workflow.handle_event(s, w.event(zone="za", at=T0), settings, now=T0)
    cases.confirm(s, close1.id, actor="op", settings=settings, now=T0)
    # B's first case is judged (fixed by the shop) before its second is confirmed
    far1 = workflow.handle_event(s, w.event(zone="zb", at=T0), settings, now=T0)
    cases.confirm(s, far1.id, actor="op", settings=settings, now=T0)
    workflow.tick(s, T0 + timedelta(minutes=31), settings)
    workflow.handle_recheck(s, w.recheck(far1, "clear", T0 + timedelta(minutes=32)), settings,
                            now=T0 + timedelta(minutes=32))
    assert far1.self_rectified
    # A's first case is still in its window when the second one is confirmed (another violation type)
    close2 = workflow.handle_event(s, w.event(zone="za", at=T0, violation="cross_door_trading"), settings, now=T0)
    cases.confirm(s, close2.id, actor="op", settings=settings, now=T0 + timedelta(minutes=5))
    far2 = workflow.handle_event(s, w.event(zone="zb", at=T0 + timedelta(days=2)), settings,
                                 now=T0 + timedelta(days=2))
    cases.confirm(s, far2.id, actor="op", settings=settings, now=T0 + timedelta(days=2))
    assert (close2.strike, far2.strike) == (2, 2)


def test_strict_policy_gives_a_full_penalty_and_sanction_is_documented(settings) -> None:
    strict = settings.model_copy(update={"lenient_self_rectified": False})
    assert [strikes.sanction(n, self_rectified=True, settings=settings) for n in (1, 2, 3, 4)] == [
        "advice", "rectification_notice", "lighter_penalty", "lighter_penalty"]
    assert strikes.sanction(3, self_rectified=True, settings=strict) == "penalty"
    assert strikes.sanction(3, self_rectified=False, settings=settings) == "penalty"


# ---------------------------------------------------------------- 3: latest inspection by date


def test_a_back_dated_inspection_does_not_override_a_newer_one(any_session, any_world, settings) -> None:
    s = any_session
    any_world.shop("A", zone="za")
    by_score = settings.model_copy(update={"grade_rules": "inspection_score"})
    today = T0 + timedelta(days=40)
    inspections.record_inspection(s, "A", inspector="o1", waste=95, sanitation=95, advertising=95, at=today,
                                  now=today, settings=by_score)
    assert s.get(Shop, "A").grade == "green"
    # last month's poor visit entered afterwards
    inspections.record_inspection(s, "A", inspector="o2", waste=20, sanitation=30, advertising=30,
                                  at=today - timedelta(days=30), now=today + timedelta(minutes=5), settings=by_score)
    assert s.get(Shop, "A").grade == "green"
    grades.recompute(s, now=today + timedelta(hours=1), settings=by_score)
    assert s.get(Shop, "A").grade == "green"
    assert [h.new_grade for h in grades.history(s, "A")] == ["green"]


# ---------------------------------------------------------------- 4: local days


def test_days_are_local_days(any_session, any_world, settings) -> None:
    """The due list, notice deadlines and the statistics count days and show times in settings.timezone."""
    s, w = any_session, any_world
    assert settings.timezone == "Asia/Shanghai"
    # a red shop inspected at 07:00 Beijing time (23:00 UTC the day before) is not due again that day
    w.shop("R", zone="zr")
    s.get(Shop, "R").grade = "red"
    at = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    inspections.record_inspection(s, "R", inspector="o", waste=90, sanitation=90, advertising=90, at=at,
                                  now=at, settings=settings)
    assert [d.shop_id for d in inspections.due_list(s, date(2026, 3, 2), settings=settings)] == []
    assert [d.shop_id for d in inspections.due_list(s, date(2026, 3, 3), settings=settings)] == ["R"]

    # the owner reads the deadline in local time: confirmed 08:40 Beijing, 30 minutes → 09:10
    w.shop("A", zone="za")
    at = datetime(2026, 3, 2, 0, 40, tzinfo=UTC)
    case = workflow.handle_event(s, w.event(zone="za", at=at), settings, now=at)
    cases.confirm(s, case.id, actor="op", settings=settings, now=at)
    assert "03-02 09:10" in case.notices[0].text and "01:10" not in case.notices[0].text

    # a case opened at 01:00 on 3 March in Shanghai (17:00 UTC on the 2nd) counts on the 3rd
    w.shop("B", zone="zb")
    late = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    s.add(Case(id=new_id(), shop_id="B", violation="piled_goods", opened_at=late, state="detected", is_open=True))
    s.flush()
    per_day = stats.violations_per_day(s, date(2026, 3, 2), date(2026, 3, 3), tz=settings.timezone)
    assert [d["total"] for d in per_day] == [1, 1]


# ---------------------------------------------------------------- 8: self-rectified rate


def test_self_rectified_rate_counts_decided_cases_only(any_session, any_world, settings) -> None:
    s = any_session
    for sid in "ABCDE":
        any_world.shop(sid, zone=f"z{sid}")

    def case(shop: str, state: str, fixed: bool) -> None:
        s.add(Case(id=new_id(), shop_id=shop, violation="piled_goods", opened_at=T0, confirmed_at=T0,
                   notified_at=T0, state=state, is_open=state not in ("rectified", "resolved"),
                   self_rectified=fixed))

    case("A", "rectified", True)  # fixed by the shop
    case("B", "rectified", True)
    case("C", "escalated", False)  # still there after the window
    case("D", "officer_recheck", False)  # waiting for an officer: not decided
    case("E", "notified", False)  # window still open: not decided
    s.flush()
    rate = stats.self_rectification_rate(s, date(2026, 3, 1), date(2026, 3, 3), tz=settings.timezone)
    assert (rate["notified"], rate["judged"], rate["pending"], rate["self_rectified"]) == (5, 3, 2, 2)
    assert rate["rate"] == round(2 / 3, 4)


# ---------------------------------------------------------------- 9: notice labels


def test_every_notice_kind_has_a_label() -> None:
    from central.web.render import NOTICE_LABEL

    for strike in (1, 2, 3, 7):
        kind = strikes.notice_kind(strike)
        assert kind in NOTICE_LABEL and kind in strikes.NOTICE_LABELS  # shown as words, never the raw code



# ---------------------------------------------------------------- 10: business types as data


def test_chinese_business_types_follow_the_pudong_rule(any_session, any_world, settings, tmp_path) -> None:
    s = any_session
    types = {"F": "水果店", "F2": "社区鲜果铺", "R": "小餐饮", "R2": "兰州拉面馆", "H": "五金店", "C": "服装店",
             "E": "Fruit Shop", "N": ""}
    for sid, bt in types.items():
        any_world.shop(sid, zone=f"z{sid}", business_type=bt)
    s.execute(Shop.__table__.update().values(created_at=T0))
    rules = settings.model_copy(update={"grade_rules": "business_type"})
    grades.recompute(s, now=T0, settings=rules)
    got = {sid: s.get(Shop, sid).grade for sid in types}
    assert got == {"F": "red", "F2": "red", "R": "yellow", "R2": "yellow", "H": "yellow", "C": "green",
                   "E": "red", "N": "green"}
    assert "(水果店 fruit shop) starts red" in grades.history(s, "F")[0].reason

    # the table is data: a city's own file changes the mapping without code
    own = tmp_path / "types.yaml"
    own.write_text("default: yellow\ntypes:\n  - {key: clothing, grade: red, zh: 服装店, en: clothing shop}\n",
                   encoding="utf-8")
    grades.recompute(s, now=T0, settings=rules.model_copy(update={"business_types_file": own}))
    assert (s.get(Shop, "C").grade, s.get(Shop, "F").grade) == ("red", "yellow")


# ---------------------------------------------------------------- 11: the Dongjing checklist as data


def _all_items(passed: bool = True) -> dict[str, bool | float]:
    from central.domain import checklist

    return dict.fromkeys(checklist.load().items(), passed)


def test_checklist_items_give_the_category_scores_and_the_face(any_session, any_world, settings) -> None:
    from central.domain.errors import DomainError

    s = any_session
    any_world.shop("A", zone="za")
    by_score = settings.model_copy(update={"grade_rules": "inspection_score"})
    items = _all_items() | {"sanitation.no_cross_door": False, "sanitation.no_piled_goods": False,
                            "waste.sorted": 15}
    ins = inspections.record_inspection(s, "A", inspector="o", items=items, now=T0, settings=by_score)
    # waste 85/100, sanitation 45/100 (30 + 25 of 100 lost), advertising 100 → mean 76.7: yellow
    assert (ins.waste, ins.sanitation, ins.advertising, ins.result) == (85.0, 45.0, 100.0, "yellow")
    assert ins.items["waste.sorted"] == 15 and ins.items["sanitation.no_cross_door"] == 0
    assert s.get(Shop, "A").grade == "yellow"
    with pytest.raises(DomainError, match="not marked"):
        inspections.record_inspection(s, "A", inspector="o", items={"waste.sorted": True}, settings=by_score)
    with pytest.raises(DomainError, match="unknown checklist items"):
        inspections.record_inspection(s, "A", inspector="o", items=_all_items() | {"waste.nope": True},
                                      settings=by_score)
    with pytest.raises(DomainError, match="outside"):
        inspections.record_inspection(s, "A", inspector="o", items=_all_items() | {"waste.sorted": 31},
                                      settings=by_score)


def test_complaints_keep_counting_after_an_inspection(any_session, any_world, settings) -> None:
    s = any_session
    any_world.shop("A", zone="za")
    by_score = settings.model_copy(update={"grade_rules": "inspection_score"})
    for h in range(4):  # before the visit: the inspection is the newer judgement
        s.add(Complaint(shop_id="A", at=T0 - timedelta(hours=h + 1), text="goods outside"))
    s.flush()
    inspections.record_inspection(s, "A", inspector="o", items=_all_items(), now=T0, settings=by_score)
    assert s.get(Shop, "A").grade == "green"
    for h in range(3):  # after it: they count
        s.add(Complaint(shop_id="A", at=T0 + timedelta(hours=h + 1), text="goods outside again"))
    s.flush()
    grades.recompute(s, now=T0 + timedelta(hours=5), settings=by_score)
    assert s.get(Shop, "A").grade == "yellow"
    assert "3 violations and complaints since then" in grades.history(s, "A")[0].reason


def test_a_city_checklist_file_sets_items_and_thresholds(session, world, settings, tmp_path) -> None:
    own = tmp_path / "menu.yaml"
    own.write_text(
        "categories:\n"
        "  - {key: waste, items: [{key: bins, points: 10}]}\n"
        "  - {key: sanitation, items: [{key: clean, points: 10}, {key: no_goods, points: 10}]}\n"
        "  - {key: advertising, items: [{key: sign, points: 10}]}\n"
        "faces: {green_from: 95, yellow_from: 50, poor_category: 10}\n", encoding="utf-8")
    s = session
    world.shop("A", zone="za")
    rules = settings.model_copy(update={"grade_rules": "inspection_score", "inspection_checklist_file": own})
    ins = inspections.record_inspection(
        s, "A", inspector="o", items={"waste.bins": True, "sanitation.clean": True, "sanitation.no_goods": 5,
                                      "advertising.sign": True}, now=T0, settings=rules)
    assert (ins.sanitation, ins.result) == (75.0, "yellow")  # mean 91.7 < 95


# ---------------------------------------------------------------- 12: closing needs evidence


PHOTO = "ef" * 32


def _at_officer(s, w, settings, zone: str, *, ended: bool) -> Case:
    """A fixed-camera case whose recheck got no answer: an officer task. `ended`: the camera's episode
    ended inside the window (the shop cleared it)."""
    case = workflow.handle_event(s, w.event(zone=zone, at=T0, event_id=f"ep-{zone}"), settings, now=T0)
    cases.confirm(s, case.id, actor="op", settings=settings, now=T0)
    if ended:
        end = w.event(zone=zone, at=T0 + timedelta(minutes=10), event_id=f"ep-{zone}", phase="end")
        workflow.handle_event(s, end, settings, now=T0 + timedelta(minutes=10))
    workflow.tick(s, T0 + timedelta(minutes=31), settings)
    workflow.tick(s, T0 + timedelta(minutes=45), settings)  # no recheck answer in 10 minutes
    assert case.state == "officer_recheck"
    return case


def test_closing_needs_evidence_and_a_doubtful_clear_is_flagged(any_session, any_world, settings) -> None:
    from central.domain.errors import EvidenceRequired
    from central.orm.audit import AuditRecord

    s, w = any_session, any_world
    w.shop("A", zone="za")
    w.shop("B", zone="zb")
    case = _at_officer(s, w, settings, "za", ended=True)
    later = T0 + timedelta(hours=1)
    with pytest.raises(EvidenceRequired):
        rectification.close_case(s, case.id, actor="officer", reason="settled", now=later)
    task = case.tasks[-1]
    with pytest.raises(EvidenceRequired):
        rectification.complete_task(s, task.id, actor="officer", outcome="clear", settings=settings, now=later)
    rectification.complete_task(s, task.id, actor="officer", outcome="clear", evidence=[PHOTO], settings=settings,
                        now=later)
    assert case.state == "rectified" and case.self_rectified and PHOTO in case.evidence

    # the camera never saw B's episode end: the officer's "clear" closes it, flagged, not self-rectified
    other = _at_officer(s, w, settings, "zb", ended=False)
    rectification.complete_task(s, other.tasks[-1].id, actor="officer", outcome="clear", evidence=[PHOTO],
                        settings=settings, now=later)
    assert not other.self_rectified and "flagged" in other.closed_reason
    actions = [r.action for r in s.query(AuditRecord).filter(AuditRecord.case_id == other.id)]
    assert "case.flagged" in actions
