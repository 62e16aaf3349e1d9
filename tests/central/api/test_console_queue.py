"""The review queue over HTTP: order, filters, paging; strike outlook and the penalty step; undo of a
dismissal; a decision posted with an expired login; evidence by role; the live stream."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from central.domain import cases, rectification
from central.orm.audit import AuditRecord
from central.orm.cases import Case
from central.workflow import handle_event
from wire.ids import new_id
from wire.schema import EventMessage, EvidenceRef

from .conftest import PASSWORDS, Env, add_shop, detected_case, tiny_jpeg


def _login(env: Env, role: str = "reviewer") -> None:
    r = env.client.post("/console/login", data={"username": role, "password": PASSWORDS[role]},
                        follow_redirects=False)
    assert r.status_code == 303


def _cards(html: str) -> list[str]:
    return re.findall(r'<article class="alert[^"]*" id="case-[^"]+" data-case="([^"]+)"', html)


def _case(env: Env, shop_id: str, *, at: datetime, score: float = 0.8, camera: str = "cam-1",
          violation: str = "piled_goods", road: str = "Main Road") -> str:
    sha = env.store.put(tiny_jpeg(int(at.timestamp()) % 200))
    with env.session() as s:
        from central.orm.shops import Shop

        if s.get(Shop, shop_id) is None:
            add_shop(s, shop_id, camera=camera, road=road)
        msg = EventMessage(site_id="site-1", camera_id=camera, event_id=new_id(), seq=0, zone_id=f"z-{shop_id}",
                           violation=violation, phase="start", ts=at.timestamp(), score=score,
                           evidence=[EvidenceRef(evidence_id=new_id(), sha256=sha, size=100)])
        case = handle_event(s, msg, env.settings)
        s.commit()
        return case.id


def test_queue_newest_first_filters_and_pages(sqlite_env: Env) -> None:
    env = sqlite_env
    t0 = datetime.now(UTC) - timedelta(hours=3)
    ids = [_case(env, f"s{i}", at=t0 + timedelta(minutes=i), score=0.5 + i / 100,
                 road="Harbour Road" if i % 2 else "Main Road", camera="cam-2" if i == 3 else "cam-1")
           for i in range(25)]
    _login(env, "viewer")
    page1 = env.client.get("/console")
    assert _cards(page1.text) == ids[::-1][:20]  # newest first, 20 a page
    assert "page=2" in page1.text
    assert _cards(env.client.get("/console", params={"page": 2}).text) == ids[::-1][20:]
    assert _cards(env.client.get("/console", params={"order": "oldest"}).text)[:3] == ids[:3]
    harbour = _cards(env.client.get("/console", params={"road": "Harbour Road"}).text)
    assert harbour == [ids[i] for i in range(23, 0, -2)]
    assert _cards(env.client.get("/console", params={"camera": "cam-2"}).text) == [ids[3]]
    high = _cards(env.client.get("/console", params={"min_score": "0.7", "order": "oldest"}).text)
    assert high == ids[20:]
    assert _cards(env.client.get("/console", params={"violation": "cross_door_trading"}).text) == []
    with env.session() as s:
        cases.dismiss(s, ids[0], actor="t", reason="x")
        s.commit()
    assert _cards(env.client.get("/console", params={"state": "dismissed"}).text) == [ids[0]]
    bad = env.client.get("/console", params={"min_score": "high"})
    assert bad.status_code == 400 and "text/html" in bad.headers["content-type"] and "0 到 1" in bad.text
    assert env.client.get("/console", params={"state": "lost"}).status_code == 400


def test_queue_in_chinese_with_local_times(sqlite_env: Env) -> None:
    env = sqlite_env
    at = datetime(2026, 12, 6, 17, 5, tzinfo=UTC)  # 01:05 on 7 December in Shanghai
    case_id = _case(env, "s1", at=at)
    _login(env)
    html = env.client.get("/console").text
    assert '<html lang="zh-CN">' in html and "待审核告警" in html and "占道堆物" in html
    assert "2026/12/7 01:05" in html and "UTC" not in html
    assert "确认后将发出：劝导（第 1 次）" in html
    assert f'action="/console/cases/{case_id}/confirm"' in html


def test_card_shows_strikes_and_a_penalty_needs_a_second_step(sqlite_env: Env) -> None:
    env = sqlite_env
    _login(env)
    for seed in (1, 2):
        case_id, _ = detected_case(env, "s1", seed=seed)
        with env.session() as s:
            cases.confirm(s, case_id, actor="t", settings=env.settings)
            rectification.close_case(s, case_id, actor="t", reason="done", evidence=["ef" * 32])
            s.commit()
    case_id, _ = detected_case(env, "s1", seed=3)
    env.client.headers["Accept-Language"] = "en"
    html = env.client.get("/console").text
    assert "2 in the last 365 days" in html and "Confirming issues: Penalty notice (strike 3)" in html
    assert "Confirm… (penalty)" in html
    step = env.client.post(f"/console/cases/{case_id}/confirm", data={"back": "/console"})
    assert step.status_code == 200 and "This confirmation issues a penalty" in step.text
    assert 'name="penalty_ok" value="1"' in step.text
    with env.session() as s:
        assert s.get(Case, case_id).state == "detected"  # nothing issued yet
    done = env.client.post(f"/console/cases/{case_id}/confirm", data={"back": "/console", "penalty_ok": "1"})
    assert "strike 3, Penalty notice sent to the shop" in done.text
    with env.session() as s:
        case = s.get(Case, case_id)
        assert case.state == "notified" and case.strike == 3 and case.notices[-1].kind == "penalty_notice"


def test_undo_a_dismissal_within_the_window(sqlite_env: Env) -> None:
    env = sqlite_env
    case_id, _ = detected_case(env, "s1")
    _login(env)
    r = env.client.post(f"/console/cases/{case_id}/dismiss", data={"back": "/console", "reason": "误报"},
                        follow_redirects=False)
    assert r.status_code == 303 and f"undo={case_id}" in r.headers["location"]
    page = env.client.get(r.headers["location"])
    assert "已驳回（误报）" in page.text and f"/console/cases/{case_id}/undo-dismiss" in page.text
    assert case_id not in _cards(page.text)
    back = env.client.post(f"/console/cases/{case_id}/undo-dismiss", data={"back": "/console"})
    assert "已恢复到待审核队列" in back.text and case_id in _cards(back.text)
    with env.session() as s:
        case = s.get(Case, case_id)
        assert case.state == "detected" and case.is_open and case.closed_at is None
        actions = list(s.scalars(select(AuditRecord.action).where(AuditRecord.case_id == case_id)))
        assert actions[-2:] == ["case.dismiss", "case.undo_dismiss"]
    again = env.client.post(f"/console/cases/{case_id}/undo-dismiss", data={"back": "/console"})
    assert "未恢复" in again.text  # not dismissed any more: nothing to undo


def test_undo_refused_when_too_late(sqlite_env: Env) -> None:
    from central.domain.errors import InvalidTransition
    from central.domain.undo import UNDO_WINDOW_S, undo_dismiss

    env = sqlite_env
    case_id, _ = detected_case(env, "s1")
    now = datetime.now(UTC)
    with env.session() as s:
        cases.dismiss(s, case_id, actor="t", reason="x", now=now)
        s.commit()
        try:
            undo_dismiss(s, case_id, actor="t", now=now + timedelta(seconds=UNDO_WINDOW_S + 1))
        except InvalidTransition as exc:
            assert "more than" in exc.message
        else:
            raise AssertionError("a late undo was accepted")
        s.rollback()
        assert s.get(Case, case_id).state == "dismissed"


def test_decision_after_the_session_expired_is_applied_after_login(sqlite_env: Env) -> None:
    env = sqlite_env
    case_id, _ = detected_case(env, "s1")
    # no login cookie at all (an expired one is dropped by the browser the same way)
    r = env.client.post(f"/console/cases/{case_id}/dismiss", data={"back": "/console", "reason": "树影"},
                        follow_redirects=False)
    assert r.status_code == 401 and 'name="pending"' in r.text and "登录已过期" in r.text
    sealed = re.search(r'name="pending" value="([^"]+)"', r.text).group(1)
    with env.session() as s:
        assert s.get(Case, case_id).state == "detected"
    wrong = env.client.post("/console/login", data={"username": "reviewer", "password": "nope",
                                                    "pending": sealed, "next": "/console"})
    assert wrong.status_code == 401 and sealed in wrong.text  # still carried
    ok = env.client.post("/console/login", data={"username": "reviewer", "password": PASSWORDS["reviewer"],
                                                 "pending": sealed, "next": "/console"}, follow_redirects=False)
    assert ok.status_code == 303 and "doorline_token=" in ok.headers["set-cookie"]
    with env.session() as s:
        case = s.get(Case, case_id)
        assert case.state == "dismissed" and case.closed_reason == "树影"
    assert "已驳回（树影）" in env.client.get(ok.headers["location"]).text
    # a viewer logging in with someone's sealed decision decides nothing
    case2, _ = detected_case(env, "s2", seed=5)
    env.client.cookies.clear()
    r = env.client.post(f"/console/cases/{case2}/confirm", data={"back": "/console"})
    sealed = re.search(r'name="pending" value="([^"]+)"', r.text).group(1)
    env.client.post("/console/login", data={"username": "viewer", "password": PASSWORDS["viewer"],
                                            "pending": sealed})
    with env.session() as s:
        assert s.get(Case, case2).state == "detected"
    # a forged seal is ignored
    env.client.cookies.clear()
    forged = env.client.post("/console/login", data={"username": "reviewer", "password": PASSWORDS["reviewer"],
                                                     "pending": sealed[:-4] + "AAAA"}, follow_redirects=False)
    assert forged.status_code == 303
    with env.session() as s:
        assert s.get(Case, case2).state == "detected"


def _phase(env: Env, s, msg: EventMessage) -> None:
    """Store a phase as the ingest does (events + event_phases rows), then run the workflow."""
    from central.orm.events import Event, EventPhaseRecord

    ts = datetime.fromtimestamp(msg.ts, UTC)
    ev = s.get(Event, msg.event_id)
    if ev is None:
        ev = Event(event_id=msg.event_id, site_id=msg.site_id, camera_id=msg.camera_id, zone_id=msg.zone_id,
                   violation=msg.violation, phase=msg.phase, last_seq=msg.seq, first_ts=ts, last_ts=ts,
                   score=msg.score)
        s.add(ev)
    ev.phase, ev.last_seq, ev.last_ts = msg.phase, msg.seq, ts
    s.add(EventPhaseRecord(message_id=msg.message_id, event_id=msg.event_id, seq=msg.seq, phase=msg.phase, ts=ts,
                           sent_at=msg.sent_at, payload=msg.model_dump_json()))
    handle_event(s, msg, env.settings)


def test_cards_lead_with_the_start_frame_annotated_and_show_the_end_beside_it(sqlite_env: Env) -> None:
    env = sqlite_env
    shas = {name: env.store.put(tiny_jpeg(seed)) for seed, name in enumerate(
        ["start_annotated", "start_clean", "start_crop", "update_crop", "end_clean", "end_annotated"], start=10)}
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    event_id = new_id()

    def msg(seq: int, phase: str, names: list[str], kinds: list[str]) -> EventMessage:
        return EventMessage(site_id="site-1", camera_id="cam-1", event_id=event_id, seq=seq, zone_id="z-s1",
                            violation="piled_goods", phase=phase, ts=(t0 + timedelta(seconds=seq)).timestamp(),
                            score=0.9, evidence=[EvidenceRef(evidence_id=f"{event_id}.{seq}.{i}", sha256=shas[n],
                                                             kind=k, size=100)
                                                 for i, (n, k) in enumerate(zip(names, kinds, strict=True))])

    with env.session() as s:
        add_shop(s, "s1")
        # crops first on purpose: the order of the refs must not decide what leads
        _phase(env, s, msg(0, "start", ["start_crop", "start_clean", "start_annotated"],
                           ["crop", "clean", "annotated"]))
        s.commit()
    _login(env)
    html = env.client.get("/console").text
    card = html[html.index("<article"):html.index("</article>")]
    imgs = re.findall(r'<img class="evidence" src="/api/evidence/([0-9a-f]+)"', card)
    assert imgs == [shas["start_annotated"]]  # still going on: no end frame
    assert "开始 · 标注" in card and "仍在持续" in card
    with env.session() as s:
        _phase(env, s, msg(1, "update", ["update_crop"], ["crop"]))
        _phase(env, s, msg(2, "end", ["end_clean", "end_annotated"], ["clean", "annotated"]))
        s.commit()
    html = env.client.get("/console").text
    card = html[html.index("<article"):html.index("</article>")]
    imgs = re.findall(r'<img class="evidence" src="/api/evidence/([0-9a-f]+)"', card)
    assert imgs == [shas["start_annotated"], shas["end_annotated"]]
    assert re.findall(r"<figcaption>([^<]+)</figcaption>", card) == ["开始 · 标注", "结束 · 标注"]
    assert card.count('target="_blank"') == 2  # each opens full size
    with env.session() as s:
        case_id = s.scalar(select(Case.id))
    detail = env.client.get(f"/console/cases/{case_id}").text
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", detail)
    assert captions[:2] == ["开始 · 标注", "结束 · 标注"]
    assert sorted(captions[2:]) == sorted(["开始 · 原图", "开始 · 特写", "结束 · 原图", "过程 · 特写"])


def test_live_stream_reports_the_queue(sqlite_env: Env) -> None:
    from central.web import console

    env = sqlite_env
    case_id, _ = detected_case(env, "s1")
    assert env.client.get("/console/queue/stream", follow_redirects=False).status_code == 303  # login first
    _login(env, "viewer")
    old = console.STREAM_LIFE_S
    console.STREAM_LIFE_S = 0.1
    try:
        with env.client.stream("GET", "/console/queue/stream") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            body = "".join(r.iter_text())
    finally:
        console.STREAM_LIFE_S = old
    data = json.loads(re.search(r"event: queue\ndata: (.+)\n", body).group(1))
    assert data == {"detected": 1, "latest": case_id}
