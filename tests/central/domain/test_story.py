"""The whole story on both back-ends: event → match → case → notice → window → recheck → escalated, and a
second shop that fixes it in time → rectified. Then the audit chain is intact."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from central import workflow
from central.domain.audit import trail, verify_chain
from central.domain.cases import confirm
from central.domain.errors import InvalidTransition
from central.domain.rectification import complete_task
from central.orm.cases import CaseEvent, Notice, OfficerTask

from .conftest import T0


def _outbox_commands(session) -> list:
    from central.orm.events import Outbox

    return list(session.scalars(select(Outbox)))


def test_no_fix_escalates_and_fix_rectifies(any_world, any_session, settings) -> None:
    s, w = any_session, any_world
    w.shop("A", zone="za")
    w.shop("B", zone="zb")
    s.commit()

    # shop A: detected → confirmed (advice) → window → recheck → still present → escalated
    ev = w.event(zone="za", at=T0)
    case_a = workflow.handle_event(s, ev, settings, now=T0)
    assert case_a is not None and case_a.shop_id == "A" and case_a.state == "detected"
    # a later phase of the same episode attaches, it does not open a second case
    upd = w.event(zone="za", event_id=ev.event_id, phase="update", seq=1, at=T0 + timedelta(seconds=30))
    assert workflow.handle_event(s, upd, settings, now=T0 + timedelta(seconds=30)).id == case_a.id
    # a new episode of the same violation in the same shop also attaches to the open case
    ev2 = w.event(zone="za", at=T0 + timedelta(minutes=1))
    assert workflow.handle_event(s, ev2, settings, now=T0 + timedelta(minutes=1)).id == case_a.id
    assert s.scalar(select(CaseEvent.case_id).where(CaseEvent.event_id == ev2.event_id)) == case_a.id
    s.commit()

    confirm(s, case_a.id, actor="op1", settings=settings, now=T0 + timedelta(minutes=2))
    s.commit()
    assert case_a.state == "notified" and case_a.strike == 1
    notice = s.scalar(select(Notice).where(Notice.case_id == case_a.id))
    assert notice.kind == "advice" and "Owner A" in notice.recipient

    workflow.tick(s, T0 + timedelta(minutes=20), settings)
    assert case_a.state == "notified", "the window is 30 minutes; nothing may happen before"
    workflow.tick(s, T0 + timedelta(minutes=33), settings)
    s.commit()
    assert case_a.state == "rechecking" and case_a.recheck_command_id
    cmds = _outbox_commands(s)
    assert len(cmds) == 1
    workflow.handle_recheck(
        s, w.recheck(case_a, "present", T0 + timedelta(minutes=34)), settings, now=T0 + timedelta(minutes=34)
    )
    s.commit()
    assert case_a.state == "escalated" and case_a.is_open and not case_a.self_rectified
    tasks = list(s.scalars(select(OfficerTask).where(OfficerTask.case_id == case_a.id)))
    assert [t.kind for t in tasks] == ["escalation"]

    # shop B: fixed inside the window (the edge even reports the episode's end) → recheck clear → rectified
    evb = w.event(zone="zb", at=T0)
    case_b = workflow.handle_event(s, evb, settings, now=T0)
    confirm(s, case_b.id, actor="op1", settings=settings, now=T0 + timedelta(minutes=1))
    end = w.event(zone="zb", event_id=evb.event_id, phase="end", seq=5, at=T0 + timedelta(minutes=10))
    workflow.handle_event(s, end, settings, now=T0 + timedelta(minutes=10))
    assert case_b.end_seen_at is not None and case_b.state == "notified"  # recorded; recheck still decides
    workflow.tick(s, T0 + timedelta(minutes=32), settings)
    assert case_b.state == "rechecking"
    workflow.handle_recheck(
        s, w.recheck(case_b, "clear", T0 + timedelta(minutes=33)), settings, now=T0 + timedelta(minutes=33)
    )
    s.commit()
    assert case_b.state == "rectified" and not case_b.is_open and case_b.self_rectified
    assert len(_outbox_commands(s)) == 2

    actions = [r.action for r in trail(s, case_b.id)]
    assert actions[:2] == ["case.open", "case.confirm"] and "case.recheck" in actions
    assert verify_chain(s) == []


def test_recheck_timeout_and_drone_cases_go_to_officers(any_session, any_world, settings) -> None:
    s, w = any_session, any_world
    w.shop("A", zone="za", footprint=[[121.0, 31.0], [121.0001, 31.0], [121.0001, 31.0001], [121.0, 31.0001]])
    case = workflow.handle_event(s, w.event(zone="za"), settings, now=T0)
    confirm(s, case.id, actor="op", settings=settings, now=T0)
    workflow.tick(s, T0 + timedelta(minutes=31), settings)
    assert case.state == "rechecking"
    workflow.tick(s, T0 + timedelta(minutes=31 + 11), settings)  # no answer in 10 minutes
    assert case.state == "officer_recheck"
    assert [t.kind for t in case.tasks] == ["recheck"] and "no recheck answer" in case.tasks[0].reason
    # a late answer is recorded but does not move the case
    workflow.handle_recheck(
        s, w.recheck(case, "clear", T0 + timedelta(minutes=45)), settings, now=T0 + timedelta(minutes=45)
    )
    assert case.state == "officer_recheck"

    drone = w.event(zone=None, geo=(31.00005, 121.00005), violation="cross_door_trading")
    dcase = workflow.handle_event(s, drone, settings, now=T0)
    assert dcase is not None and dcase.shop_id == "A" and dcase.source_kind == "drone"
    confirm(s, dcase.id, actor="op", settings=settings, now=T0)
    workflow.tick(s, T0 + timedelta(minutes=31), settings)
    assert dcase.state == "officer_recheck" and dcase.tasks[0].kind == "recheck"


@pytest.mark.parametrize(
    "score,trusted,expect", [(0.95, True, "notified"), (0.5, True, "detected"), (0.95, False, "detected")]
)
def test_auto_confirm_only_for_trusted_cameras_above_score(session, world, settings, score, trusted, expect) -> None:
    from central.orm.shops import Camera

    session.add(Camera(camera_id="cam-1", trusted=trusted))
    world.shop("A", zone="za")
    s2 = settings.model_copy(update={"auto_confirm_score": 0.9})
    case = workflow.handle_event(session, world.event(zone="za", score=score), s2, now=T0)
    assert case.state == expect
    assert (case.confirmed_by == "auto") == (expect == "notified")


PHOTO = "ef" * 32  # an officer's photo in the evidence store


@pytest.mark.parametrize("outcome,state", [("clear", "rectified"), ("present", "escalated")])
def test_officer_recheck_outcomes(session, world, settings, outcome, state) -> None:
    s, w = session, world
    w.shop("A", camera=None, footprint=[[121.0, 31.0], [121.0001, 31.0], [121.0001, 31.0001]])
    case = workflow.handle_event(s, w.event(zone=None, geo=(31.00003, 121.00005)), settings, now=T0)
    confirm(s, case.id, actor="op", settings=settings, now=T0)
    workflow.tick(s, T0 + timedelta(minutes=31), settings)
    task = case.tasks[0]
    with pytest.raises(InvalidTransition):
        complete_task(s, task.id, actor="officer", outcome="resolved", settings=settings)
    complete_task(
        s,
        task.id,
        actor="officer",
        outcome=outcome,
        note="checked on site",
        evidence=[PHOTO],
        settings=settings,
        now=T0 + timedelta(minutes=50),
    )
    assert case.state == state and task.status == "done" and task.done_by == "officer"
    if outcome == "present":
        esc = case.tasks[-1]
        assert esc.kind == "escalation" and esc.status == "open"
        complete_task(s, esc.id, actor="officer", outcome="resolved", evidence=[PHOTO], settings=settings)
        assert case.state == "resolved" and not case.is_open
    with pytest.raises(InvalidTransition):
        complete_task(s, task.id, actor="officer", outcome=outcome, settings=settings)
    assert verify_chain(s) == []


def test_two_writers_race_for_one_open_case(pg_icu_url, settings) -> None:
    """PostgreSQL, two real writers: the second opens its case while the first one's is not committed yet; it
    waits on the database's unique index, then attaches its event to the winner's case."""
    import threading

    from sqlalchemy.orm import Session

    from central.db import make_engine
    from central.orm.base import Base
    from central.orm.cases import Case

    from .conftest import World

    engine = make_engine(pg_icu_url)
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as a:
            w = World(a)
            w.shop("A", zone="za")
            a.commit()
            first = workflow.handle_event(a, w.event(zone="za"), settings, now=T0)  # not committed yet
            late = w.event(zone="za", at=T0 + timedelta(seconds=5))
            got: dict[str, object] = {}

            def second_writer() -> None:
                with Session(engine) as b:
                    try:
                        got["case"] = workflow.handle_event(b, late, settings, now=T0).id
                        b.commit()
                    except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
                        got["error"] = exc

            writer = threading.Thread(target=second_writer)
            writer.start()
            writer.join(1.0)
            assert writer.is_alive(), f"the second writer should wait for the first one's commit: {got}"
            a.commit()
            writer.join(10)
            assert got.get("case") == first.id, got
        with Session(engine) as c:
            (case,) = c.scalars(select(Case)).all()
            events = list(c.scalars(select(CaseEvent.event_id).where(CaseEvent.case_id == case.id)))
            assert case.event_count == 2 and len(events) == 2 and late.event_id in events
    finally:
        engine.dispose()


def test_one_open_case_per_shop_and_violation_even_in_a_race(any_session, any_world, settings) -> None:
    """The database refuses a second open case; a writer that loses the race attaches to the winner's
    (simulated in one session here; test_two_writers_race_for_one_open_case has a real second writer)."""
    from central.domain import cases as cases_mod
    from central.domain.clock import from_unix

    s, w = any_session, any_world
    w.shop("A", zone="za")
    first = workflow.handle_event(s, w.event(zone="za"), settings, now=T0)
    s.commit()
    late = w.event(zone="za", at=T0 + timedelta(seconds=5))
    # as if this writer had looked for an open case before the other one committed its own
    other = cases_mod._open_case(s, "A", late, from_unix(late.ts), T0, "edge")
    assert other.id == first.id
    s.commit()
    assert len(list(s.scalars(select(cases_mod.Case)))) == 1
    # the other violation type is its own case; once the first case is closed, a new episode opens a new one
    trading = workflow.handle_event(s, w.event(zone="za", violation="cross_door_trading"), settings, now=T0)
    assert trading.id != first.id and trading.violation == "cross_door_trading"
    cases_mod.dismiss(s, first.id, actor="op", reason="shadow", now=T0 + timedelta(minutes=1))
    again = workflow.handle_event(s, w.event(zone="za", at=T0 + timedelta(minutes=2)), settings, now=T0)
    assert again.id not in (first.id, trading.id) and again.violation == "piled_goods"
    s.commit()
    assert len(list(s.scalars(select(cases_mod.Case).where(cases_mod.Case.is_open.is_(True))))) == 2
    assert verify_chain(s) == []


def test_ticker_skips_a_case_another_worker_holds(pg_url, settings) -> None:
    """PostgreSQL: while an ingest worker decides on a case (row locked), the ticker leaves it alone
    instead of acting on a stale copy."""
    from sqlalchemy.orm import Session

    from central.db import make_engine
    from central.domain import cases as cases_mod
    from central.orm.base import Base

    from .conftest import World

    engine = make_engine(pg_url)
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as a, Session(engine) as b:
            w = World(a)
            w.shop("A", zone="za")
            case = workflow.handle_event(a, w.event(zone="za"), settings, now=T0)
            confirm(a, case.id, actor="op", settings=settings, now=T0)
            workflow.tick(a, T0 + timedelta(minutes=31), settings)
            a.commit()
            assert case.state == "rechecking"
            cases_mod.get_case(a, case.id, lock=True)  # worker A holds the row
            assert workflow.expire_rechecks(b, T0 + timedelta(hours=1)) == 0
            b.rollback()
            workflow.handle_recheck(
                a,
                w.recheck(case, "clear", T0 + timedelta(minutes=35)),
                settings,
                now=T0 + timedelta(minutes=35),
            )
            a.commit()
            assert workflow.expire_rechecks(b, T0 + timedelta(hours=1)) == 0  # rectified: nothing late
            b.commit()
            assert cases_mod.get_case(b, case.id).state == "rectified"
    finally:
        engine.dispose()
