"""The role × endpoint matrix, generated: every route of the real app (API, console, owner pages, docs,
static mounts) for every role (anonymous, an edge token, viewer, reviewer, admin), against the expected
access written below. A route added without an entry in `EXPECTED` fails `test_every_route_has_an_entry`.

A cell is *refused* when the reply is 401, 403, or the console's redirect to its login page; anything else
(200, 404 for a placeholder id, 422 for a placeholder body...) means the role got past the access check.
Placeholder path values and form fields are valid enough that no route refuses for another reason."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from starlette.routing import BaseRoute, Mount

from central.app import create_app
from central.settings import CentralSettings

from .conftest import PASSWORDS, Env, open_env

ROLES = ("anonymous", "edge", "viewer", "officer", "reviewer", "admin")
OPERATORS = ("viewer", "officer", "reviewer", "admin")

# who gets past the access check: "public" (everyone), "edge" (edge tokens only), or the lowest operator role
# (viewer < officer < reviewer < admin)
EXPECTED: dict[str, str] = {
    "GET /": "public",
    "GET /openapi.json": "public",
    "GET /docs": "public",
    "GET /docs/oauth2-redirect": "public",
    "GET /redoc": "public",
    "MOUNT /static": "public",
    "MOUNT /static-docs": "public",
    "GET /healthz": "public",
    "GET /metrics": "viewer",  # or the scrape token (test_hardening)
    # auth
    "POST /api/auth/token": "public",
    "POST /api/auth/edge-token": "public",
    "GET /api/auth/me": "viewer",
    "POST /api/auth/logout": "viewer",
    "POST /api/auth/password": "viewer",
    # cases, ownerless, tasks, audit
    "GET /api/cases": "viewer",
    "GET /api/cases/ownerless": "viewer",
    "POST /api/cases/ownerless/{event_id}/assign": "reviewer",
    "POST /api/cases/ownerless/{event_id}/dismiss": "reviewer",
    "GET /api/cases/tasks": "viewer",
    "POST /api/cases/tasks/{task_id}/complete": "officer",  # an officer reports back, as on /officer
    "GET /api/cases/audit/verify": "admin",
    "GET /api/cases/{case_id}": "viewer",
    "GET /api/cases/{case_id}/audit": "viewer",
    "POST /api/cases/{case_id}/confirm": "reviewer",
    "POST /api/cases/{case_id}/dismiss": "reviewer",
    "POST /api/cases/{case_id}/penalty": "reviewer",
    "POST /api/cases/{case_id}/close": "reviewer",
    # edges
    "GET /api/edges": "viewer",
    "GET /api/edges/self": "edge",
    "GET /api/edges/credentials": "admin",
    "POST /api/edges/credentials": "admin",
    "GET /api/edges/credentials/mosquitto": "admin",
    "PATCH /api/edges/credentials/{edge_id}": "admin",
    "POST /api/edges/credentials/{edge_id}/rotate": "admin",
    "DELETE /api/edges/credentials/{edge_id}": "admin",
    # events, evidence
    "GET /api/events": "viewer",
    "GET /api/events/phases/count": "viewer",
    "GET /api/events/{event_id}": "viewer",
    "GET /api/evidence/{sha256}": "viewer",
    # grades, hot spots, inspections
    "GET /api/grades": "viewer",
    "GET /api/grades/changes": "viewer",
    "POST /api/grades/recompute": "admin",
    "GET /api/hotspots": "viewer",
    "GET /api/hotspots/roads": "viewer",
    "POST /api/hotspots/refresh": "admin",
    "GET /api/inspections/due": "viewer",
    "POST /api/inspections": "officer",
    "GET /api/inspections": "viewer",
    # shops
    "GET /api/shops": "viewer",
    "POST /api/shops": "admin",
    "POST /api/shops/import": "admin",
    "GET /api/shops/export": "viewer",
    "GET /api/shops/{shop_id}": "viewer",
    "PATCH /api/shops/{shop_id}": "admin",
    "GET /api/shops/{shop_id}/grades": "viewer",
    "POST /api/shops/{shop_id}/complaints": "reviewer",
    # statistics
    "GET /api/stats/grades": "viewer",
    "GET /api/stats/grades/chart": "viewer",
    "GET /api/stats/violations": "viewer",
    "GET /api/stats/self-rectification": "viewer",
    # users
    "GET /api/users": "admin",
    "POST /api/users": "admin",
    "GET /api/users/{username}": "admin",
    "PATCH /api/users/{username}": "admin",
    "DELETE /api/users/{username}": "admin",
    # zones
    "GET /api/zones": "viewer",
    "GET /api/zones/cameras": "viewer",
    "PUT /api/zones/cameras/{camera_id}": "admin",
    "GET /api/zones/{camera_id}/{zone_id}": "viewer",
    "PUT /api/zones/{camera_id}/{zone_id}": "admin",
    "DELETE /api/zones/{camera_id}/{zone_id}": "admin",
    # operator console
    "GET /console/login": "public",
    "POST /console/login": "public",
    "POST /console/logout": "public",
    "GET /console": "viewer",
    "GET /console/cases": "viewer",
    "GET /console/cases/{case_id}": "viewer",
    "POST /console/cases/{case_id}/confirm": "reviewer",
    "POST /console/cases/{case_id}/dismiss": "reviewer",
    "POST /console/cases/{case_id}/penalty": "reviewer",
    "POST /console/cases/{case_id}/close": "reviewer",
    "POST /console/tasks/{task_id}/complete": "reviewer",
    "GET /console/events": "viewer",
    "GET /console/ownerless": "viewer",
    "POST /console/ownerless/{event_id}/assign": "reviewer",
    "POST /console/ownerless/{event_id}/dismiss": "reviewer",
    "GET /console/shops": "viewer",
    "GET /console/grades": "viewer",
    "GET /console/inspections": "viewer",
    "GET /console/edges": "viewer",  # credentials on it for admins only (test_hardening)
    # shop-owner pages: protected by the signed link itself, not by a login
    "GET /shop/{key}": "public",
    "GET /shop/{key}/evidence/{sha256}": "public",
    "GET /owner/login": "public",
    "POST /owner/login": "public",
    "POST /owner/login/verify": "public",
    "GET /owner/sw.js": "public",
    "GET /owner/{token}": "public",
    "GET /owner/{token}/evidence/{sha256}": "public",
    "GET /owner/{token}/manifest.webmanifest": "public",
    "GET /owner/{token}/status": "public",
    "POST /owner/{token}/cases/{case_id}/appeal": "public",
    "POST /owner/{token}/cases/{case_id}/fixed": "public",
    "POST /owner/{token}/push-subscription": "public",
    # the public grade board and citizen reports: for everyone by design (nothing private on them)
    "GET /board/{shop_id}": "public",
    "GET /board/{shop_id}.png": "public",
    "GET /board/{shop_id}.pdf": "public",
    "GET /report": "public",
    "POST /report": "public",
    "GET /lang/{language}": "public",
    # officers' phone pages
    "GET /officer": "officer",
    "GET /officer/shops/{shop_id}": "officer",
    "GET /officer/shops/{shop_id}/inspect": "officer",
    "POST /officer/shops/{shop_id}/inspect": "officer",
    "GET /officer/tasks/{task_id}": "officer",
    "POST /officer/tasks/{task_id}": "officer",
    # notices, owner links, channels, officer contacts, appeals, citizen reports
    "GET /api/notices/deliveries": "reviewer",
    "POST /api/notices/deliveries/{delivery_id}/resend": "reviewer",
    "GET /api/shops/{shop_id}/channels": "reviewer",
    "POST /api/shops/{shop_id}/channels": "admin",
    "DELETE /api/shops/{shop_id}/channels/{channel_id}": "admin",
    "GET /api/shops/{shop_id}/owner-link": "reviewer",
    "POST /api/shops/{shop_id}/owner-link": "admin",
    "DELETE /api/shops/{shop_id}/owner-link": "admin",
    "GET /api/officer-contacts": "reviewer",
    "POST /api/officer-contacts": "admin",
    "DELETE /api/officer-contacts/{contact_id}": "admin",
    "GET /api/appeals": "reviewer",
    "POST /api/appeals/{appeal_id}/decide": "reviewer",
    "GET /api/citizen-reports": "reviewer",
    "GET /api/citizen-reports/tally.csv": "reviewer",
    "POST /api/citizen-reports/{report_id}/confirm": "reviewer",
    "POST /api/citizen-reports/{report_id}/reject": "reviewer",
    "POST /api/evidence": "officer",
    "GET /api/inspections/checklist": "viewer",
    # console pages added with the map, live queue, shop files, notices and reports
    "GET /console/map": "viewer",
    "GET /console/map/data.json": "viewer",
    "GET /console/queue/stream": "viewer",
    "GET /console/shops/{shop_id}": "viewer",
    "POST /console/cases/{case_id}/undo-dismiss": "reviewer",
    "GET /console/notices": "reviewer",
    "POST /console/notices/{delivery_id}/resend": "reviewer",
    "POST /console/notices/appeals/{appeal_id}": "reviewer",
    "GET /console/reports": "reviewer",
    # zone editor, detector precision, model rollout
    "GET /console/zones": "viewer",
    # statistics pages (central.web.stats)
    "GET /console/stats": "viewer",
    "GET /console/hotspots": "viewer",
    "POST /console/zones/{camera_id}": "reviewer",
    "GET /api/stats/precision": "viewer",
    "POST /api/cameras/{site_id}/{camera_id}/model": "admin",
    "POST /console/reports/{report_id}": "reviewer",
}

MOUNT_PROBES = {"/static": "/static/console.css", "/static-docs": "/static-docs/swagger-ui.css"}
EDGE_ID = "edge-matrix"


def flat_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, with included routers expanded (FastAPI ≥ 0.16x keeps them as included-router entries)."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            yield route
        else:
            for ctx in contexts():
                yield ctx.starlette_route or ctx.original_route


def route_keys(app) -> list[str]:
    keys: list[str] = []
    for route in flat_routes(app.routes):
        if isinstance(route, Mount):
            keys.append(f"MOUNT {route.path}")
        else:
            keys += [f"{m} {route.path}" for m in sorted(getattr(route, "methods", None) or ()) if m != "HEAD"]
    return keys


def _app_for_collection():
    return create_app(CentralSettings(secret_key=secrets.token_urlsafe(48), database_url="sqlite://",
                                      ingest_enabled=False), store=object())


ROUTES = route_keys(_app_for_collection())


def allowed_roles(level: str) -> set[str]:
    if level == "public":
        return set(ROLES)
    if level == "edge":
        return {"edge"}
    return set(OPERATORS[OPERATORS.index(level):])


def test_every_route_has_an_entry() -> None:
    missing = sorted(set(ROUTES) - set(EXPECTED))
    stale = sorted(set(EXPECTED) - set(ROUTES))
    assert not missing, f"routes without an expected-access entry in test_role_matrix.EXPECTED: {missing}"
    assert not stale, f"entries for routes that no longer exist: {stale}"
    assert len(ROUTES) == len(set(ROUTES))


@pytest.fixture(scope="module")
def matrix_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str]]:
    tmp: Path = tmp_path_factory.mktemp("matrix")
    for env in open_env(tmp, f"sqlite:///{tmp / 'doorline.db'}"):
        r = env.client.post("/api/edges/credentials", headers=env.login("admin"),
                            json={"edge_id": EDGE_ID, "site_id": "site-m", "camera_ids": ["cam-m"]})
        assert r.status_code == 201, r.text
        yield env, r.json()["secret"]


def _token(env: Env, role: str) -> str | None:
    """A fresh token per request: some cells (logout) revoke the tokens issued before them."""
    if role == "anonymous":
        return None
    if role == "edge":
        from central.auth import create_edge_token
        from central.orm.users import EdgeCredential

        with env.session() as s:
            return create_edge_token(env.settings, s.get(EdgeCredential, EDGE_ID))[0]
    return env.login(role)["Authorization"].split()[1]


def _placeholder_path(path: str) -> str:
    out = path
    for name, value in (("{task_id}", "1"), ("{delivery_id}", "1"), ("{appeal_id}", "1"), ("{report_id}", "1"),
                        ("{contact_id}", "1"), ("{channel_id}", "1"), ("{sha256}", "a" * 64)):
        out = out.replace(name, value)
    while "{" in out:
        start = out.index("{")
        out = out[:start] + "x1" + out[out.index("}", start) + 1:]
    return out


def request_as(env: Env, edge_secret: str, key: str, role: str):
    method, path = key.split(" ", 1)
    token = _token(env, role)
    client = env.client
    client.cookies.clear()
    if method == "MOUNT":
        return client.get(MOUNT_PROBES[path], headers={"Authorization": f"Bearer {token}"} if token else {})
    url = _placeholder_path(path)
    headers: dict[str, str] = {}
    if token and path.startswith(("/console", "/shop", "/officer")):
        client.cookies.set("doorline_token", token)  # how a browser sends it
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    kwargs: dict = {"headers": headers, "follow_redirects": False}
    if method in ("POST", "PUT", "PATCH"):
        if path.startswith("/console/zones/"):  # the zone editor posts JSON
            kwargs["json"] = {"document": {}}
        elif path.startswith(("/console", "/officer")) or path.startswith("/api/auth/token") \
                or path.endswith("edge-token"):
            # every form field any of these routes requires, with values that pass
            kwargs["data"] = {"username": "viewer", "password": PASSWORDS["viewer"], "edge_id": EDGE_ID,
                              "secret": edge_secret, "reason": "r", "shop_id": "x1",
                              "outcome": "upheld" if "/appeals/" in path else "confirm" if "/reports/" in path
                              else "clear",
                              "ticket_no": "t1", "note": "n", "back": "/console"}
        else:
            kwargs["json"] = {}
    if path.endswith("/stream"):  # an event stream runs for STREAM_LIFE_S (50 s): access is decided before it
        from central.web import console

        old, console.STREAM_LIFE_S = console.STREAM_LIFE_S, 0.0
        try:
            return client.request(method, url, **kwargs)
        finally:
            console.STREAM_LIFE_S = old
    return client.request(method, url, **kwargs)


def refused(r) -> bool:
    if r.status_code in (401, 403):
        return True
    return r.status_code in (302, 303, 307) and r.headers.get("location", "").startswith("/console/login?next=")


@pytest.mark.parametrize("key", ROUTES)
def test_route_gives_each_role_exactly_the_expected_access(matrix_env: tuple[Env, str], key: str) -> None:
    env, edge_secret = matrix_env
    level = EXPECTED.get(key)
    if level is None:
        pytest.fail(f"{key} has no entry in EXPECTED")
    expected = allowed_roles(level)
    wrong = []
    for role in ROLES:
        r = request_as(env, edge_secret, key, role)
        assert r.status_code < 500, (key, role, r.status_code, r.text[:200])
        if refused(r) == (role in expected):
            wrong.append(f"{role}: {r.status_code} {r.headers.get('location', '')}".strip())
    assert not wrong, f"{key} (expected {level}): wrong cells {wrong}"


def test_the_matrix_can_fail(matrix_env: tuple[Env, str]) -> None:
    """A wrong expectation is caught: the viewer reaching an admin route would be reported."""
    env, edge_secret = matrix_env
    r = request_as(env, edge_secret, "GET /api/users", "viewer")
    assert refused(r)
    assert not refused(request_as(env, edge_secret, "GET /api/users", "admin"))
