"""The shop owner's journey on a phone (390×844, Chinese): the notice arrives at the city's gateway (a real
webhook receiver), the owner opens its link, sees the evidence and the countdown, marks the problem fixed with
a photo, the camera's recheck runs and the page shows the result; the case closes as self-rectified."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import expect

from central import workflow
from central.domain import cases
from central.notices.sender import NoticeSender
from central.orm.cases import Case
from central.orm.notices import ShopChannel
from tests.central.notices.notice_receivers import WebhookReceiver
from wire.schema import RecheckResult

from .conftest import SHOTS, Server

SECRET = "gateway-secret-for-the-browser-test"


def _camera_answers(server: Server, result: str, stop: threading.Event) -> None:
    """Stands in for the edge: once central has sent the recheck command, answer it as the edge's
    RecheckResult would arrive through ingest (workflow.handle_recheck)."""
    while not stop.wait(0.2):
        with server.factory() as s:
            case = s.get(Case, server.case_id)
            if case.state != "rechecking":
                continue
            msg = RecheckResult(site_id="site-1", camera_id="cam-1", command_id=case.recheck_command_id,
                                case_id=case.id, zone_id="z-42", result=result, ts=time.time(), score=0.05)
            workflow.handle_recheck(s, msg, server.settings)
            s.commit()
            return


def test_owner_marks_fixed_with_a_photo_on_a_phone(browser, server: Server, data_dir: Path) -> None:
    rx = WebhookReceiver(SECRET).start()
    stop = threading.Event()
    try:
        with server.factory() as s:
            s.add(ShopChannel(shop_id=server.shop_id, kind="webhook", target=rx.url, secret=SECRET))
            s.commit()
            cases.confirm(s, server.case_id, actor="reviewer", settings=server.settings,
                          now=datetime.now(UTC))
            s.commit()
        sender = NoticeSender(server.settings, server.factory, owner="browser-test")
        sender.drain_once()
        sender.stop()
        (notice,) = rx.wait_for(1)
        link = urlsplit(notice.payload["link"])
        assert link.path.startswith("/owner/") and link.path in notice.payload["body"]

        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                      is_mobile=True, has_touch=True)
        phone = context.new_page()
        phone.set_default_timeout(10_000)
        errors: list[str] = []
        phone.on("pageerror", lambda exc: errors.append(str(exc)))
        phone.goto(f"{server.url}{link.path}")
        expect(phone.locator("h1")).to_contain_text("Golden Fruit")
        case = phone.locator(f'section.case[data-case="{server.case_id}"]')
        expect(case).to_contain_text("占道堆物")
        expect(case).to_contain_text("第 1 次")
        expect(case.locator(".countdown")).to_have_text(re.compile(r"^\d+:\d\d(:\d\d)?$"))
        assert phone.eval_on_selector("section.case img.evidence", "i => i.complete && i.naturalWidth > 0")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is wider than the phone ({width} px)"
        SHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SHOTS / "owner-phone.png"), full_page=True)

        threading.Thread(target=_camera_answers, args=(server, "clear", stop), daemon=True).start()
        photo = sorted((data_dir / "sidewalk-bags" / "valid" / "images").glob("*.jpg"))[1]
        case.locator('input[type="file"]').set_input_files(str(photo))
        case.get_by_role("button", name="我已整改").click()
        expect(phone.locator(".flash")).to_contain_text("摄像头正在复查")
        expect(phone.locator(f'section.case[data-case="{server.case_id}"] .recheck')).to_contain_text(
            "复查通过", timeout=15_000)
        phone.screenshot(path=str(SHOTS / "owner-phone-fixed.png"), full_page=True)
        with server.factory() as s:
            closed = s.get(Case, server.case_id)
            assert closed.state == "rectified" and closed.self_rectified
            assert closed.closed_reason == "rectified by the shop"
        assert not errors, errors
        context.close()
    finally:
        stop.set()
        rx.stop()
