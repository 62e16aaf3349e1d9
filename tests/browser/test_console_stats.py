"""In Chromium, in Chinese: a shop file opened from the review queue and from the map (grade timeline,
cases with their pictures, strikes, inspections done and due, complaints), and the statistics pages (charts
drawn on the server, no untranslated string) with a hot spot shown on the map from its list."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from playwright.sync_api import Page, expect

from central.domain.clock import local_day, zone
from central.orm.cases import Case, Complaint
from central.orm.grades import GradeChange, HotSpot
from central.orm.shops import Shop
from wire.ids import new_id

from .conftest import Server
from .test_console_zh import _doc_shot, log_in

pytestmark = pytest.mark.browser

LAT, LON = 31.2304, 121.4737


def _earlier_strike(server: Server) -> None:
    """A violation of shop-42 ten days ago, with the real photo as its evidence, confirmed and closed."""
    from central.domain import cases, rectification
    from central.domain.undo import undo_dismiss
    from central.workflow import handle_event
    from wire.schema import EventMessage, EvidenceRef

    with server.factory() as s:
        cases.dismiss(s, server.case_id, actor="test", reason="history")  # the seeded alert steps aside
        msg = EventMessage(site_id="site-1", camera_id="cam-1", event_id=new_id(), seq=0, zone_id="z-42",
                           violation="piled_goods", phase="start", ts=datetime.now(UTC).timestamp() - 86400 * 10,
                           score=0.8, evidence=[EvidenceRef(evidence_id=new_id(), sha256=server.sha, size=10)])
        c = handle_event(s, msg, server.settings)
        cases.confirm(s, c.id, actor="test", settings=server.settings)
        rectification.close_case(s, c.id, actor="test", reason="settled", evidence=[server.sha])
        undo_dismiss(s, server.case_id, actor="test")  # and waits in the queue again
        s.commit()


def _file_story(server: Server) -> None:
    """shop-42 (which has the seeded alert) with a grade history, one earlier strike, an inspection, a
    complaint and coordinates."""
    from central.domain.inspections import record_inspection

    _earlier_strike(server)
    now = datetime.now(UTC)
    with server.factory() as s:
        shop = s.get(Shop, server.shop_id)
        shop.name, shop.grade, shop.lat, shop.lon = "金果水果店", "yellow", LAT, LON
        s.add_all([GradeChange(shop_id=server.shop_id, at=now - timedelta(days=120), old_grade=None,
                               new_grade="green", rule_set="counts", reason="首次评定"),
                   GradeChange(shop_id=server.shop_id, at=now - timedelta(days=10), old_grade="green",
                               new_grade="yellow", rule_set="counts", reason="一次违规")])
        record_inspection(s, server.shop_id, inspector="巡查员李", waste=90, sanitation=80, advertising=85,
                          at=now - timedelta(days=2), settings=server.settings)
        s.add(Complaint(shop_id=server.shop_id, at=now - timedelta(days=1), text="门口堆满纸箱"))
        s.commit()


def _check_shop_file(page: Page) -> None:
    expect(page.locator("h1")).to_contain_text("金果水果店")
    chart = page.locator("svg.timeline-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.spell")).to_have_count(3)  # not graded, green, yellow
    assert re.search(r"\d{4}/\d{1,2}/\d{1,2}", chart.locator("text").first.text_content())
    expect(page.locator("ol.timeline")).to_contain_text("绿色 → 黄色")
    tiles = page.locator("article.case-tile")
    expect(tiles).to_have_count(2)
    for img in page.locator("article.case-tile img.evidence").all():
        img.scroll_into_view_if_needed()
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("i => i.naturalWidth > 0"), "a case picture did not load"
    expect(page.locator("main")).to_contain_text("近 365 天内 1 次")  # strikes
    expect(page.locator("main")).to_contain_text("巡查员李")  # an inspection done
    expect(page.locator("main")).to_contain_text("下次巡查")  # and the next one due
    expect(page.locator("main")).to_contain_text("门口堆满纸箱")  # a complaint


def test_shop_file_from_the_queue_and_from_the_map(server: Server, page_zh: Page) -> None:
    page = page_zh
    _file_story(server)
    log_in(page, server)
    card = page.locator(f'article[data-case="{server.case_id}"]')
    card.get_by_role("link", name="金果水果店").click()
    expect(page).to_have_url(re.compile(r"/console/shops/shop-42$"))
    _check_shop_file(page)

    page.get_by_role("link", name="地图", exact=True).click()
    expect(page.locator("#map")).to_have_attribute("data-ready", "1")
    # the shop's camera and its open case are drawn on it: hide those layers, as an operator would
    for layer in ("摄像头", "案件"):
        page.locator(".leaflet-control-layers-overlays label", has_text=layer).locator("input").uncheck()
    page.locator("path.shop-marker.grade-yellow").click()
    page.locator(".leaflet-popup-content a.shop-file").click()
    expect(page).to_have_url(re.compile(r"/console/shops/shop-42$"))
    _check_shop_file(page)


def _stats_story(server: Server) -> None:
    """Alerts of both kinds over the last days (local), notified cases fixed or not, and a hot spot at the
    shop's address."""
    today = local_day(datetime.now(UTC), server.settings.timezone)

    def at(days_ago: int, hour: int) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), time(hour), tzinfo=zone(server.settings.timezone))

    from central.domain import registry
    from central.domain.shop_schema import ShopIn

    # one open case per shop and violation: the open ones go to two neighbours at the same address
    plan = [(6, "cross_door_trading", "rectified", True, "shop-42"), (6, "piled_goods", "escalated", False, "n-1"),
            (4, "cross_door_trading", "rectified", True, "shop-42"), (3, "piled_goods", "rectified", True, "shop-42"),
            (2, "cross_door_trading", "resolved", False, "shop-42"), (1, "piled_goods", "notified", False, "n-2")]
    with server.factory() as s:
        for sid in ("n-1", "n-2"):
            registry.create_shop(s, ShopIn.model_validate({"id": sid, "name": f"邻居 {sid}",
                                                           "address": "42 Harbour Road", "road": "Harbour Road"}),
                                 actor="test")
        for i, (ago, violation, state, fixed, shop_id) in enumerate(plan):
            s.add(Case(id=new_id(), shop_id=shop_id, violation=violation, state=state,
                       is_open=state in ("escalated", "notified"), opened_at=at(ago, 9 + i),
                       confirmed_at=at(ago, 10 + i), notified_at=at(ago, 10 + i), self_rectified=fixed))
        shop = s.get(Shop, server.shop_id)
        shop.lat, shop.lon, shop.grade = LAT, LON, "red"
        s.add(HotSpot(address=shop.address, road=shop.road, area=shop.area, since=at(2, 12), tickets=6,
                      open_cases=2))
        s.commit()


