"""The operator console and the shop-owner page, through HTTP (no browser): login cookie, review queue,
confirm / dismiss through the domain, roles, ownerless assignment, pages render with real data."""

from __future__ import annotations

import re

import pytest

from central.auth import shop_link_token
from central.orm.cases import Case, OwnerlessEvent
from central.workflow import handle_event

from .conftest import PASSWORDS, Env, add_shop, detected_case, event_message, tiny_jpeg


@pytest.fixture(autouse=True)
def _english(request: pytest.FixtureRequest) -> None:
    """These tests read the English texts; the Chinese pages have their own tests (test_console_i18n.py)."""
    for name in ("env", "sqlite_env", "shared_env"):
        if name in request.fixturenames:
            request.getfixturevalue(name).client.headers["Accept-Language"] = "en"


def console_login(env: Env, role: str, next_url: str = "/console"):
    return env.client.post("/console/login", data={"username": role, "password": PASSWORDS[role],
                                                   "next": next_url}, follow_redirects=False)


def test_console_needs_login(sqlite_env: Env) -> None:
    r = sqlite_env.client.get("/console/shops", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/shops"
    page = sqlite_env.client.get("/console/login")
    assert page.status_code == 200 and 'name="password"' in page.text


def test_login_sets_httponly_lax_cookie(sqlite_env: Env) -> None:
    r = console_login(sqlite_env, "viewer", "/console/shops")
    assert r.status_code == 303 and r.headers["location"] == "/console/shops"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("doorline_token=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Max-Age=600" in cookie


@pytest.mark.parametrize("next_url", ["//evil.example/x", "https://evil.example/", "\\\\evil"])
def test_login_never_redirects_off_site(sqlite_env: Env, next_url: str) -> None:
    assert console_login(sqlite_env, "viewer", next_url).headers["location"] == "/console"


def test_wrong_password_on_form(sqlite_env: Env) -> None:
    r = sqlite_env.client.post("/console/login", data={"username": "viewer", "password": "nope"})
    assert r.status_code == 401 and "Wrong username or password" in r.text
    assert "doorline_token" not in r.headers.get("set-cookie", "")


def test_review_queue_confirm_flow(env: Env) -> None:
    case_id, sha = detected_case(env, "s1")
    console_login(env, "reviewer")
    page = env.client.get("/console")
    assert page.status_code == 200
    assert f'data-case="{case_id}"' in page.text and f'src="/api/evidence/{sha}"' in page.text
    img = env.client.get(f"/api/evidence/{sha}")  # the console cookie authorises evidence too
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert img.content == tiny_jpeg(0)

    r = env.client.post(f"/console/cases/{case_id}/confirm", data={"back": "/console"},
                        follow_redirects=False)
    assert r.status_code == 303 and "confirmed" in r.headers["location"]
    with env.session() as s:
        case = s.get(Case, case_id)
        assert case.state == "notified" and case.confirmed_by == "reviewer" and case.strike == 1
    after = env.client.get(r.headers["location"])
    assert f'data-case="{case_id}"' not in after.text and "confirmed: strike 1" in after.text
    detail = env.client.get(f"/console/cases/{case_id}")
    assert detail.status_code == 200 and "case.confirm" in detail.text and "notified" in detail.text
    # confirming twice is refused by the domain, shown as a message, nothing changes
    again = env.client.post(f"/console/cases/{case_id}/confirm", data={"back": "/console"})
    assert "Not confirmed" in again.text


def test_viewer_cannot_confirm_or_dismiss(sqlite_env: Env) -> None:
    env = sqlite_env
    case_id, _ = detected_case(env, "s1")
    console_login(env, "viewer")
    page = env.client.get("/console")
    assert f'data-case="{case_id}"' in page.text and f"/console/cases/{case_id}/confirm" not in page.text
    for action in ("confirm", "dismiss"):
        r = env.client.post(f"/console/cases/{case_id}/{action}", data={"back": "/console"})
        assert r.status_code == 403 and "This needs the role reviewer; you are viewer." in r.text
    with env.session() as s:
        assert s.get(Case, case_id).state == "detected"


def test_cross_site_post_refused(sqlite_env: Env) -> None:
    env = sqlite_env
    case_id, _ = detected_case(env, "s1")
    console_login(env, "reviewer")
    r = env.client.post(f"/console/cases/{case_id}/confirm", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    with env.session() as s:
        assert s.get(Case, case_id).state == "detected"


def test_dismiss(sqlite_env: Env) -> None:
    env = sqlite_env
    case_id, _ = detected_case(env, "s1")
    console_login(env, "reviewer")
    r = env.client.post(f"/console/cases/{case_id}/dismiss", data={"reason": "shadow", "back": "/console"})
    assert r.status_code == 200 and "dismissed" in r.text
    with env.session() as s:
        case = s.get(Case, case_id)
        assert case.state == "dismissed" and case.closed_reason == "shadow"


def test_ownerless_assign_from_console(env: Env) -> None:
    sha = env.store.put(tiny_jpeg(3))
    with env.session() as s:
        add_shop(s, "s2")
        msg = event_message(zone="z-unknown", sha=sha)
        assert handle_event(s, msg, env.settings) is None
        s.commit()
    console_login(env, "reviewer")
    page = env.client.get("/console/ownerless")
    assert msg.event_id in page.text and f"/api/evidence/{sha}" in page.text
    bad = env.client.post(f"/console/ownerless/{msg.event_id}/assign", data={"shop_id": "nope"})
    assert "Not assigned: no shop with id" in bad.text
    r = env.client.post(f"/console/ownerless/{msg.event_id}/assign", data={"shop_id": "s2"})
    assert r.status_code == 200 and "assigned to shop s2" in r.text
    with env.session() as s:
        item = s.get(OwnerlessEvent, msg.event_id)
        assert item.status == "assigned" and item.shop_id == "s2"
        assert s.get(Case, item.case_id).state == "detected"


def test_old_public_shop_link_leads_to_the_public_board_and_operators_keep_the_shop_view(env: Env) -> None:
    case_id, sha = detected_case(env, "s1")
    _, other_sha = detected_case(env, "s9", seed=5)
    console_login(env, "reviewer")
    env.client.post(f"/console/cases/{case_id}/confirm")
    token = shop_link_token(env.settings, "s1")
    env.client.cookies.clear()  # not logged in: the old link shows nothing private any more
    old = env.client.get(f"/shop/{token}", follow_redirects=False)
    assert old.status_code == 303 and old.headers["location"] == "/board/s1"
    assert env.client.get(f"/shop/{token}/evidence/{sha}").status_code == 404
    forged = "0" * len(token.split("-")[0]) + "-s1"
    assert env.client.get(f"/shop/{forged}").status_code == 404
    assert env.client.get("/shop/s1").status_code == 404  # a bare id needs an operator login
    console_login(env, "viewer")
    page = env.client.get("/shop/s1")
    assert page.status_code == 200 and f"/shop/s1/evidence/{sha}" in page.text and "/board/s1" in page.text
    photo = env.client.get(f"/shop/s1/evidence/{sha}")
    assert photo.status_code == 200 and photo.content == tiny_jpeg(0)
    assert env.client.get(f"/shop/s1/evidence/{other_sha}").status_code == 404
    assert env.client.get("/shop/s1/evidence/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_pages_render(sqlite_env: Env) -> None:
    env = sqlite_env
    detected_case(env, "s1")
    console_login(env, "viewer")
    for path in ("/console/cases", "/console/cases?state=detected", "/console/shops", "/console/shops?q=s1",
                 "/console/grades", "/console/inspections", "/console/inspections?order=priority",
                 "/console/edges", "/console/ownerless"):
        r = env.client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert "<main" in r.text and "cdn" not in r.text.lower()
    shops = env.client.get("/console/shops").text
    assert re.search(r'class="face face-(red|yellow|green|none)"', shops)
    grades = env.client.get("/console/grades").text
    assert "<svg" in grades
    assert env.client.get("/console/cases/nope").status_code == 404


def test_healthz_metrics_and_openapi(sqlite_env: Env) -> None:
    assert sqlite_env.client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    metrics = sqlite_env.client.get("/metrics", headers=sqlite_env.login("viewer"))
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE doorline_" in metrics.text
    paths = sqlite_env.client.get("/openapi.json").json()["paths"]
    for p in ("/api/auth/token", "/api/users", "/api/evidence/{sha256}", "/api/edges/credentials",
              "/api/events", "/api/events/{event_id}", "/api/cases", "/api/shops"):
        assert p in paths


def test_rest_confirm_needs_reviewer(env: Env) -> None:
    case_id, _ = detected_case(env, "s1")
    r = env.client.post(f"/api/cases/{case_id}/confirm", headers=env.login("viewer"), json={})
    assert r.status_code == 403
    with env.session() as s:
        assert s.get(Case, case_id).state == "detected"
    r = env.client.post(f"/api/cases/{case_id}/confirm", headers=env.login("reviewer"), json={})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "notified"


def test_cookie_authenticated_api_write_from_another_site_is_refused(sqlite_env: Env) -> None:
    env = sqlite_env
    case_id, _ = detected_case(env, "s1")
    console_login(env, "reviewer")
    evil = env.client.post(f"/api/cases/{case_id}/confirm", json={}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    with env.session() as s:
        assert s.get(Case, case_id).state == "detected"
    same = env.client.post(f"/api/cases/{case_id}/confirm", json={}, headers={"Origin": "http://testserver"})
    assert same.status_code == 200


PHOTO = {"photo": ("door.jpg", tiny_jpeg(), "image/jpeg")}


def test_strike_three_needs_a_penalty_before_closing(sqlite_env: Env) -> None:
    env = sqlite_env
    console_login(env, "reviewer")
    for strike in (1, 2, 3):
        case_id, _ = detected_case(env, "s1", seed=strike)
        r = env.client.post(f"/console/cases/{case_id}/confirm", data={"back": f"/console/cases/{case_id}"})
        if strike == 3:  # a penalty is never one click away: a confirmation step first
            assert "This confirmation issues a penalty" in r.text and "strike 3" in r.text
            with env.session() as s:
                assert s.get(Case, case_id).state == "detected"
            r = env.client.post(f"/console/cases/{case_id}/confirm",
                                data={"back": f"/console/cases/{case_id}", "penalty_ok": "1"})
        assert f"strike {strike}" in r.text
        closed = env.client.post(f"/console/cases/{case_id}/close", data={"reason": "settled"}, files=PHOTO)
        if strike < 3:
            assert f"Case {case_id} closed." in closed.text
    assert "Not closed" in closed.text and "record a penalty" in closed.text
    assert "cannot be closed without a penalty" in closed.text
    with env.session() as s:
        assert s.get(Case, case_id).is_open
    r = env.client.post(f"/console/cases/{case_id}/penalty", data={"ticket_no": "P-77", "amount": "200"})
    assert "Penalty P-77 recorded." in r.text
    r = env.client.post(f"/console/cases/{case_id}/close", data={"reason": "penalised and cleared"})
    assert "Not closed" in r.text and "evidence" in r.text  # a case closes only with evidence
    r = env.client.post(f"/console/cases/{case_id}/close", data={"reason": "penalised and cleared"}, files=PHOTO)
    assert f"Case {case_id} closed." in r.text
    with env.session() as s:
        case = s.get(Case, case_id)
        assert not case.is_open and [p.ticket_no for p in case.penalties] == ["P-77"]


def test_officer_task_reported_from_the_case_page(sqlite_env: Env) -> None:
    from datetime import UTC, datetime, timedelta

    from central.domain import cases, rectification

    env = sqlite_env
    case_id, _ = detected_case(env, "s1")
    later = datetime.now(UTC) + timedelta(hours=2)
    with env.session() as s:
        cases.confirm(s, case_id, actor="reviewer", settings=env.settings)
        case = s.get(Case, case_id)
        rectification.start_recheck(s, case, settings=env.settings, now=later)
        rectification.recheck_timed_out(s, case, now=later + timedelta(hours=1))
        s.commit()
        (task,) = [t for t in case.tasks if t.status == "open"]
        task_id = task.id
    console_login(env, "reviewer")
    page = env.client.get(f"/console/cases/{case_id}")
    assert f'action="/console/tasks/{task_id}/complete"' in page.text and "officer recheck" in page.text
    bad = env.client.post(f"/console/tasks/{task_id}/complete", data={"outcome": "maybe",
                                                                      "back": f"/console/cases/{case_id}"})
    assert "Task not completed" in bad.text
    r = env.client.post(f"/console/tasks/{task_id}/complete",
                        data={"outcome": "present", "note": "still", "back": f"/console/cases/{case_id}"},
                        files=PHOTO)
    assert f"Officer task {task_id} done: still there." in r.text
    with env.session() as s:
        assert s.get(Case, case_id).state == "escalated"


def test_ownerless_dismiss(sqlite_env: Env) -> None:
    env = sqlite_env
    sha = env.store.put(tiny_jpeg(7))
    with env.session() as s:
        msg = event_message(zone="z-nobody", sha=sha)
        handle_event(s, msg, env.settings)
        s.commit()
    console_login(env, "viewer")
    assert env.client.post(f"/console/ownerless/{msg.event_id}/dismiss").status_code == 403
    console_login(env, "reviewer")
    r = env.client.post(f"/console/ownerless/{msg.event_id}/dismiss", data={"reason": "a parked car"})
    assert f"Event {msg.event_id} dismissed." in r.text and msg.event_id not in r.text.split("</p>", 1)[1]
    with env.session() as s:
        assert s.get(OwnerlessEvent, msg.event_id).status == "dismissed"
