"""Each class of hostile REST input that once gave a 500 now gives a 4xx whose body is strict JSON (or an
HTML page): offsets and ids of 2^63 and more, page=10^30, year-9999 dates, NaN/Infinity and lone
surrogates in JSON bodies, and a GeoJSON import nested 100,000 deep."""

from __future__ import annotations

import json
import math
import re

import pytest
from fastapi.routing import APIRoute

from central.api.bounds import MAX_INT_ID
from central.api.validation import safe_errors
from central.orm.cases import Case

from .conftest import Env, detected_case
from .test_role_matrix import _app_for_collection, flat_routes

BIG = str(2**63)
HUGE = str(10**30)


def assert_refused(r, *, status: int | tuple[int, ...] = (400, 422)) -> None:
    allowed = (status,) if isinstance(status, int) else status
    assert r.status_code in allowed, (r.status_code, r.text[:300])
    if r.headers.get("content-type", "").startswith("application/json"):
        json.loads(r.content.decode("utf-8"), parse_constant=lambda c: pytest.fail(f"{c} in a reply"))


@pytest.mark.parametrize("url", [
    f"/api/events?offset={BIG}", f"/api/shops?offset={BIG}", f"/api/cases?offset={BIG}",
    f"/api/cases/ownerless?offset={BIG}", f"/api/cases/tasks?offset={BIG}", f"/api/zones?offset={BIG}",
    f"/api/grades/changes?offset={BIG}", f"/api/inspections?offset={BIG}", f"/api/events?offset={HUGE}",
    "/api/events?until=9999-12-31", "/api/events?since=9999-12-31", "/api/events?since=0001-01-01",
    "/api/stats/grades?start=9999-12-01&end=9999-12-31", "/api/stats/violations?end=9999-12-31",
    "/api/stats/self-rectification?start=9999-12-31&end=9999-12-31", "/api/stats/grades/chart?end=9999-12-31",
    "/api/inspections/due?day=9999-12-31", "/api/grades/changes?since=9999-12-31T23:59:59Z",
])
def test_out_of_range_query_parameters_are_422(shared_env: Env, url: str) -> None:
    assert_refused(shared_env.client.get(url, headers=shared_env.login("admin")), status=422)


@pytest.mark.parametrize("url", [
    f"/console/cases?page={HUGE}", f"/console/events?page={HUGE}", f"/console/shops?page={HUGE}",
    "/console/events?until=9999-12-31", "/console/inspections?day=9999-12-31",
])
def test_console_pages_refuse_out_of_range_parameters(shared_env: Env, url: str) -> None:
    admin = shared_env.login("admin")["Authorization"].split()[1]
    r = shared_env.client.get(url, cookies={"doorline_token": admin})
    assert_refused(r, status=400)  # the console answers bad values with a friendly page, not raw 422 JSON
    assert r.headers["content-type"].startswith("text/html")


def test_ids_of_2_63_and_more_are_422(sqlite_env: Env) -> None:
    admin = sqlite_env.login("admin")
    r = sqlite_env.client.post(f"/api/cases/tasks/{BIG}/complete", headers=admin, json={"outcome": "clear"})
    assert_refused(r, status=422)
    r = sqlite_env.client.post(f"/api/cases/tasks/{HUGE}/complete", headers=admin, json={"outcome": "clear"})
    assert_refused(r, status=422)
    token = admin["Authorization"].split()[1]
    r = sqlite_env.client.post(f"/console/tasks/{BIG}/complete", data={"outcome": "clear"},
                               cookies={"doorline_token": token})
    assert_refused(r, status=400)  # the console's friendly page for a bad value


@pytest.mark.parametrize("body", [
    '{"ticket_no": "T1", "amount": NaN}',
    '{"ticket_no": "T1", "amount": Infinity}',
    '{"ticket_no": "T1", "amount": -Infinity}',
    '{"ticket_no": "T1", "amount": 1e999}',
    '{"ticket_no": "\\ud800", "amount": 1}',
    '{"ticket_no": "T1", "\\udfff": 1}',
    '{"ticket_no": ' + "[" * 100_000 + "]" * 100_000 + "}",
])
def test_hostile_json_bodies_are_refused_without_echo(sqlite_env: Env, body: str) -> None:
    case_id, _ = detected_case(sqlite_env, "s1")
    r = sqlite_env.client.post(f"/api/cases/{case_id}/penalty", content=body.encode("utf-8", "surrogatepass"),
                               headers={**sqlite_env.login("reviewer"), "Content-Type": "application/json"})
    assert_refused(r, status=422)
    with sqlite_env.session() as s:
        assert s.get(Case, case_id).state == "detected"  # nothing recorded


