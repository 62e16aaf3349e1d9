"""A live alert over the real path: the edge's publisher (spool, MQTT) → a private Mosquitto → central's
ingest service → the workflow → the console's event stream → a card in the open queue, no reload; then the
reviewer clears it from the keyboard."""

from __future__ import annotations

import re
import secrets
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from central.orm.cases import Case

from .conftest import PASSWORDS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def live(tmp_path: Path, broker, topic_prefix: str):
    import uvicorn

    import central.orm  # noqa: F401
    from central.app import create_app
    from central.db import make_engine, make_session_factory
    from central.domain import registry
    from central.domain.shop_schema import ShopIn
    from central.evidence_store import LocalEvidenceStore
    from central.ingest import IngestService
    from central.orm.base import Base
    from central.settings import CentralSettings
    from central.users_cli import ensure_user
    from edge.publisher import Publisher
    from testkit.ports import free_port
    from wire.mqtt import MqttSettings

    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'live.db'}"
    mqtt = MqttSettings(host=broker.host, port=broker.port, prefix=topic_prefix)
    settings = CentralSettings(database_url=db_url, evidence_dir=tmp_path / "evidence", mqtt=mqtt, port=port,
                               secret_key=secrets.token_urlsafe(48))
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    store = LocalEvidenceStore(tmp_path / "evidence")
    with factory() as s:
        ensure_user(s, "reviewer", PASSWORDS["reviewer"], "reviewer")
        registry.create_shop(s, ShopIn.model_validate({
            "id": "shop-live", "name": "街角面包房", "address": "淮海中路 8 号", "road": "淮海中路",
            "zones": [{"camera_id": "cam-live", "zone_id": "z-door", "polygon": [[0, 0], [300, 0], [300, 200]]}]}),
            actor="test")
        s.commit()
    ingest = IngestService(settings, factory, store)
    ingest.start()
    assert ingest.wait_ready(10), f"ingest not subscribed: {ingest.stats()}"
    app = create_app(settings, factory, store=store)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                       timeout_graceful_shutdown=2))
    thread = threading.Thread(target=uv.run, name="uvicorn-live", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    edge = Publisher(mqtt, edge_id="edge-live", site_id="site-live", camera_ids=["cam-live"],
                     spool_path=tmp_path / "spool.db", receipts=False)
    edge.start()
    try:
        yield f"http://127.0.0.1:{port}", factory, edge
    finally:
        edge.stop(timeout=3)
        uv.should_exit = True
        thread.join(10)
        ingest.stop()
        engine.dispose()


def test_live_alert_from_the_edge_then_cleared_from_the_keyboard(live, page_zh: Page, data_dir: Path) -> None:
    import numpy as np

    from edge.evidence import EvidenceWriter
    from wire.ids import new_id
    from wire.schema import EventMessage

    url, factory, edge = live
    page = page_zh
    page.goto(f"{url}/console")
    page.get_by_label("用户名").fill("reviewer")
    page.get_by_label("密码").fill(PASSWORDS["reviewer"])
    page.get_by_role("button", name="登录").click()
    expect(page.locator("h1")).to_contain_text("待审核告警")
    expect(page.locator("article.alert")).to_have_count(0)
    page.evaluate("window.__stayed = true")

    import cv2

    frame = cv2.imread(str(sorted((data_dir / "sidewalk-bags" / "valid" / "images").glob("*.jpg"))[0]))
    assert frame is not None
    event_id = new_id()
    bundle = EvidenceWriter(site_id="site-live").make(
        frame, camera_id="cam-live", event_id=event_id, unix_ts=time.time(),
        polygon=np.array([[0, 0], [300, 0], [300, 200]], np.float32),
        boxes=np.array([[60, 60, 200, 180]], np.float32), title="z-door piled_goods start", name="0-start")
    for m in bundle.messages:
        edge.publish(m)
    edge.publish(EventMessage(site_id="site-live", camera_id="cam-live", event_id=event_id, seq=0,
                              zone_id="z-door", violation="piled_goods", phase="start", ts=time.time(), score=0.93,
                              boxes=[[60.0, 60.0, 200.0, 180.0]], evidence=[m.ref() for m in bundle.messages]))

    card = page.locator("article.alert")
    expect(card).to_have_count(1, timeout=15_000)
    expect(card).to_contain_text("街角面包房")
    expect(card.locator("figcaption").first).to_have_text("开始 · 标注")
    assert page.evaluate("window.__stayed === true"), "the page reloaded"
    case_id = card.get_attribute("data-case")

    page.keyboard.press("c")  # the card is selected: confirm it from the keyboard
    expect(page.get_by_role("status").first).to_contain_text("已确认")
    expect(page.locator(f'article[data-case="{case_id}"]')).to_have_count(0)
    with factory() as s:
        assert s.get(Case, case_id).state == "notified"
    assert re.search(r"第 1 次违规", page.get_by_role("status").first.inner_text())
