"""A reviewer works the review queue in a real browser; the shop owner sees the notice."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from central.auth import shop_link_token
from central.notices import links
from central.orm.cases import Case

from .conftest import PASSWORDS, SHOTS, Server

pytestmark = pytest.mark.browser


def log_in(page: Page, server: Server, role: str) -> None:
    page.goto(f"{server.url}/console")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.get_by_label("Username").fill(role)
    page.get_by_label("Password").fill(PASSWORDS[role])
    page.get_by_role("button", name="Log in").click()


def image_loaded(page: Page, selector: str) -> bool:
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


def test_reviewer_confirms_alert_and_shop_owner_sees_notice(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/console/login")
    page.get_by_label("Username").fill("reviewer")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")

    log_in(page, server, "reviewer")
    alert = page.locator(f'article[data-case="{server.case_id}"]')
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Piled goods")
    expect(alert).to_contain_text("Golden Fruit")
    assert image_loaded(page, f'article[data-case="{server.case_id}"] img.evidence'), "no evidence image"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-queue.png"), full_page=True)

    alert.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_contain_text("confirmed: strike 1")
    expect(page.locator(f'article[data-case="{server.case_id}"]')).to_have_count(0)
    with server.factory() as s:
        assert s.get(Case, server.case_id).state == "notified"

    page.goto(f"{server.url}/console/cases/{server.case_id}")
    expect(page.locator("h1")).to_contain_text("notified")
    expect(page.locator(".timeline")).to_contain_text("case.confirm")
    expect(page.locator(".timeline")).to_contain_text("reviewer")
    page.screenshot(path=str(SHOTS / "console-case.png"), full_page=True)

    with server.factory() as s:
        token = links.owner_token(s, server.settings, server.shop_id)
        s.commit()
    owner = page.context.browser.new_context(viewport={"width": 900, "height": 900}, locale="en-US").new_page()
    owner.goto(f"{server.url}/owner/{token}")
    expect(owner.locator("h1")).to_contain_text("Golden Fruit")
    notice = owner.locator("section.case[data-case]")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("Advice")
    expect(notice).to_contain_text("Fix it before")
    assert image_loaded(owner, "section.case img.evidence"), "the owner does not see the evidence photo"
    owner.screenshot(path=str(SHOTS / "shop-page.png"), full_page=True)
    # the old public link shows the public board: no notice, no photo
    owner.goto(f"{server.url}/shop/{shop_link_token(server.settings, server.shop_id)}")
    expect(owner.locator("h1")).to_contain_text("Golden Fruit")
    expect(owner.locator("img")).to_have_count(0)
    owner.context.close()


def test_viewer_sees_queue_without_decision_buttons(page: Page, server: Server) -> None:
    log_in(page, server, "viewer")
    alert = page.locator(f'article[data-case="{server.case_id}"]')
    expect(alert).to_be_visible()
    expect(alert.get_by_role("button", name="Confirm")).to_have_count(0)
    expect(page.locator(".note")).to_contain_text("needs a reviewer")
    page.goto(f"{server.url}/console/grades")
    expect(page.locator("svg.chart")).to_be_visible()
    page.goto(f"{server.url}/console/shops")
    expect(page.locator("table")).to_contain_text("Golden Fruit")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "console-shops.png"), full_page=True)
    page.goto(f"{server.url}/console/events")
    expect(page.locator("h1")).to_contain_text("Detections")


def test_api_docs_render_offline(page: Page, server: Server) -> None:
    """Swagger UI comes from this server: block every other host and it still renders the API."""
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: route.abort())
    page.goto(f"{server.url}/docs")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Doorline central")
    expect(page.get_by_text("/api/evidence/{sha256}").first).to_be_visible()