def test_brackets_inside_strings_are_not_nesting(sqlite_env: Env) -> None:
    case_id, _ = detected_case(sqlite_env, "s1")
    r = sqlite_env.client.post(f"/api/cases/{case_id}/penalty", headers=sqlite_env.login("reviewer"),
                               json={"ticket_no": "T1", "note": "[" * 500 + "{" * 500})
    assert r.status_code != 422, r.text


def test_nan_in_a_shop_footprint_and_surrogates_in_a_complaint(sqlite_env: Env) -> None:
    admin = sqlite_env.login("admin")
    shop = {"id": "n1", "name": "N", "footprint": [[0, 0], [1, "x"], [1, 1]]}
    body = json.dumps(shop).replace('"x"', "NaN")
    r = sqlite_env.client.post("/api/shops", content=body,
                               headers={**admin, "Content-Type": "application/json"})
    assert_refused(r, status=422)
    detected_case(sqlite_env, "s1")
    r = sqlite_env.client.post("/api/shops/s1/complaints",
                               content=b'{"text": "bad \\udc80 text"}',
                               headers={**admin, "Content-Type": "application/json"})
    assert_refused(r, status=422)
    assert "surrogate" in r.json()["detail"][0]["msg"]
    r = sqlite_env.client.post("/api/shops/s1/complaints", json={"text": "late", "at": "9999-12-31T00:00:00Z"},
                               headers=admin)
    assert_refused(r, status=422)