def test_statistics_and_hot_spots_in_chinese(server: Server, page_zh: Page) -> None:
    from central.i18n import check

    page = page_zh
    _stats_story(server)
    log_in(page, server, "viewer")
    page.get_by_role("link", name="统计", exact=True).click()
    expect(page.locator("h1")).to_contain_text("统计")
    for ident in ("vd", "sr", "gs"):
        expect(page.locator(f"svg#{ident}")).to_be_visible()
    expect(page.locator("svg#vd rect.bar-cross_door_trading")).to_have_count(3)
    expect(page.locator("svg#vd rect.bar-piled_goods")).to_have_count(4)  # and the seeded alert, today
    expect(page.locator("svg#vd")).to_contain_text("跨门经营")  # the legend, drawn in the chart
    expect(page.locator("#self-rectified")).to_contain_text("60.0%")  # 3 of 5 decided; the waiting one left out

    # no English from the catalogs anywhere a person reads: the page and the charts' titles and descriptions
    english = {m for m, zh in check.catalog("zh_CN").items()
               if zh != m and len(m) > 3 and re.search(r"[A-Za-z]{3}", m) and "%(" not in m}
    shown = page.locator("main").inner_text().splitlines()
    shown += page.locator("main svg.chart").evaluate_all(
        "svgs => svgs.flatMap(s => [...s.querySelectorAll('title, desc, text')].map(e => e.textContent))")
    leaked = sorted({line.strip() for line in shown} & english)
    assert not leaked, f"untranslated: {leaked}"
    assert not [t for t in shown if re.search(r"\b(of|on|from|per|the)\b", t)], "an English sentence is shown"
    page.set_viewport_size({"width": 1280, "height": 1100})
    _doc_shot(page, "console-stats.png")

    page.get_by_role("link", name="热点", exact=True).first.click()
    expect(page.locator("h1")).to_contain_text("热点")
    row = page.locator("#hotspot-list tbody tr").first
    expect(row).to_contain_text("42 Harbour Road")
    row.get_by_role("link", name="在地图上查看").click()
    expect(page.locator("#map")).to_have_attribute("data-focus", "42 Harbour Road")
    expect(page.locator(".leaflet-popup-content")).to_contain_text("42 Harbour Road")
    expect(page.locator(".leaflet-popup-content")).to_contain_text("热点")
