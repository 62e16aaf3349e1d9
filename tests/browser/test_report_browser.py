"""A citizen reports a shop from its board on a phone (390×844, Chinese) with a short real video and a few
words: the page confirms in Chinese, and the operator's queue (console) shows the report with the video's
JPEG key frames. A file that is not a video, named .mp4, is refused with a clear Chinese message and
nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from central.domain import videos
from central.notices.text import t
from central.orm.reports import CitizenReport
from testkit.clips import small_clip

from .conftest import SHOTS, Server
from .test_console_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIDEO_HINT = {"seconds": round(videos.MAX_SECONDS), "mb": videos.MAX_BYTES // (1024 * 1024)}


def _reports(server: Server) -> list[CitizenReport]:
    with server.factory() as s:
        return list(s.scalars(select(CitizenReport).order_by(CitizenReport.id)))


def _stored(server: Server) -> set[Path]:
    return {p for p in Path(server.settings.evidence_dir).rglob("*") if p.is_file()}


def test_a_citizen_reports_with_a_video_on_a_phone_and_the_operator_sees_its_key_frames(
        browser, server: Server, page: Page, data_dir: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                  has_touch=True)
    phone = context.new_page()
    phone.set_default_timeout(20_000)
    errors: list[str] = []
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # from the shop's public board, as a citizen scanning its QR code would
        phone.goto(f"{server.url}/board/{server.shop_id}")
        phone.get_by_role("link", name=t("board.report", "zh-CN")).click()
        expect(phone.locator("h1")).to_have_text(t("report.title", "zh-CN"))
        form = phone.locator("form.report")
        expect(form).to_contain_text("Golden Fruit")
        form.locator('textarea[name="text"]').fill("门口堆了很多纸箱，挡住了人行道")
        form.locator('input[name="video"]').set_input_files(
            {"name": "VID_20260302_0930.mp4", "mimeType": "video/mp4", "buffer": small_clip(seconds=2.0)})
        form.get_by_role("button", name=t("report.send", "zh-CN")).click()

        (report,) = _reports(server)
        expect(phone.get_by_role("status")).to_have_text(t("report.thanks", "zh-CN", id=report.id))
        expect(phone.get_by_role("status")).to_contain_text("已收到")
        assert report.shop_id == server.shop_id and report.text == "门口堆了很多纸箱，挡住了人行道"
        assert report.video and len(report.video_frames) == videos.KEY_FRAMES and report.photos == []
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is wider than the phone ({width} px)"
        SHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SHOTS / "report-phone-video.png"), full_page=True)

        # a page renamed .mp4: refused in Chinese, nothing stored, no report
        before = _stored(server)
        form = phone.locator("form.report")
        form.locator('textarea[name="text"]').fill("再举报一次")
        form.locator('input[name="video"]').set_input_files(
            {"name": "VID_20260302_0931.mp4", "mimeType": "video/mp4",
             "buffer": b"<html><body>not a video</body></html>" * 50})
        form.get_by_role("button", name=t("report.send", "zh-CN")).click()
        alert = phone.get_by_role("alert")
        expect(alert).to_have_text(t("report.bad_video", "zh-CN", **VIDEO_HINT))
        expect(alert).to_contain_text("无法接收该视频")
        expect(phone.get_by_role("status")).to_have_count(0)
        phone.screenshot(path=str(SHOTS / "report-phone-refused.png"), full_page=True)
        assert [r.id for r in _reports(server)] == [report.id]
        assert _stored(server) == before
        # a photo named .mp4 is no video either
        photo = sorted((data_dir / "sidewalk-bags" / "valid" / "images").glob("*.jpg"))[0]
        form = phone.locator("form.report")
        form.locator('input[name="video"]').set_input_files(
            {"name": "VID_20260302_0932.mp4", "mimeType": "video/mp4", "buffer": photo.read_bytes()})
        form.get_by_role("button", name=t("report.send", "zh-CN")).click()
        expect(phone.get_by_role("alert")).to_contain_text("无法接收该视频")
        assert [r.id for r in _reports(server)] == [report.id] and _stored(server) == before
        assert not errors, errors
    finally:
        context.close()

    # the operator's queue: the report with its video and the video's key frames, real JPEGs
    log_in(page, server, "reviewer")
    page.goto(f"{server.url}/console/reports")
    item = page.locator(f'article[data-report="{report.id}"]')
    expect(item).to_be_visible()
    expect(item).to_contain_text("门口堆了很多纸箱")
    expect(item).to_contain_text(server.shop_id)
    expect(item.locator(f'figure.video[data-video="{report.video}"]')).to_be_visible()
    frames = item.locator("img.evidence.frame")
    expect(frames).to_have_count(videos.KEY_FRAMES)
    for i, sha in enumerate(report.video_frames):
        frame = frames.nth(i)
        expect(frame).to_have_attribute("src", f"/api/evidence/{sha}")
        frame.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=frame.element_handle())
        assert frame.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [160, 120]
        served = page.request.get(f"{server.url}/api/evidence/{sha}")
        assert served.ok and served.headers["content-type"] == "image/jpeg"
        assert served.body()[:3] == b"\xff\xd8\xff"
    # the key frames are a row of thumbnails under the clip, not pictures stretched to the clip's width
    boxes = [frames.nth(i).bounding_box() for i in range(videos.KEY_FRAMES)]
    assert all(b is not None and b["width"] <= 120 for b in boxes), boxes
    assert len({round(b["y"]) for b in boxes}) == 1, boxes
    video = item.locator("video.evidence")
    assert video.get_attribute("poster") == f"/api/evidence/{report.video_frames[0]}"
    # the re-encoded clip plays in the operator's browser (its metadata decodes: the frame size and length)
    page.wait_for_function("v => v.readyState >= 1 || v.error", arg=video.element_handle())
    assert video.evaluate("v => [v.error && v.error.code, v.videoWidth, v.videoHeight]") == [None, 160, 120]
    assert 1.5 <= video.evaluate("v => v.duration") <= 2.5
    page.screenshot(path=str(SHOTS / "console-report-video.png"), full_page=True)
    with server.factory() as s:
        assert s.scalar(select(func.count()).select_from(CitizenReport)) == 1
