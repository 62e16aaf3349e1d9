"""District / street scoping over HTTP (issue 23): a reviewer, viewer or officer with a scope sees and acts
only on their area's shops, cases, events, tasks, inspections, hot spots, grade changes, statistics, map items
and notices, in the JSON API and in the console; an unscoped reviewer and an admin see everything. SQLite and
PostgreSQL (ICU-collated)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from central.api.deps import COOKIE_NAME
from central.domain import checklist
from central.domain.clock import now_utc
from central.orm.cases import Case, CaseEvent, Notice, OfficerTask, OwnerlessEvent
from central.orm.events import Event
from central.orm.grades import GradeChange, HotSpot, Inspection
from central.orm.notices import NoticeDelivery
from central.orm.shops import Shop, ShopZone
from central.users_cli import ensure_user
from testkit.photos import tiny_jpeg

JPEG = tiny_jpeg()
EAST, WEST = "东城区", "西城区"
PASSWORD = "scoped-pass-1"


def _seed(api) -> dict[str, object]:
    """Two districts, each with a shop, a waiting case (with its episode), a decided case, an officer task,
    a grade change, a hot spot and a notice delivery; an ownerless event from each district's camera."""
    now = now_utc()
    ids: dict[str, object] = {}
    with api.factory() as s:
        for key, area, road, lat in (("east", EAST, "人民路", 31.30), ("west", WEST, "南街", 31.20)):
            shop = f"shop-{key}"
            s.add(Shop(id=shop, name=f"{key} 店", address=f"{road}{len(key)}号", road=road, area=area, grade="red",
                       lat=lat, lon=120.6))
            s.flush()
            s.add(ShopZone(shop_id=shop, camera_id=f"cam-{key}", zone_id="z1"))
            s.add(GradeChange(shop_id=shop, at=now - timedelta(hours=1), old_grade=None, new_grade="red",
                              rule_set="counts", reason="seed"))
            s.add(HotSpot(address=f"{road}{len(key)}号", road=road, area=area, since=now - timedelta(hours=1),
                          tickets=5, open_cases=1))
            s.flush()
            waiting = Case(id=f"case-{key}", shop_id=shop, violation="piled_goods", state="detected", is_open=True,
                           camera_id=f"cam-{key}", site_id="site", zone_id="z1", lat=lat, lon=120.6,
                           opened_at=now - timedelta(minutes=30))
            decided = Case(id=f"done-{key}", shop_id=shop, violation="cross_door_trading", is_open=False,
                           state="rectified" if key == "east" else "escalated", self_rectified=key == "east",
                           camera_id=f"cam-{key}", strike=1, confirmed_at=now - timedelta(hours=2),
                           notified_at=now - timedelta(hours=2), opened_at=now - timedelta(hours=3))
            recheck = Case(id=f"recheck-{key}", shop_id=shop, violation="cross_door_trading", state="officer_recheck",
                           is_open=True, strike=1, source_kind="drone", opened_at=now - timedelta(hours=1))
            s.add_all([waiting, decided, recheck])
            s.flush()
            s.add(Event(event_id=f"ev-{key}", site_id="site", camera_id=f"cam-{key}", zone_id="z1", shop_id=shop,
                        violation="piled_goods", phase="start", first_ts=now - timedelta(minutes=31),
                        last_ts=now - timedelta(minutes=30)))
            s.add(CaseEvent(case_id=waiting.id, event_id=f"ev-{key}"))
            s.add(OwnerlessEvent(event_id=f"lost-{key}", site_id="site", camera_id=f"cam-{key}", zone_id="z9",
                                 violation="piled_goods", seen_at=now - timedelta(minutes=5)))
            task = OfficerTask(case_id=recheck.id, shop_id=shop, kind="recheck", reason="no camera can recheck")
            s.add(task)
            notice = Notice(case_id=decided.id, shop_id=shop, kind="advice", strike=1, recipient="", text="",
                            created_at=now - timedelta(hours=2))
            s.add(notice)
            s.flush()
            s.add(NoticeDelivery(notice_id=notice.id, case_id=decided.id, shop_id=shop, audience="owner",
                                 route="shop_channel:1", channel="webhook", idempotency_key=f"key-{key}",
                                 status="dead", last_error=f"webhook-{key} refused"))
            s.flush()
            ids[f"task-{key}"] = task.id
        ensure_user(s, "reviewer-east", PASSWORD, "reviewer", area=EAST)
        ensure_user(s, "viewer-east", PASSWORD, "viewer", area=EAST)
        ensure_user(s, "officer-east", PASSWORD, "officer", area=EAST, road="人民路")
        ensure_user(s, "admin-west", PASSWORD, "admin", area=WEST)  # an admin's scope is ignored: admins see all
        s.commit()
    return ids


