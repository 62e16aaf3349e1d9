"""The domain routes through the real app: shops (CRUD, import with row errors, export), zones and cameras,
cases and their decisions, ownerless assignment, grades, inspections, hot spots, statistics; roles."""

from __future__ import annotations

from datetime import UTC, datetime

from central import workflow
from testkit.photos import tiny_jpeg
from wire.ids import new_id
from wire.schema import EventMessage, EvidenceRef

SHOP = {
    "id": "s1",
    "name": "Fresh Fruit",
    "address": "1 Main Road",
    "road": "Main Road",
    "area": "North",
    "business_type": "fruit",
    "owner": "Wang",
    "phone": "555",
    "footprint": [[121.47, 31.23], [121.4701, 31.23], [121.4701, 31.2301], [121.47, 31.2301]],
    "zones": [{"camera_id": "cam-1", "zone_id": "z1", "polygon": [[0, 0], [10, 0], [10, 10]]}],
}


def _event(zone: str, camera: str = "cam-1", score: float = 0.8) -> EventMessage:
    return EventMessage(
        site_id="site-1",
        camera_id=camera,
        event_id=new_id(),
        seq=0,
        zone_id=zone,
        violation="piled_goods",
        phase="start",
        ts=datetime.now(UTC).timestamp(),
        score=score,
        evidence=[EvidenceRef(evidence_id=new_id(), sha256="cd" * 32, size=100)],
    )


JPEG = tiny_jpeg()


def _photo(api, data: bytes = JPEG) -> str:
    """Upload an officer's photo; its sha256."""
    r = api.post("/api/evidence", role="reviewer", files={"file": ("door.jpg", data, "image/jpeg")})
    assert r.status_code == 201, r.text
    return r.json()["sha256"]


def test_shop_registry_routes(api) -> None:
    r = api.post("/api/shops", json=SHOP)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["grade"] == "green" and body["zones"][0]["zone_id"] == "z1" and body["lat"] is not None
    assert api.post("/api/shops", json=SHOP).status_code == 409
    assert api.post("/api/shops", json=SHOP | {"id": "s1b"}).status_code == 409  # zone z1 is taken
    assert api.post("/api/shops", json=SHOP | {"id": "s2"}, role="viewer").status_code == 403
    assert api.post("/api/shops", json={"id": "bad id!", "name": "x"}).status_code == 422

    assert api.get("/api/shops/s1").json()["name"] == "Fresh Fruit"
    assert api.get("/api/shops/nope").status_code == 404
    r = api.patch("/api/shops/s1", json={"name": "Fresh Fruit & Veg"})
    assert r.status_code == 200 and r.json()["name"] == "Fresh Fruit & Veg"
    page = api.get("/api/shops", params={"q": "Veg"}).json()
    assert page["total"] == 1 and page["items"][0]["id"] == "s1"

    csv_text = "id,name,road,zones\ns2,Two,Main Road,cam-1:z2\ns3,,Main Road,\ns4,Four,Side Road,cam-1:z1\n"
    r = api.post("/api/shops/import", files={"file": ("shops.csv", csv_text, "text/csv")})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["inserted"] == 1 and [e["line"] for e in rep["errors"]] == [3, 4]
    assert api.get("/api/shops/s2").json()["grade"] == "green"  # graded right after the import
    assert api.post("/api/shops/import", files={"file": ("x.csv", "nope\n1\n", "text/csv")}).status_code == 400

    exported = api.get("/api/shops/export", params={"fmt": "csv"})
    assert exported.status_code == 200 and exported.text.count("\n") == 3  # header + s1 + s2
    assert api.get("/api/shops/export", params={"fmt": "geojson"}).json()["type"] == "FeatureCollection"

    # zones and cameras
    assert api.get("/api/zones", params={"camera_id": "cam-1"}).json()[0]["shop_id"] == "s1"
    assert api.put("/api/zones/cam-2/zx", json={"shop_id": "s2"}).status_code == 200
    assert api.put("/api/zones/cam-2/zx", json={"shop_id": "s1"}).status_code == 409
    assert api.get("/api/zones/cam-2/zx").json()["shop_id"] == "s2"
    assert api.client.delete("/api/zones/cam-2/zx", headers=api.headers["admin"]).status_code == 204
    assert api.put("/api/zones/cameras/cam-1", json={"trusted": True, "site_id": "site-1"}).json()["trusted"]

    # complaints count towards the grade: three valid complaints and no violation → yellow
    for _ in range(3):
        r = api.post("/api/shops/s2/complaints", role="reviewer", json={"text": "boxes on the pavement"})
        assert r.status_code == 201
    hist = api.get("/api/shops/s2/grades").json()
    assert hist[0]["new_grade"] == "yellow" and "0 violations + 3 complaints" in hist[0]["reason"]
    assert api.get("/api/shops/s2").json()["grade"] == "yellow"


