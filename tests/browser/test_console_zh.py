"""The console in Chinese, in a real browser: local times, the evidence of a real episode (start frame
annotated, end frame beside it), the keyboard, the strike warning before a penalty, undo of a dismissal,
a decision that survives an expired login, a new alert arriving live, English through the switch.
Screenshots of the queue and a case go to docs/img/ (the README shows them)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from central.orm.cases import Case

from .conftest import PASSWORDS, SHOTS, Server

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
ZH_TIME = re.compile(r"\d{4}/\d{1,2}/\d{1,2} \d{2}:\d{2}")


def _doc_shot(page: Page, name: str) -> None:
    """A screenshot for the README, kept small (960 px wide, 192 colours): into docs/img/ when
    DOORLINE_DOC_SHOTS=1, else beside the other screenshots (var/screenshots), so a test run leaves the
    committed pictures alone."""
    from PIL import Image

    folder = DOCS_IMG if os.environ.get("DOORLINE_DOC_SHOTS") == "1" else SHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path))
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    w, h = rgb.size
    small = rgb.resize((960, round(h * 960 / w)), Image.LANCZOS).quantize(192, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def log_in(page: Page, server: Server, role: str = "reviewer") -> None:
    page.goto(f"{server.url}/console")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.get_by_label("用户名").fill(role)
    page.get_by_label("密码").fill(PASSWORDS[role])
    page.get_by_role("button", name="登录").click()


def _real_episode(server: Server, data_dir: Path) -> str:
    """A piled-goods episode of the dev clip (bags set down at 36 s, taken away at 121 s in zone dz-1) with
    the evidence the edge makes (edge.evidence.EvidenceWriter: annotated, clean, crops) at its start and
    end, stored as the ingest stores phases; returns the case id."""
    import cv2
    import numpy as np

    from central.domain import registry
    from central.domain.shop_schema import ShopIn
    from central.orm.events import Event, EventPhaseRecord
    from central.workflow import handle_event
    from edge.evidence import EvidenceWriter
    from wire.ids import new_id
    from wire.schema import EventMessage

    clip = data_dir / "dev-events" / "clip_00.mp4"
    cap = cv2.VideoCapture(str(clip))
    frames = {}
    for t in (70.0, 135.0):
        cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
        ok, frame = cap.read()
        assert ok, f"cannot read {clip} at {t} s"
        frames[t] = frame
    cap.release()
    polygon = np.array([[600, 215], [740, 215], [760, 290], [610, 290]], np.float32)
    # the bags: where the frame with goods differs from the one without, inside the zone's box
    x0, y0, x1, y1 = 590, 170, 770, 300
    diff = cv2.absdiff(frames[70.0][y0:y1, x0:x1], frames[135.0][y0:y1, x0:x1]).max(axis=2)
    ys, xs = np.nonzero(diff > 40)
    box = [x0 + xs.min(), y0 + ys.min(), x0 + xs.max(), y0 + ys.max()] if len(xs) else [620, 220, 700, 285]
    writer = EvidenceWriter(site_id="site-1")
    event_id = new_id()
    start_ts = datetime.now(UTC).timestamp() - 600
    with server.factory() as s:
        registry.create_shop(s, ShopIn.model_validate({
            "id": "shop-dz-1", "name": "福满楼杂货店", "address": "解放路 12 号", "road": "解放路", "area": "老城区",
            "business_type": "杂货", "owner": "王丽", "phone": "138-0000-0012",
            "zones": [{"camera_id": "cam-7", "zone_id": "dz-1", "polygon": polygon.tolist()}]}), actor="test")
        for seq, (phase, t, boxes) in enumerate((("start", 70.0, [box]), ("end", 135.0, []))):
            bundle = writer.make(frames[t], camera_id="cam-7", event_id=event_id, unix_ts=start_ts + seq * 65,
                                 polygon=polygon, boxes=np.array(boxes, np.float32).reshape(-1, 4),
                                 title=f"dz-1 piled_goods {phase}", name=f"{seq}-{phase}")
            for m in bundle.messages:
                server.store.put(m.data())
            msg = EventMessage(site_id="site-1", camera_id="cam-7", event_id=event_id, seq=seq, zone_id="dz-1",
                               violation="piled_goods", phase=phase, ts=start_ts + seq * 65, score=0.87,
                               boxes=[[float(v) for v in b] for b in boxes],
                               evidence=[m.ref() for m in bundle.messages])
            ts = datetime.fromtimestamp(msg.ts, UTC)
            ev = s.get(Event, event_id)
            if ev is None:
                ev = Event(event_id=event_id, site_id="site-1", camera_id="cam-7", zone_id="dz-1",
                           violation="piled_goods", phase=phase, last_seq=seq, first_ts=ts, last_ts=ts, score=0.87)
                s.add(ev)
            ev.phase, ev.last_seq, ev.last_ts = phase, seq, ts
            s.add(EventPhaseRecord(message_id=msg.message_id, event_id=event_id, seq=seq, phase=phase, ts=ts,
                                   sent_at=msg.sent_at, payload=msg.model_dump_json()))
            case = handle_event(s, msg, server.settings)
        s.commit()
        return case.id


def _prior_strikes(server: Server, shop_id: str, n: int) -> None:
    """n earlier violations of the shop, confirmed and closed: the next confirmation is strike n + 1."""
    from central.domain import cases, rectification
    from central.workflow import handle_event
    from wire.ids import new_id
    from wire.schema import EventMessage

    for i in range(n):
        with server.factory() as s:
            msg = EventMessage(site_id="site-1", camera_id="cam-1", event_id=new_id(), seq=0, zone_id="z-42",
                               violation="piled_goods", phase="start",
                               ts=datetime.now(UTC).timestamp() - 86400 * (10 + i), score=0.8)
            open_case = s.scalar(__import__("sqlalchemy").select(Case).where(Case.shop_id == shop_id,
                                                                             Case.is_open.is_(True)))
            if open_case is not None:  # the seeded alert waits: take it aside while the history is made
                cases.dismiss(s, open_case.id, actor="test", reason="history")
            c = handle_event(s, msg, server.settings)
            cases.confirm(s, c.id, actor="test", settings=server.settings)
            rectification.close_case(s, c.id, actor="test", reason="settled", evidence=["ef" * 32])
            s.commit()


@pytest.mark.slow  # reads two frames of the dev clip and makes the edge's evidence (~8 s)
def test_queue_and_case_in_chinese_with_real_evidence(server: Server, page_zh: Page, data_dir: Path) -> None:
    page = page_zh
    case_id = _real_episode(server, data_dir)
    with server.factory() as s:  # the seeded alert came an hour earlier: the real episode leads the queue
        seeded = s.get(Case, server.case_id)
        seeded.first_seen_at = seeded.opened_at = datetime.now(UTC) - timedelta(hours=1)
        s.commit()
    log_in(page, server)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_contain_text("待审核告警")
    assert page.locator("article.alert").first.get_attribute("data-case") == case_id  # newest first
    card = page.locator(f'article[data-case="{case_id}"]')
    expect(card).to_contain_text("福满楼杂货店")
    expect(card).to_contain_text("确认后将发出：劝导（第 1 次）")
    expect(card.locator("figcaption")).to_have_text(["开始 · 标注", "结束 · 标注"])
    for img in card.locator("img.evidence").all():
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), "an evidence picture did not load"
    # local time (Asia/Shanghai), formatted for zh-CN; no UTC anywhere
    with server.factory() as s:
        first_seen = s.get(Case, case_id).first_seen_at
    from central.i18n import translator

    local = translator("zh-CN", tz="Asia/Shanghai").datetime(first_seen)
    assert ZH_TIME.fullmatch(local)
    expect(card).to_contain_text(local)
    assert "UTC" not in page.locator("main").inner_text()
    page.set_viewport_size({"width": 1280, "height": 820})
    _doc_shot(page, "console-queue.png")

    # a click opens the picture full size
    with page.context.expect_page() as popup:
        card.locator("a.zoom").first.click()
    full = popup.value
    full.wait_for_load_state()
    assert full.url.startswith(f"{server.url}/api/evidence/")
    full.close()

    card.locator("a[data-key=open]").click()
    expect(page.locator("h1")).to_contain_text("占道堆物")
    expect(page.locator(".pics.lead figcaption")).to_have_text(["开始 · 标注", "结束 · 标注"])
    expect(page.locator(".timeline")).to_contain_text("告警立案")
    _doc_shot(page, "console-case.png")


def test_keyboard_undo_and_penalty_warning(server: Server, page_zh: Page) -> None:
    page = page_zh
    _prior_strikes(server, server.shop_id, 2)
    with server.factory() as s:
        from central.domain.undo import undo_dismiss

        undo_dismiss(s, server.case_id, actor="test")  # the seeded alert waits again
        s.commit()
    log_in(page, server)
    card = page.locator(f'article[data-case="{server.case_id}"]')
    expect(card).to_contain_text("近 365 天内 2 次")
    expect(card).to_contain_text("确认后将发出：处罚通知（第 3 次）")
    expect(page.locator("#keys")).to_contain_text("驳回")
    # d: dismiss with a reason, typed, Enter
    page.keyboard.press("d")
    expect(card.locator("input[name=reason]")).to_be_focused()
    page.keyboard.type("路人遮挡")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("已驳回（路人遮挡）")
    expect(page.locator(f'article[data-case="{server.case_id}"]')).to_have_count(0)
    # u: undo
    page.keyboard.press("u")
    expect(page.get_by_role("status").first).to_contain_text("已恢复到待审核队列")
    card = page.locator(f'article[data-case="{server.case_id}"]')
    expect(card).to_have_count(1)
    # c: confirm; a penalty asks first
    page.keyboard.press("c")
    expect(page.locator("h1")).to_contain_text("此次确认将发出处罚通知")
    with server.factory() as s:
        assert s.get(Case, server.case_id).state == "detected"
    page.get_by_role("button", name="确认并发出处罚通知").click()
    expect(page.get_by_role("status").first).to_contain_text("第 3 次违规，已向商户发送处罚通知")
    with server.factory() as s:
        case = s.get(Case, server.case_id)
        assert case.state == "notified" and case.strike == 3


def test_decision_survives_an_expired_login(server: Server, page_zh: Page) -> None:
    page = page_zh
    log_in(page, server)
    card = page.locator(f'article[data-case="{server.case_id}"]')
    card.locator("input[name=reason]").fill("阴影误报")
    page.context.clear_cookies()  # the login expired while the operator looked at the picture
    card.get_by_role("button", name="驳回").click()
    expect(page.get_by_role("status").first).to_contain_text("登录已过期")
    page.get_by_label("用户名").fill("reviewer")
    page.get_by_label("密码").fill(PASSWORDS["reviewer"])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("status").first).to_contain_text("已驳回（阴影误报）")
    assert "Method Not Allowed" not in page.content()
    with server.factory() as s:
        assert s.get(Case, server.case_id).state == "dismissed"


def test_new_alert_arrives_without_reload_and_english_switch(server: Server, page_zh: Page) -> None:
    from central.workflow import handle_event
    from wire.ids import new_id
    from wire.schema import EventMessage, EvidenceRef

    page = page_zh
    log_in(page, server)
    expect(page.locator("article.alert")).to_have_count(1)
    page.evaluate("window.__stayed = true")
    with server.factory() as s:
        from central.domain import registry
        from central.domain.shop_schema import ShopIn

        registry.create_shop(s, ShopIn.model_validate({
            "id": "shop-77", "name": "新华书店", "address": "人民路 77 号", "road": "人民路",
            "zones": [{"camera_id": "cam-3", "zone_id": "z-77", "polygon": [[0, 0], [50, 0], [50, 50]]}]}),
            actor="test")
        msg = EventMessage(site_id="site-1", camera_id="cam-3", event_id=new_id(), seq=0, zone_id="z-77",
                           violation="cross_door_trading", phase="start", ts=datetime.now(UTC).timestamp(),
                           score=0.77, evidence=[EvidenceRef(evidence_id=new_id(), sha256=server.sha, size=10)])
        new_case = handle_event(s, msg, server.settings)
        s.commit()
    fresh = page.locator(f'article[data-case="{new_case.id}"]')
    expect(fresh).to_be_visible(timeout=8000)
    expect(fresh).to_contain_text("新华书店")
    assert page.evaluate("window.__stayed === true"), "the page reloaded"
    assert page.locator("article.alert").first.get_attribute("data-case") == new_case.id  # newest first

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_contain_text("Alerts to review")
    expect(page.locator(f'article[data-case="{new_case.id}"]')).to_contain_text("Cross-door trading")
    page.goto(f"{server.url}/console/cases")  # the choice is remembered
    expect(page.locator("h1")).to_contain_text("Cases")


def test_phone_layout_leads_with_content(server: Server, browser) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        log_in(page, server)
        card = page.locator(f'article[data-case="{server.case_id}"]')
        expect(card).to_be_visible()
        top = card.bounding_box()["y"]
        assert top < 300, f"the first alert starts {top:.0f} px down a 844 px phone screen"
        nav = page.locator("header nav").bounding_box()
        assert nav["height"] < 60, "the menu takes more than one row"
        assert page.locator("#filters").bounding_box()["y"] > top  # filters come after the alerts
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "console-phone.png"))
    finally:
        context.close()


def test_map_offline_with_shops_coloured_by_grade(server: Server, page_zh: Page) -> None:
    """The map's scripts and styles come from this server: every other host is blocked and the shops are
    still drawn, each in its grade's colour, with cameras and open cases."""
    from central.domain import registry
    from central.domain.shop_schema import ShopIn
    from central.orm.shops import Shop

    page = page_zh
    base_lat, base_lon, d = 31.2304, 121.4737, 0.00005
    grades = ["red", "yellow", "green", "green", None]
    with server.factory() as s:
        for i, grade in enumerate(grades):
            lat, lon = base_lat + i * 0.0006, base_lon + (i % 2) * 0.0008
            registry.create_shop(s, ShopIn.model_validate({
                "id": f"m-{i}", "name": f"地图商户 {i}", "address": f"南京东路 {i} 号", "road": "南京东路",
                "footprint": [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]],
                "zones": [{"camera_id": "cam-9", "zone_id": f"zm-{i}", "polygon": [[0, 0], [9, 0], [9, 9]]}]}),
                actor="test")
            s.flush()
            s.get(Shop, f"m-{i}").grade = grade
        s.commit()
    outside: list[str] = []

    def block(route) -> None:
        outside.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), block)
    log_in(page, server, "viewer")
    page.get_by_role("link", name="地图").click()
    expect(page.locator("#map")).to_have_attribute("data-ready", "1")
    for grade, n in (("red", 1), ("yellow", 1), ("green", 2), ("none", 1)):
        expect(page.locator(f"path.shop-marker.grade-{grade}")).to_have_count(n)
    fill = page.locator("path.shop-marker.grade-red").get_attribute("fill")
    assert fill == "#c62828"
    expect(page.locator(".device-marker.camera")).to_have_count(1)
    expect(page.locator(".leaflet-control-layers")).to_contain_text("摄像头")
    assert not outside, f"the map asked other hosts: {outside}"
    page.locator("path.shop-marker.grade-red").click()
    expect(page.locator(".leaflet-popup-content")).to_contain_text("地图商户 0")
    page.wait_for_timeout(400)  # the popup fades in
    _doc_shot(page, "console-map.png")
    page.goto(f"{server.url}/console/shops/m-0")
    expect(page.locator("h1")).to_contain_text("地图商户 0")
    expect(page.locator("svg.timeline-chart")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-shop-file.png"), full_page=True)
