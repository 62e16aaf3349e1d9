"""The officer's phone pages through the real app: today's tasks and inspections in route order (natural
sort), scoped to the officer's district and street; a recheck result needs a photo; an inspection from the
checklist. SQLite and PostgreSQL (ICU)."""

from __future__ import annotations

import re

from central.api.deps import COOKIE_NAME
from central.domain import checklist
from central.orm.cases import Case, OfficerTask
from central.orm.grades import Inspection
from central.orm.shops import Shop
from central.users_cli import ensure_user
from testkit.photos import tiny_jpeg
from wire.ids import new_id

JPEG = tiny_jpeg()


def _seed(api) -> dict[str, int]:
    with api.factory() as s:
        for sid, address, area in (("n10", "人民路10号", "North"), ("n2", "人民路2号", "North"),
                                   ("n1", "人民路1号", "North"), ("s1", "南街1号", "South")):
            s.add(Shop(id=sid, name=f"店 {sid}", address=address, road="人民路" if area == "North" else "南街",
                       area=area, grade="red"))
        s.flush()
        tasks = {}
        for sid in ("n2", "s1"):
            case = Case(id=new_id(), shop_id=sid, violation="piled_goods", state="officer_recheck", is_open=True,
                        source_kind="drone", strike=1)
            s.add(case)
            s.flush()
            task = OfficerTask(case_id=case.id, shop_id=sid, kind="recheck", reason="no camera can recheck")
            s.add(task)
            s.flush()
            tasks[sid] = task.id
        ensure_user(s, "officer-n", "officer-pass-1", "officer", area="North")
        s.commit()
    return tasks


def _login(api, user: str, password: str) -> None:
    r = api.client.post("/api/auth/token", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    api.client.cookies.set(COOKIE_NAME, r.json()["access_token"])


def test_officer_day_in_route_order_and_scope(api) -> None:
    tasks = _seed(api)
    _login(api, "officer-n", "officer-pass-1")
    page = api.client.get("/officer")
    assert page.status_code == 200 and 'name="viewport"' in page.text
    assert re.findall(r'data-shop="([^"]+)"', page.text) == ["n1", "n2", "n10"]  # 1号, 2号, 10号; no South shop
    assert re.findall(r'data-task="(\d+)"', page.text) == [str(tasks["n2"])]
    assert api.client.get("/officer/shops/s1").status_code == 404  # another district
    assert api.client.get(f"/officer/tasks/{tasks['s1']}").status_code == 404
    assert "人民路2号" in api.client.get("/officer/shops/n2").text

    # a recheck result without a photo is refused; with one, the case closes with it as evidence
    r = api.client.post(f"/officer/tasks/{tasks['n2']}", data={"outcome": "clear"})
    assert "Not saved" in r.text
    r = api.client.post(f"/officer/tasks/{tasks['n2']}", data={"outcome": "clear", "note": "已清理"},
                        files={"photos": ("door.jpg", JPEG, "image/jpeg")})
    assert "Task done" in r.text
    with api.factory() as s:
        task = s.get(OfficerTask, tasks["n2"])
        assert task.status == "done" and task.case.state == "rectified" and len(task.case.evidence) == 1

    # an inspection from the checklist: everything passed except goods piled in front
    items = {f"item:{k}": "pass" for k in checklist.load().items() if k != "sanitation.no_piled_goods"}
    r = api.client.post("/officer/shops/n1/inspect", data=items | {"notes": "门前有纸箱"},
                        files={"photos": ("box.jpg", JPEG, "image/jpeg")})
    assert "Inspection recorded" in r.text
    with api.factory() as s:
        (ins,) = s.query(Inspection).filter(Inspection.shop_id == "n1").all()
        assert ins.sanitation == 75.0 and ins.items["sanitation.no_piled_goods"] == 0 and len(ins.photos) == 1
    page = api.client.get("/officer")
    assert re.findall(r'data-shop="([^"]+)"', page.text) == ["n2", "n10"]  # n1 is done for today

    api.client.cookies.set(COOKIE_NAME, api.headers["viewer"]["Authorization"].split()[1])
    assert api.client.get("/officer").status_code == 403