def test_case_routes_walk_and_roles(api) -> None:
    assert api.post("/api/shops", json=SHOP).status_code == 201
    with api.factory() as s:
        case = workflow.handle_event(s, _event("z1"), api.settings)
        unknown = _event("z-unknown", camera="cam-7")
        workflow.handle_event(s, unknown, api.settings)
        s.commit()
        case_id = case.id

    listed = api.get("/api/cases").json()
    assert listed["total"] == 1 and listed["items"][0]["state"] == "detected"
    assert api.post(f"/api/cases/{case_id}/confirm", role="viewer", json={}).status_code == 403
    r = api.post(f"/api/cases/{case_id}/confirm", role="reviewer", json={"note": "goods on the pavement"})
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["state"] == "notified" and detail["strike"] == 1 and detail["notices"][0]["kind"] == "advice"
    assert api.post(f"/api/cases/{case_id}/confirm", role="reviewer", json={}).status_code == 409
    assert api.post(f"/api/cases/{case_id}/dismiss", role="reviewer", json={"reason": "x"}).status_code == 409
    r = api.post(f"/api/cases/{case_id}/close", role="reviewer", json={"reason": "officer settled it"})
    assert r.status_code == 422 and "evidence" in r.json()["detail"]  # a case closes only with evidence
    photo = _photo(api)
    r = api.post(f"/api/cases/{case_id}/close", role="reviewer",
                 json={"reason": "officer settled it", "evidence": [photo]})
    assert r.status_code == 200 and r.json()["state"] == "resolved" and photo in r.json()["evidence"]
    trail = api.get(f"/api/cases/{case_id}/audit").json()
    assert [a["action"] for a in trail] == ["case.open", "case.confirm", "case.close"]
    assert trail[1]["details"]["strike"] == 1
    assert api.get("/api/cases/audit/verify", role="admin").json() == {"intact": True, "problems": []}
    assert api.get("/api/cases/audit/verify", role="reviewer").status_code == 403
    assert api.get("/api/cases/nope").status_code == 404

    queue = api.get("/api/cases/ownerless").json()
    assert [q["event_id"] for q in queue] == [unknown.event_id]
    r = api.post(f"/api/cases/ownerless/{unknown.event_id}/assign", role="reviewer", json={"shop_id": "s1"})
    assert r.status_code == 200 and r.json()[0]["shop_id"] == "s1"
    assert api.get("/api/zones/cam-7/z-unknown").json()["source"] == "assigned"
    assert api.get("/api/cases/ownerless").json() == []
    assert api.get("/api/cases/tasks").json() == []  # the case was closed by hand: no officer task open

    # grades, inspections, hot spots, stats
    g = api.get("/api/grades").json()
    assert g["rule_set"] == "counts" and sum(g["distribution"].values()) == 1
    assert api.post("/api/grades/recompute").json()["shops"] == 1
    assert api.post("/api/grades/recompute", role="reviewer").status_code == 403
    due = api.get("/api/inspections/due").json()
    assert [i["shop_id"] for i in due["items"]] == ["s1"]
    r = api.post(
        "/api/inspections",
        role="reviewer",
        json={"shop_id": "s1", "waste": 90, "sanitation": 95, "advertising": 88},
    )
    assert r.status_code == 201 and r.json()["result"] == "green"
    assert api.get("/api/inspections/due").json()["total"] == 0
    assert (
        api.post(
            "/api/inspections",
            role="reviewer",
            json={"shop_id": "s1", "waste": 190, "sanitation": 95, "advertising": 88},
        ).status_code
        == 422
    )
    assert api.get("/api/hotspots").json() == []
    assert api.get("/api/hotspots/roads").json()[0]["road"] == "Main Road"
    v = api.get("/api/stats/violations").json()
    assert sum(d["total"] for d in v) == 2
    assert api.get("/api/stats/self-rectification").json()["notified"] == 1
    assert api.get("/api/stats/grades").json()[-1]["green"] == 1
    assert api.get("/api/stats/grades", params={"start": "2026-03-05", "end": "2026-03-01"}).status_code == 422
    assert api.client.get("/api/cases").status_code == 401


