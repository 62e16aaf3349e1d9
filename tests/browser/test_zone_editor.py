"""The zone editor in Chromium: a reviewer draws a zone over the camera's latest picture, sees a bad one marked
on the drawing, links a good one to a shop and saves (stored, reload command queued with the document);
accepts a realignment the edge proposed; a viewer only looks; the page fits a phone; Chinese by default."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from central.domain import zone_editor
from central.orm.events import EdgeStatus, Evidence, Outbox
from central.orm.shops import Camera, ShopZone
from wire.schema import CommandMessage, StatusMessage, ZoneProposal, decode

from .conftest import PASSWORDS, Server
from .test_console_browser import log_in

pytestmark = pytest.mark.browser


def _camera_with_picture(server: Server) -> tuple[int, int]:
    """cam-1 has reported (a status) and sent a clean full frame (the seeded evidence photo)."""
    image = cv2.imdecode(np.frombuffer(server.store.get(server.sha), np.uint8), cv2.IMREAD_COLOR)
    h, w = image.shape[:2]
    with server.factory() as s:
        s.add(EdgeStatus(site_id="site-1", camera_id="cam-1", edge_id="edge-1", state="degraded"))
        s.add(Evidence(evidence_id="ev-frame-1", sha256=server.sha, event_id="e-1", kind="clean", size=1,
                       width=w, height=h, stored=True, site_id="site-1", camera_id="cam-1",
                       created_at=datetime.now(UTC)))
        s.commit()
    return w, h


def _click(page: Page, w: int, x: float, y: float) -> None:
    """Click picture pixel (x, y) of the editor's SVG."""
    box = page.locator("#zone-stage svg").bounding_box()
    k = box["width"] / w
    page.mouse.click(box["x"] + x * k, box["y"] + y * k)


def _draw(page: Page, w: int, points: list[tuple[float, float]]) -> None:
    page.get_by_role("button", name="New zone").click()
    for x, y in points:
        _click(page, w, x, y)
    _click(page, w, *points[0])  # the first point again closes the zone


def _commands(server: Server) -> list[CommandMessage]:
    with server.factory() as s:
        return [decode(r.payload.encode()) for r in s.scalars(select(Outbox).order_by(Outbox.id))]


