"""Browser tests: Debian's Chromium driven by Playwright against a real uvicorn server on a free port,
with a real database, a real evidence store and a real photo from ../shared/data as the evidence."""

from __future__ import annotations

import importlib
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from testkit.ports import free_port

CHROMIUM = Path(os.environ.get("DOORLINE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORDS = {"admin": "admin-pass-1", "reviewer": "reviewer-pass-1", "viewer": "viewer-pass-1"}
SHOTS = Path(os.environ.get("DOORLINE_SCREENSHOTS", "var/screenshots"))

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if os.environ.get("DOORLINE_SKIP_BROWSER") == "1":
        pytest.skip("DOORLINE_SKIP_BROWSER=1")
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `bash scripts/setup.sh --test` (or "
                    "`apt-get install -y chromium`), or set DOORLINE_SKIP_BROWSER=1 to skip browser tests")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Server:
    url: str
    settings: object
    factory: object
    store: object
    case_id: str
    shop_id: str
    sha: str


def _seed(factory, settings, store, photo: bytes) -> tuple[str, str]:
    from central.domain import registry
    from central.domain.shop_schema import ShopIn
    from central.users_cli import ensure_user
    from central.workflow import handle_event
    from wire.ids import new_id
    from wire.schema import EventMessage, EvidenceRef

    sha = store.put(photo)
    with factory() as s:
        for role, pw in PASSWORDS.items():
            ensure_user(s, role, pw, role)
        registry.create_shop(s, ShopIn.model_validate({
            "id": "shop-42", "name": "Golden Fruit", "address": "42 Harbour Road", "road": "Harbour Road",
            "area": "Old Town", "business_type": "fruit", "owner": "Mrs Lin", "phone": "555-0142",
            "zones": [{"camera_id": "cam-1", "zone_id": "z-42", "polygon": [[0, 0], [100, 0], [100, 80]]}]}),
            actor="test")
        msg = EventMessage(site_id="site-1", camera_id="cam-1", event_id=new_id(), seq=0, zone_id="z-42",
                           violation="piled_goods", phase="start", ts=datetime.now(UTC).timestamp(),
                           score=0.91,
                           evidence=[EvidenceRef(evidence_id=new_id(), sha256=sha, size=len(photo))])
        case = handle_event(s, msg, settings)
        s.commit()
        return case.id, sha


@pytest.fixture
def server(tmp_path: Path, data_dir: Path) -> Iterator[Server]:
    import uvicorn

    import central.orm  # noqa: F401
    from central import evidence_store
    from central.app import create_app
    from central.db import make_engine, make_session_factory
    from central.orm.base import Base
    from central.settings import CentralSettings

    for name in ("central.orm.events", "central.outbox"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    photos = sorted((data_dir / "sidewalk-bags" / "valid" / "images").glob("*.jpg"))
    assert photos, f"no photos under {data_dir / 'sidewalk-bags'}"
    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'doorline.db'}"
    settings = CentralSettings(database_url=db_url, evidence_dir=tmp_path / "evidence", ingest_enabled=False,
                               secret_key=secrets.token_urlsafe(48), port=port)
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    store = evidence_store.LocalEvidenceStore(tmp_path / "evidence")
    case_id, sha = _seed(factory, settings, store, photos[0].read_bytes())
    app = create_app(settings, factory, store=store)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                        timeout_graceful_shutdown=2))
    thread = threading.Thread(target=uv.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", settings, factory, store, case_id, "shop-42", sha)
    finally:
        uv.should_exit = True
        thread.join(10)
        engine.dispose()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):
    """A browser page asking for English (Accept-Language); `page_zh` asks for Chinese. A failed test
    leaves a screenshot of it in var/screenshots/FAILED-<test>.png."""
    yield from _page(browser, "en-US", request)


@pytest.fixture
def page_zh(browser, request: pytest.FixtureRequest):
    yield from _page(browser, "zh-CN", request)


def _page(browser, locale: str, request: pytest.FixtureRequest):
    if "server" in request.fixturenames:
        request.getfixturevalue("server")  # up before the page, down after it: no stream cut by a shutdown
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # a wrong password answers 401 on purpose; any other failed resource or script error counts
    pg.on("console", lambda msg: errors.append(msg.text)
          if msg.type == "error" and "status of 401" not in msg.text else None)
    try:
        yield pg
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            SHOTS.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(SHOTS / f"FAILED-{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"the page logged errors: {errors}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)