def test_task_and_penalty_routes(api) -> None:
    from datetime import timedelta

    from central.orm.cases import Case
    from wire.schema import RecheckResult

    assert api.post("/api/shops", json=SHOP).status_code == 201
    photo = _photo(api)
    now = datetime.now(UTC)
    with api.factory() as s:
        case = workflow.handle_event(s, _event("z1"), api.settings, now=now)
        s.commit()
        case_id = case.id
    for strike in (1, 2, 3):  # three confirmed violations; the first two closed by hand
        if strike > 1:
            with api.factory() as s:
                case_id = workflow.handle_event(s, _event("z1"), api.settings, now=now).id
                s.commit()
        r = api.post(f"/api/cases/{case_id}/confirm", role="reviewer", json={})
        assert r.json()["strike"] == strike
        if strike < 3:
            closed = api.post(f"/api/cases/{case_id}/close", role="reviewer",
                              json={"reason": "ok", "evidence": [photo]})
            assert closed.status_code == 200
    with api.factory() as s:
        workflow.tick(s, now + timedelta(minutes=31), api.settings)
        c = s.get(Case, case_id)
        msg = RecheckResult(
            site_id="site-1",
            camera_id="cam-1",
            command_id=c.recheck_command_id,
            case_id=case_id,
            zone_id="z1",
            result="present",
            ts=now.timestamp(),
        )
        workflow.handle_recheck(s, msg, api.settings)
        s.commit()
    tasks = api.get("/api/cases/tasks").json()
    assert [(t["kind"], t["case_id"]) for t in tasks] == [("escalation", case_id)]
    done = api.post(f"/api/cases/tasks/{tasks[0]['id']}/complete", role="reviewer", json={"outcome": "resolved"})
    assert done.status_code == 409 and "penalty" in done.json()["detail"]
    assert api.post(f"/api/cases/{case_id}/close", role="reviewer", json={"reason": "x"}).status_code == 409
    pen = api.post(f"/api/cases/{case_id}/penalty", role="reviewer", json={"ticket_no": "P-1", "amount": 200})
    assert pen.status_code == 200 and pen.json()["penalties"][0]["ticket_no"] == "P-1"
    done = api.post(f"/api/cases/tasks/{tasks[0]['id']}/complete", role="reviewer", json={"outcome": "resolved"})
    assert done.status_code == 422, "an officer's result needs a photo"
    done = api.post(f"/api/cases/tasks/{tasks[0]['id']}/complete", role="reviewer",
                    json={"outcome": "resolved", "evidence": ["0" * 64]})
    assert done.status_code == 422 and "upload the photo first" in done.json()["detail"]
    done = api.post(f"/api/cases/tasks/{tasks[0]['id']}/complete", role="reviewer",
                    json={"outcome": "resolved", "evidence": [photo]})
    assert done.status_code == 200 and done.json()["status"] == "done"
    detail = api.get(f"/api/cases/{case_id}").json()
    assert detail["state"] == "resolved" and not detail["is_open"] and detail["notices"][0]["kind"] == "penalty_notice"