def test_a_geojson_import_nested_100000_deep_is_400_with_a_clear_message(sqlite_env: Env) -> None:
    deep = '{"type": "FeatureCollection", "features": ' + "[" * 100_000 + "]" * 100_000 + "}"
    r = sqlite_env.client.post("/api/shops/import?fmt=geojson", headers=sqlite_env.login("admin"),
                               files={"file": ("deep.geojson", deep.encode(), "application/geo+json")})
    assert_refused(r, status=400)
    assert "nested 100001 levels deep" in r.json()["detail"], r.text
    # the same in a CSV cell: the one bad row is reported, the good one imported
    csv = ("id,name,footprint\nok1,Fine,\"[[0,0],[1,0],[1,1]]\"\nbad1,Deep,\"" + "[" * 50_000 + "]" * 50_000
           + '"\n')
    r = sqlite_env.client.post("/api/shops/import", headers=sqlite_env.login("admin"),
                               files={"file": ("shops.csv", csv.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["inserted"] == 1 and "nested" in report["errors"][0]["reason"]


def test_validation_errors_never_echo_unserialisable_input() -> None:
    errors = [
        {"type": "float_type", "loc": ("body", "amount"), "msg": "bad", "input": math.nan},
        {"type": "string_type", "loc": ("body", "\ud800"), "msg": "bad \udfff", "input": "x\ud800y",
         "ctx": {"error": ValueError("no"), "ge": math.inf, "le": 5}},
        {"type": "dict_type", "loc": ("body",), "msg": "bad", "input": {"deep": [[[]]]}},
        {"type": "x", "loc": ("query", "n"), "msg": "big", "input": 10**400},
    ]
    out = safe_errors(errors)
    text = json.dumps(out, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    assert "input" not in out[0] and "input" not in out[2]
    assert out[1]["input"] == "x?y" and out[1]["loc"] == ["body", "?"] and out[1]["ctx"] == {"le": 5}
    assert len(out[3]["input"]) <= 40


def test_a_malformed_zone_polygon_is_422_not_500(sqlite_env: Env) -> None:
    """Found by the schemathesis run: the polygon is validated inside the route, after the body."""
    detected_case(sqlite_env, "s1")
    r = sqlite_env.client.put("/api/zones/cam-1/z9", headers=sqlite_env.login("admin"),
                              json={"shop_id": "s1", "polygon": [[1.0], [2.0, 3.0, 4.0], [], [5e-324, 1]]})
    assert_refused(r, status=422)
    assert r.json()["detail"][0]["loc"][:2] == ["body", "polygon"]


def test_nul_characters_are_refused_or_reported_on_both_backends(env: Env) -> None:
    """PostgreSQL text cannot hold NUL: each way one can arrive is a 4xx or a reported row, never a 500."""
    admin = env.login("admin")
    detected_case(env, "s1")
    c = env.client
    assert_refused(c.post("/api/shops/s1/complaints", headers=admin, json={"text": "a\x00b"}), status=422)
    assert_refused(c.get("/api/shops?q=a%00b", headers=admin), status=422)
    assert_refused(c.get("/api/cases/a%00b", headers=admin), status=422)
    assert_refused(c.post("/api/auth/token", data={"username": "a\x00b", "password": "x"}), status=422)
    r = c.post("/api/shops/import", headers=admin,
               files={"file": ("s.csv", b"id,name\nnul1,a\x00b\nfine1,Fine\n", "text/csv")})
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 1 and r.json()["errors"][0]["reason"] == "a field holds a NUL character"


# every route with an integer id in its path (`test_the_integer_id_routes_are_the_apps` keeps this list whole);
# each gave 500 for an id past the database's integer before it was bounded (found by the long schemathesis run:
# SQLite's OverflowError, PostgreSQL's NumericValueOutOfRange). Other path parameters take PATH_FILL's values.
INT_ID_ROUTES = {
    ("POST", "/api/cases/tasks/{task_id}/complete"): {"json": {"outcome": "clear"}},
    ("POST", "/api/citizen-reports/{report_id}/confirm"): {"json": {}},
    ("POST", "/api/citizen-reports/{report_id}/reject"): {"json": {"reason": ""}},
    ("POST", "/api/notices/deliveries/{delivery_id}/resend"): {},
    ("DELETE", "/api/shops/{shop_id}/channels/{channel_id}"): {},
    ("DELETE", "/api/officer-contacts/{contact_id}"): {},
    ("POST", "/api/appeals/{appeal_id}/decide"): {"json": {"outcome": "rejected", "note": "x"}},
    ("POST", "/console/tasks/{task_id}/complete"): {"data": {"outcome": "clear"}},
    ("POST", "/console/notices/{delivery_id}/resend"): {},
    ("POST", "/console/notices/appeals/{appeal_id}"): {"data": {"outcome": "rejected"}},
    ("POST", "/console/reports/{report_id}"): {"data": {"outcome": "reject"}},
    ("GET", "/officer/tasks/{task_id}"): {},
    ("POST", "/officer/tasks/{task_id}"): {"data": {"outcome": "clear"}},
}
PATH_FILL = {"shop_id": "s1"}


def _app_int_ids() -> dict[tuple[str, str], list]:
    """(method, path) of every route of the app with an integer path parameter: its integer parameters."""
    out: dict[tuple[str, str], list] = {}
    for route in flat_routes(_app_for_collection().routes):
        if isinstance(route, APIRoute):
            ints = [f for f in route.dependant.path_params if f.field_info.annotation is int]
            for method in sorted(route.methods - {"HEAD"}) if ints else ():
                out[(method, route.path)] = ints
    return out


def test_the_integer_id_routes_are_the_apps_and_every_one_is_bounded() -> None:
    """A new route with an integer id fails here until it is bounded (`IntId`) and listed above."""
    routes = _app_int_ids()
    assert sorted(routes) == sorted(INT_ID_ROUTES), "list the new route in INT_ID_ROUTES"
    for key, fields in routes.items():
        for f in fields:
            bounds = {type(m).__name__: m for m in f.field_info.metadata}
            assert bounds.get("Ge") and bounds["Ge"].ge >= 1, (key, f.name)
            assert bounds.get("Le") and bounds["Le"].le <= MAX_INT_ID, (key, f.name)


@pytest.mark.parametrize("big", [str(2**31), BIG, HUGE])
def test_every_integer_id_past_the_databases_integer_is_refused(env: Env, big: str) -> None:
    admin = env.login("admin")
    token = admin["Authorization"].split()[1]
    for (method, path), kw in INT_ID_ROUTES.items():
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_FILL.get(m[1], big), path)
        extra = {"headers": admin} if url.startswith("/api/") else {"cookies": {"doorline_token": token}}
        r = env.client.request(method, url, **kw, **extra)
        assert r.status_code != 500, (method, url, r.text[:300])
        assert_refused(r, status=(400, 401, 403, 422))
        if url.startswith("/api/"):
            assert r.status_code == 422, (method, url, r.status_code, r.text[:300])


def test_found_by_the_long_fuzzing_run(env: Env) -> None:
    """Each gave 500 in the long schemathesis run (`-m reliability`) before its fix."""
    admin = env.login("admin")
    c = env.client
    detected_case(env, "s1")
    # a task id past PostgreSQL's 32-bit integer
    r = c.post(f"/api/cases/tasks/{2**60 + 1}/complete", headers=admin, json={"outcome": "clear"})
    assert_refused(r, status=422)
    # an explicit null for a text field clears it; for the name it is refused
    r = c.patch("/api/shops/s1", headers=admin, json={"area": None, "phone": None})
    assert r.status_code == 200, r.text
    assert r.json()["area"] == "" and r.json()["phone"] == ""
    assert_refused(c.patch("/api/shops/s1", headers=admin, json={"name": None}), status=422)
    # two credentials claiming one camera: the broker files cannot be written, and the reply says why
    for edge_id in ("edge-a", "edge-b"):
        r = c.post("/api/edges/credentials", headers=admin,
                   json={"edge_id": edge_id, "site_id": "site-1", "camera_ids": ["cam-9"]})
        assert r.status_code == 201, r.text
    r = c.get("/api/edges/credentials/mosquitto", headers=admin)
    assert r.status_code == 409 and "claimed by both edge-a and edge-b" in r.json()["detail"]
