"""Deciding an appeal tells the owner, like every other notice: one `Notice` row and one delivery per enabled
channel of the shop (the street officers get none), written in the decision's transaction, in each channel's
language (zh-CN unless the channel asks otherwise), times in local time (Asia/Shanghai)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from central import workflow
from central.domain import appeals, cases
from central.notices import owner
from central.notices.text import t
from central.orm.cases import Case, Notice
from central.orm.notices import Appeal, NoticeDelivery, OfficerContact, ShopChannel
from central.orm.shops import Shop

from .conftest import T0  # 09:00 UTC = 17:00 in Shanghai


def _routes(s, shop_id: str) -> dict[int, str]:
    """A webhook (SMS gateway) in the default language and an English e-mail; an officer for the street."""
    webhook = ShopChannel(shop_id=shop_id, kind="webhook", target="https://gw.example/sms", secret="s" * 16)
    email = ShopChannel(shop_id=shop_id, kind="email", target="owner@example.com", language="en")
    s.add_all([webhook, email, OfficerContact(area="North", name="Officer Li", kind="webhook",
                                              target="https://gw.example/officer", secret="o" * 16)])
    s.flush()
    return {webhook.id: "zh-CN", email.id: "en"}


def _confirmed(s, w, settings, at=T0) -> Case:
    case = workflow.handle_event(s, w.event(zone="za", at=at), settings, now=at)
    return cases.confirm(s, case.id, actor="op", settings=settings, now=at + timedelta(minutes=1))


def _fixed(s, w, settings, at) -> Case:
    """A confirmed case the shop fixed in its window (the camera's recheck saw the strip clear)."""
    case = _confirmed(s, w, settings, at)
    workflow.tick(s, at + timedelta(minutes=32), settings)
    workflow.handle_recheck(s, w.recheck(case, "clear", at + timedelta(minutes=33)), settings,
                            now=at + timedelta(minutes=33))
    return case


def _appeal_notice(s, case_id: str) -> tuple[Notice, list[NoticeDelivery]]:
    (notice,) = s.scalars(select(Notice).where(Notice.case_id == case_id, Notice.kind.like("appeal_%"))).all()
    rows = list(s.scalars(select(NoticeDelivery).where(NoticeDelivery.notice_id == notice.id)
                          .order_by(NoticeDelivery.id)))
    return notice, rows


def _by_language(rows: list[NoticeDelivery]) -> dict[str, NoticeDelivery]:
    return {r.language: r for r in rows}


def test_a_rejected_appeal_tells_the_owner_the_note_and_that_the_deadline_still_applies(
        any_session, any_world, settings) -> None:
    s, w = any_session, any_world
    w.shop("A", zone="za")
    routes = _routes(s, "A")
    case = _confirmed(s, w, settings)  # window ends 09:31 UTC = 17:31 in Shanghai
    s.commit()
    row = owner.appeal(s, "A", case.id, reason="那是快递员的箱子", now=T0 + timedelta(minutes=5))
    s.commit()
    decided = T0 + timedelta(minutes=10)

    # the notice is written in the decision's transaction: rolled back, there is neither decision nor notice
    appeals.decide(s, row.id, outcome="rejected", actor="rev", settings=settings, note="箱子在责任区内",
                   now=decided)
    s.rollback()
    assert s.get(Appeal, row.id).status == "open"
    assert s.scalar(select(func.count()).select_from(Notice).where(Notice.kind.like("appeal_%"))) == 0
    assert s.scalar(select(func.count()).select_from(NoticeDelivery).where(NoticeDelivery.audience == "owner")) == 2

    appeals.decide(s, row.id, outcome="rejected", actor="rev", settings=settings, note="箱子在责任区内",
                   now=decided)
    s.commit()
    notice, rows = _appeal_notice(s, case.id)
    assert (notice.kind, notice.strike, notice.shop_id) == ("appeal_rejected", 1, "A")
    # one delivery per route of the shop, to the owner; the officer's contact gets none
    assert sorted(r.route for r in rows) == sorted(f"shop_channel:{i}" for i in routes)
    assert {r.audience for r in rows} == {"owner"} and all(r.status == "pending" for r in rows)
    assert {r.language for r in rows} == {"zh-CN", "en"}
    zh, en = _by_language(rows)["zh-CN"], _by_language(rows)["en"]
    assert zh.subject == "【申诉被驳回】Shop A：占道堆物"
    assert "申诉未获支持" in zh.body and "审核人员说明：箱子在责任区内" in zh.body
    # the deadline still applies, in Shanghai time (never UTC)
    assert "请在2026-03-02 17:31前清理" in zh.body and "09:31" not in zh.body
    assert "2026-03-02 17:00" in zh.body  # when it was seen
    assert zh.link and f"您的店铺页面：{zh.link}" in zh.body and zh.recipient == "555"
    assert en.subject == "[Appeal rejected] Shop A: Piled goods"
    assert "was rejected" in en.body and "The reviewer's note: 箱子在责任区内" in en.body
    assert "before 2026-03-02 17:31" in en.body
    # the stored notice: the default language (zh-CN), without the link
    assert "申诉未获支持" in notice.text and "17:31" in notice.text and zh.link not in notice.text
    # nothing else changed: the case still waits for its recheck at the same deadline
    s.refresh(case)
    assert case.state == "notified" and case.strike == 1


def test_an_upheld_appeal_tells_the_owner_the_strike_is_annulled_and_the_new_grade(
        any_session, any_world, settings) -> None:
    s, w = any_session, any_world
    w.shop("A", zone="za")
    # three confirmed violations: yellow (counts rule: 3–4)
    three = [_fixed(s, w, settings, T0 + timedelta(days=d)) for d in (0, 3, 10)]
    s.commit()
    assert s.get(Shop, "A").grade == "yellow"
    routes = _routes(s, "A")
    third = three[-1]
    later = T0 + timedelta(days=10, hours=2)
    row = owner.appeal(s, "A", third.id, reason="not ours", now=later)
    appeals.decide(s, row.id, outcome="upheld", actor="rev", settings=settings, note="courier's boxes",
                   now=later + timedelta(hours=1))
    s.commit()

    assert s.get(Shop, "A").grade == "green"
    notice, rows = _appeal_notice(s, third.id)
    assert (notice.kind, notice.strike) == ("appeal_upheld", 3)
    assert sorted(r.route for r in rows) == sorted(f"shop_channel:{i}" for i in routes)
    assert {r.audience for r in rows} == {"owner"}
    zh, en = _by_language(rows)["zh-CN"], _by_language(rows)["en"]
    assert zh.subject == "【申诉成立】Shop A：占道堆物"
    assert "申诉成立：该违规已撤销" in zh.body
    # the grade after the regrade, not before
    assert f"您的店铺等级现为：{t('grade.green', 'zh-CN')}" in zh.body and t("grade.yellow", "zh-CN") not in zh.body
    assert "2026-03-12 17:00" in zh.body and "09:00" not in zh.body  # seen at, in Shanghai time
    assert "courier" not in zh.body  # an upheld appeal's note is the reviewers' own (audit), not the owner's
    assert "was upheld" in en.body and "Your grade is now: Green — low risk." in en.body
    assert "annulled" in en.body


def test_a_rejected_appeal_says_what_follows_when_the_window_is_over_or_the_case_closed(
        session, world, settings) -> None:
    s, w = session, world
    w.shop("A", zone="za")
    _routes(s, "A")
    first = _fixed(s, w, settings, T0)
    second = _confirmed(s, w, settings, at=T0 + timedelta(days=1))
    s.commit()
    assert not first.is_open and second.is_open
    when = T0 + timedelta(days=1, hours=1)  # the second's window ended at 09:31 UTC
    for case in (first, second):
        row = owner.appeal(s, "A", case.id, reason="no", now=when)
        appeals.decide(s, row.id, outcome="rejected", actor="rev", settings=settings, now=when)
    s.commit()
    closed = _by_language(_appeal_notice(s, first.id)[1])["zh-CN"].body
    passed = _by_language(_appeal_notice(s, second.id)[1])["zh-CN"].body
    assert "该案件已结案" in closed and "整改期限" not in closed
    assert "整改期限（2026-03-03 17:31）已过" in passed
    assert "审核人员说明" not in passed  # no note, no note line

