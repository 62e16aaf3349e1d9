"""An officer on a phone (390×844) works today's list in Chromium: reports a recheck with a real photo and
records a checklist inspection; the page never scrolls sideways."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from central.domain import cases, rectification
from central.orm.cases import Case
from central.orm.grades import Inspection
from central.users_cli import ensure_user

from .conftest import SHOTS, Server

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"the page logged errors: {errors}"


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_officer_reports_a_recheck_and_an_inspection_on_a_phone(phone: Page, server: Server,
                                                                 data_dir: Path) -> None:
    photo = sorted((data_dir / "sidewalk-bags" / "valid" / "images").glob("*.jpg"))[1]
    now = datetime.now(UTC)
    with server.factory() as s:
        ensure_user(s, "officer-lin", "officer-pass-1", "officer", area="Old Town")
        cases.confirm(s, server.case_id, actor="reviewer", settings=server.settings, now=now)
        case = s.get(Case, server.case_id)
        rectification.start_recheck(s, case, settings=server.settings, now=now + timedelta(minutes=30))
        rectification.recheck_timed_out(s, case, now=now + timedelta(minutes=41))
        s.commit()

    page = phone
    page.goto(f"{server.url}/officer")
    expect(page).to_have_url(re.compile(r"/console/login\?next=%2Fofficer|/console/login\?next=/officer"))
    page.locator("#username").fill("officer-lin")
    page.locator("#password").fill("officer-pass-1")
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/officer$"))
    task = page.locator(".card.task")
    expect(task).to_have_count(1)
    expect(task).to_contain_text("Golden Fruit")
    expect(page.locator(f'.card.due[data-shop="{server.shop_id}"]')).to_be_visible()
    _no_sideways_scroll(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "officer-today.png"), full_page=True)

    task.get_by_role("link", name=re.compile("Report")).click()
    page.locator("#outcome").select_option("clear")
    page.locator("#photos").set_input_files(str(photo))
    page.locator("#note").fill("门前已清理")
    _no_sideways_scroll(page)
    page.get_by_role("button", name=re.compile("Submit")).click()
    expect(page.get_by_role("status")).to_contain_text("Task done")
    expect(page.locator(".card.task")).to_have_count(0)
    with server.factory() as s:
        case = s.get(Case, server.case_id)
        assert case.state == "rectified" and not case.self_rectified  # the camera never saw the episode end
        assert "flagged" in case.closed_reason

    page.locator(f'.card.due[data-shop="{server.shop_id}"]').get_by_role("link", name=re.compile("Inspect")).click()
    page.get_by_label(re.compile("门前无乱堆物料")).uncheck()
    page.locator("#photos").set_input_files(str(photo))
    _no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / "officer-inspect.png"), full_page=True)
    page.get_by_role("button", name=re.compile("Save")).click()
    expect(page.get_by_role("status")).to_contain_text("Inspection recorded")
    expect(page.locator(f'.card.due[data-shop="{server.shop_id}"]')).to_have_count(0)
    with server.factory() as s:
        (ins,) = s.query(Inspection).all()
        assert ins.inspector == "officer-lin" and ins.sanitation == 75.0 and len(ins.photos) == 1