def test_reviewer_draws_a_zone_links_it_to_a_shop_saves_and_accepts_a_realignment(
    page: Page, server: Server
) -> None:
    w, h = _camera_with_picture(server)
    log_in(page, server, "reviewer")
    page.goto(f"{server.url}/console/zones?camera=cam-1")
    href = page.eval_on_selector("#zone-stage svg image", "i => i.getAttribute('href')")
    assert href == f"/api/evidence/{server.sha}"  # the camera's newest full frame
    expect(page.locator("#zone-list fieldset[data-zone='z-42']")).to_be_visible()  # the registry's zone
    # a bow-tie: refused, and the zone is marked on the drawing and in the list
    _draw(page, w, [(0.2 * w, 0.5 * h), (0.5 * w, 0.9 * h), (0.5 * w, 0.5 * h), (0.2 * w, 0.9 * h)])
    expect(page.locator("#zone-list fieldset[data-zone='z-2']")).to_be_visible()
    page.get_by_role("button", name="Save and send to the camera").click()
    expect(page.locator("#zone-result")).to_have_text("Not saved: fix the marked zones.")
    expect(page.locator("#zone-stage polygon.bad[data-zone='z-2']")).to_have_count(1)
    expect(page.locator("fieldset[data-zone='z-2'] .problem")).to_contain_text("not simple")
    assert _commands(server) == []
    page.get_by_role("button", name="Delete zone").click()
    # a good zone in front of the shop, with its door line, linked to the shop
    quad = [(0.3 * w, 0.6 * h), (0.7 * w, 0.6 * h), (0.7 * w, 0.9 * h), (0.3 * w, 0.9 * h)]
    _draw(page, w, quad)
    page.get_by_role("button", name="Draw the door line").click()
    _click(page, w, 0.35 * w, 0.6 * h)
    _click(page, w, 0.65 * w, 0.6 * h)
    page.locator("fieldset[data-zone='z-2'] select[name=shop_id]").select_option("shop-42")
    page.get_by_role("button", name="Save and send to the camera").click()
    expect(page.locator("#zone-result")).to_contain_text("Saved: the camera reloads its zones")
    (cmd,) = _commands(server)
    assert cmd.cmd == "reload_zones" and cmd.site_id == "site-1" and cmd.camera_id == "cam-1"
    zone = {z["zone_id"]: z for z in cmd.zones["zones"]}["z-2"]
    assert cmd.zones["frame_size"] == [w, h] and zone["shop_id"] == "shop-42"
    assert np.abs(np.array(zone["polygon"]) - np.array(quad)).max() < 2.0  # where it was clicked
    assert zone["door_line"][0][1] == pytest.approx(0.6 * h, abs=2.0)
    with server.factory() as s:
        rows = {(z.zone_id, z.shop_id) for z in s.scalars(select(ShopZone).where(ShopZone.camera_id == "cam-1"))}
        assert rows == {("z-42", "shop-42"), ("z-2", "shop-42")}
        assert s.get(Camera, "cam-1").extra["zones"] == cmd.zones
    page.reload()  # the saved zones come back, and a corner is dragged to a new place
    page.locator("#zone-list fieldset[data-zone='z-2']").click()
    box = page.locator("#zone-stage svg").bounding_box()
    k = box["width"] / w
    page.mouse.move(box["x"] + quad[2][0] * k, box["y"] + quad[2][1] * k)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.8 * w * k, box["y"] + 0.95 * h * k, steps=5)
    page.mouse.up()
    page.get_by_role("button", name="Save and send to the camera").click()
    expect(page.locator("#zone-result")).to_contain_text("Saved: the camera reloads its zones")
    moved = {z["zone_id"]: z for z in _commands(server)[-1].zones["zones"]}["z-2"]["polygon"]
    assert np.abs(np.array(moved[2]) - (0.8 * w, 0.95 * h)).max() < 2.0 and moved[0] == zone["polygon"][0]
    # the camera is bumped: its edge proposes realigned zones (in its status), drawn dashed, accepted
    proposed = {"camera_id": "cam-1", "frame_size": [640, 480], "zones": [  # the edge's frames, not the picture's
        {"zone_id": "z-2", "shop_id": "shop-42", "polygon": [[40, 30], [140, 30], [140, 110]]}]}
    with server.factory() as s:
        zone_editor.note_status(s, StatusMessage(site_id="site-1", camera_id="cam-1", edge_id="edge-1",
                                                 state="degraded", proposal=ZoneProposal(
                                                     zones=proposed, shift_px=42.0, inliers=321, at=1.0)))
        s.commit()
    page.reload()
    expect(page.locator("#zone-proposal-note")).to_contain_text("42.0 px")
    expect(page.locator("#zone-stage g.proposal polygon")).to_have_count(1)
    page.get_by_role("button", name="Accept the realigned zones").click()
    expect(page.locator("#zone-proposal-note")).to_have_count(0)  # reloaded: nothing left to accept
    assert _commands(server)[-1].zones == proposed
    with server.factory() as s:
        assert s.get(Camera, "cam-1").extra == {"zones": proposed, "settled_at": 1.0}


def test_a_viewer_only_looks_in_chinese_on_a_phone(page_zh: Page, server: Server) -> None:
    _camera_with_picture(server)
    page = page_zh
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/console")
    page.get_by_label("用户名").fill("viewer")
    page.get_by_label("密码").fill(PASSWORDS["viewer"])
    page.locator("form button[type=submit]").first.click()
    page.goto(f"{server.url}/console/zones?camera=cam-1")
    expect(page.get_by_role("heading", name="区域编辑器")).to_be_visible()
    expect(page.locator("#zone-hint")).to_have_text("只读：审核员和管理员才能编辑区域。")
    expect(page.locator("#zone-actions button")).to_have_count(0)  # no new zone, no save
    expect(page.locator("#zone-list select[name=shop_id]").first).to_be_disabled()
    box = page.locator("#zone-stage svg").bounding_box()
    assert 300 < box["width"] <= 390  # the picture fills the phone's width, no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    answer = page.request.post(f"{server.url}/console/zones/cam-1", data={"document": {"camera_id": "cam-1"}})
    assert answer.status == 403 and _commands(server) == []  # with the viewer's own login cookie