def _bearer(api, user: str, password: str = PASSWORD) -> dict[str, str]:
    r = api.client.post("/api/auth/token", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _ids(items: list[dict], key: str = "id") -> set:
    return {i[key] for i in items}


def test_api_lists_items_statistics_and_writes_are_scoped(api) -> None:
    _seed(api)
    _statistics_hot_spots_and_grades_are_scoped(api)
    east = _bearer(api, "reviewer-east")
    everyone = api.headers["reviewer"]
    get = api.client.get

    assert _ids(get("/api/cases", headers=east).json()["items"]) == {"case-east", "done-east", "recheck-east"}
    assert {"case-east", "case-west"} <= _ids(get("/api/cases", headers=everyone).json()["items"])
    assert get("/api/cases/case-west", headers=east).status_code == 404
    assert get("/api/cases/case-west/audit", headers=east).status_code == 404
    assert get("/api/cases/case-east", headers=east).json()["shop_id"] == "shop-east"

    # a scoped reviewer cannot confirm another district's case (404, nothing changes), confirms their own
    r = api.client.post("/api/cases/case-west/confirm", json={}, headers=east)
    assert r.status_code == 404, r.text
    for path, body in (("dismiss", {"reason": "no"}), ("penalty", {"ticket_no": "T1"}),
                       ("close", {"reason": "done"})):
        assert api.client.post(f"/api/cases/case-west/{path}", json=body, headers=east).status_code == 404
    with api.factory() as s:
        assert s.get(Case, "case-west").state == "detected" and not s.get(Case, "case-west").penalties
    r = api.client.post("/api/cases/case-east/confirm", json={}, headers=east)
    assert r.status_code == 200 and r.json()["state"] == "notified", r.text
    # an unscoped reviewer confirms the other district's case
    r = api.client.post("/api/cases/case-west/confirm", json={}, headers=everyone)
    assert r.status_code == 200 and r.json()["state"] == "notified", r.text

    assert _ids(get("/api/shops", headers=east).json()["items"]) == {"shop-east"}
    assert get("/api/shops", headers=everyone).json()["total"] == 2
    assert get("/api/shops/shop-west", headers=east).status_code == 404
    assert get("/api/shops/shop-west/grades", headers=east).status_code == 404
    export = get("/api/shops/export", headers=east).text
    assert "shop-east" in export and "shop-west" not in export
    assert api.client.post("/api/shops/shop-west/complaints", json={"text": "x"}, headers=east).status_code == 404

    assert _ids(get("/api/zones", headers=east).json(), "shop_id") == {"shop-east"}
    assert get("/api/zones/cam-west/z1", headers=east).status_code == 404
    assert _ids(get("/api/events", headers=east).json()["items"], "event_id") == {"ev-east"}
    assert get("/api/events/ev-west", headers=east).status_code == 404
    assert get("/api/events/ev-west", headers=everyone).status_code == 200

    assert _ids(get("/api/cases/ownerless", headers=east).json(), "event_id") == {"lost-east"}
    assert api.client.post("/api/cases/ownerless/lost-west/dismiss", json={"reason": "x"},
                           headers=east).status_code == 404
    assert api.client.post("/api/cases/ownerless/lost-east/assign", json={"shop_id": "shop-west"},
                           headers=east).status_code == 404  # not to another district's shop either

    assert _ids(get("/api/cases/tasks", headers=east).json(), "shop_id") == {"shop-east"}
    assert _ids(get("/api/inspections/due", headers=east).json()["items"], "shop_id") == {"shop-east"}
    assert _ids(get("/api/notices/deliveries", headers=east).json(), "shop_id") == {"shop-east"}
    with api.factory() as s:
        dead = dict(s.execute(select(NoticeDelivery.shop_id, NoticeDelivery.id)).all())
    assert api.client.post(f"/api/notices/deliveries/{dead['shop-west']}/resend", headers=east).status_code == 404
    assert api.client.post(f"/api/notices/deliveries/{dead['shop-east']}/resend", headers=east).status_code == 200
    assert get("/api/shops/shop-west/channels", headers=east).status_code == 404

    # an admin's own scope does not narrow what an admin sees
    assert get("/api/shops", headers=_bearer(api, "admin-west")).json()["total"] == 2


def _statistics_hot_spots_and_grades_are_scoped(api) -> None:
    east, viewer = _bearer(api, "reviewer-east"), _bearer(api, "viewer-east")
    everyone = api.headers["viewer"]
    get = api.client.get

    assert get("/api/grades", headers=east).json()["distribution"]["red"] == 1
    assert get("/api/grades", headers=everyone).json()["distribution"]["red"] == 2
    assert _ids(get("/api/grades/changes", headers=viewer).json(), "shop_id") == {"shop-east"}
    assert get("/api/stats/grades", headers=viewer).json()[-1]["red"] == 1
    assert get("/api/stats/grades", headers=everyone).json()[-1]["red"] == 2
    assert sum(d["total"] for d in get("/api/stats/violations", headers=viewer).json()) == 3
    assert sum(d["total"] for d in get("/api/stats/violations", headers=everyone).json()) == 6
    rate = get("/api/stats/self-rectification", headers=viewer).json()
    assert (rate["judged"], rate["rate"]) == (1, 1.0)  # east fixed its one; west's escalated one is not theirs
    assert get("/api/stats/self-rectification", headers=everyone).json()["rate"] == 0.5
    assert {h["area"] for h in get("/api/hotspots", headers=viewer).json()} == {EAST}
    assert len(get("/api/hotspots", headers=everyone).json()) == 2
    assert {r["road"] for r in get("/api/hotspots/roads", headers=viewer).json()} == {"人民路"}


def test_officer_uses_the_api_writes_of_their_pages_in_their_street(api) -> None:
    ids = _seed(api)
    officer = _bearer(api, "officer-east")
    post = api.client.post

    r = post("/api/evidence", files={"file": ("door.jpg", JPEG, "image/jpeg")}, headers=officer)
    assert r.status_code == 201, r.text
    photo = r.json()["sha256"]

    # a recheck result needs the photo, as on the page; another district's task is not found
    r = post(f"/api/cases/tasks/{ids['task-east']}/complete", json={"outcome": "clear"}, headers=officer)
    assert r.status_code == 422, r.text
    r = post(f"/api/cases/tasks/{ids['task-west']}/complete", json={"outcome": "clear", "evidence": [photo]},
             headers=officer)
    assert r.status_code == 404, r.text
    r = post(f"/api/cases/tasks/{ids['task-east']}/complete", json={"outcome": "clear", "evidence": [photo]},
             headers=officer)
    assert r.status_code == 200 and r.json()["status"] == "done", r.text
    with api.factory() as s:
        assert s.get(Case, "recheck-east").state == "rectified" and photo in s.get(Case, "recheck-east").evidence
        assert s.get(OfficerTask, ids["task-west"]).status == "open"

    # an inspection from the checklist with a photo; not in another district; not as bare scores or back-dated
    items = {k: k != "sanitation.no_piled_goods" for k in checklist.load().items()}
    r = post("/api/inspections", json={"shop_id": "shop-east", "items": items, "photos": [photo]}, headers=officer)
    assert r.status_code == 201 and r.json()["sanitation"] == 75.0, r.text
    r = post("/api/inspections", json={"shop_id": "shop-west", "items": items}, headers=officer)
    assert r.status_code == 404, r.text
    scores = {"shop_id": "shop-east", "waste": 90, "sanitation": 90, "advertising": 90}
    assert post("/api/inspections", json=scores, headers=officer).status_code == 400
    backdated = {"shop_id": "shop-east", "items": items, "at": "2020-01-01T00:00:00Z"}
    assert post("/api/inspections", json=backdated, headers=officer).status_code == 400
    assert post("/api/inspections", json=scores, headers=api.headers["reviewer"]).status_code == 201
    assert post("/api/inspections", json={"shop_id": "shop-east", "items": items},
                headers=_bearer(api, "viewer-east")).status_code == 403
    with api.factory() as s:
        assert {i.shop_id for i in s.query(Inspection)} == {"shop-east"}
        assert s.query(Inspection).count() == 2
    # what the officer lists is their street's
    assert _ids(api.client.get("/api/inspections", headers=officer).json(), "shop_id") == {"shop-east"}


def _console(api, user: str) -> None:
    r = api.client.post("/api/auth/token", data={"username": user, "password": PASSWORD})
    api.client.cookies.set(COOKIE_NAME, r.json()["access_token"])


def test_console_pages_map_and_decisions_are_scoped(api) -> None:
    _seed(api)
    _console(api, "reviewer-east")
    _console_sees(api, scoped=True)
    api.client.cookies.set(COOKIE_NAME, api.headers["reviewer"]["Authorization"].split()[1])  # unscoped
    _console_sees(api, scoped=False)


def _console_sees(api, *, scoped: bool) -> None:
    get = api.client.get

    queue = get("/console").text  # (the unscoped reviewer comes after the east one confirmed case-east)
    assert set(re.findall(r'data-case="([^"]+)"', queue)) == ({"case-east"} if scoped else {"case-west"})
    assert ("南街" in queue) is not scoped  # the road filter offers only the district's roads
    assert get("/console/cases/case-west").status_code == (404 if scoped else 200)
    assert get("/console/shops/shop-west").status_code == (404 if scoped else 200)
    listing = get("/console/cases").text
    assert "case-east" in listing and ("case-west" in listing) is not scoped
    assert ("shop-west" in get("/console/shops").text) is not scoped
    assert ("lost-west" in get("/console/ownerless").text) is not scoped
    assert ("cam-west / z1" in get("/console/events").text) is not scoped
    assert ("西城区" in get("/console/inspections").text) is not scoped
    per_grade = re.findall(r"<b>(\d+)</b>", get("/console/grades").text)[:4]  # red, yellow, green, none
    assert sum(map(int, per_grade)) == (1 if scoped else 2)
    notices = get("/console/notices").text
    assert "webhook-east" in notices and ("webhook-west" in notices) is not scoped

    layers = get("/console/map/data.json").json()
    assert {s["id"] for s in layers["shops"]} == ({"shop-east"} if scoped else {"shop-east", "shop-west"})
    assert {c["shop"] for c in layers["cases"]} == ({"shop-east"} if scoped else {"shop-east", "shop-west"})
    assert {c["id"] for c in layers["cameras"]} == ({"cam-east"} if scoped else {"cam-east", "cam-west"})
    assert len(layers["hotspots"]) == (1 if scoped else 2)

    r = api.client.post("/console/cases/case-west/confirm", data={"back": "/console"})
    with api.factory() as s:
        assert s.get(Case, "case-west").state == ("detected" if scoped else "notified"), r.text
    if scoped:
        r = api.client.post("/console/cases/case-east/confirm", data={"back": "/console"})
        with api.factory() as s:
            assert s.get(Case, "case-east").state == "notified", r.text
