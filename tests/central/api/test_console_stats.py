"""The statistics and hot spot pages: charts drawn on the server from the same domain functions as the API's
/api/stats routes (the page and the API agree), over local days (Asia/Shanghai), in the user's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from central.domain.clock import local_day, zone
from central.orm.cases import Case
from central.orm.grades import HotSpot
from central.orm.shops import Shop
from wire.ids import new_id

from .conftest import PASSWORDS, Env, add_shop

TZ = "Asia/Shanghai"


def _login(env: Env, role: str = "viewer") -> None:
    r = env.client.post("/console/login", data={"username": role, "password": PASSWORDS[role]},
                        follow_redirects=False)
    assert r.status_code == 303


def _at(day, hh: int, mm: int = 0) -> datetime:
    """A local (Shanghai) time of a local day, as the UTC instant it is stored as."""
    return datetime.combine(day, time(hh, mm), tzinfo=zone(TZ)).astimezone(UTC)


def _case(s, shop_id: str, opened: datetime, violation: str, state: str, *, notified: bool = False,
          fixed: bool = False) -> None:
    s.add(Case(id=new_id(), shop_id=shop_id, violation=violation, state=state,
               is_open=state not in ("rectified", "resolved", "dismissed"), opened_at=opened,
               confirmed_at=opened if state != "detected" and state != "dismissed" else None,
               notified_at=opened if notified else None, self_rectified=fixed))


def _story(env: Env):
    """Two days ago (local): three cross-door trading cases at 10:00; yesterday at 00:30 local (still the
    day before in UTC) one piled-goods case. Of four notified cases two were fixed by the shop, one was
    escalated and one still waits for its window: 2 of 3 decided."""
    today = local_day(datetime.now(UTC), TZ)
    d2, d1 = today - timedelta(days=2), today - timedelta(days=1)
    with env.session() as s:
        d = 0.00005
        add_shop(s, "s1", address="解放路 12 号", road="解放路",
                 footprint=[[121.4737 - d, 31.2304 - d], [121.4737 + d, 31.2304 - d], [121.4737, 31.2304 + d]])
        add_shop(s, "s2", address="人民路 3 号", road="人民路")
        _case(s, "s1", _at(d2, 10), "cross_door_trading", "rectified", notified=True, fixed=True)
        _case(s, "s1", _at(d2, 10, 5), "cross_door_trading", "rectified", notified=True, fixed=True)
        _case(s, "s2", _at(d2, 10, 9), "cross_door_trading", "escalated", notified=True)
        _case(s, "s2", _at(d1, 0, 30), "piled_goods", "notified", notified=True)
        s.add_all([HotSpot(address="解放路 12 号", road="解放路", since=_at(d2, 11), tickets=6, open_cases=2),
                   HotSpot(address="人民路 3 号", road="人民路", since=_at(d1, 9), tickets=5, open_cases=1),
                   HotSpot(address="旧街 1 号", road="旧街", since=_at(d2, 9), cleared_at=_at(d1, 9), tickets=5)])
        s.get(Shop, "s1").grade = "red"
        s.commit()
    return today, d2, d1


def test_statistics_page_draws_what_the_api_counts(sqlite_env: Env) -> None:
    env = sqlite_env
    today, d2, d1 = _story(env)
    _login(env)
    r = env.client.get("/console/stats", params={"days": 7})
    assert r.status_code == 200
    html = r.text
    assert '<html lang="zh-CN">' in html and "统计" in html
    # violations per day by type: bars on local days, the 00:30 case on its own (local) day
    bars = {(m[0], m[1]): int(m[2]) for m in re.findall(r'class="bar-(\w+)" data-day="([\d-]+)" data-n="(\d+)"', html)}
    assert bars == {("cross_door_trading", d2.isoformat()): 3, ("piled_goods", d1.isoformat()): 1}
    assert "跨门经营" in html and "占道堆物" in html  # the legend, inside the chart
    # the API counts the same from the same functions
    start = (today - timedelta(days=6)).isoformat()
    api = env.client.get("/api/stats/violations", params={"start": start, "end": today.isoformat()},
                         headers=env.login("viewer")).json()
    assert {r["day"]: (r["cross_door_trading"], r["piled_goods"]) for r in api if r["total"]} == \
        {d2.isoformat(): (3, 0), d1.isoformat(): (0, 1)}
    rate = env.client.get("/api/stats/self-rectification", params={"start": start, "end": today.isoformat()},
                          headers=env.login("viewer")).json()
    assert (rate["judged"], rate["self_rectified"], rate["pending"], rate["rate"]) == (3, 2, 1, 0.6667)
    # self-rectified over decided cases only: 2 of 3, the waiting one left out
    assert "66.7%" in html
    rates = re.findall(r'class="bar-rate" data-start="([\d-]+)" data-rate="([\d.]+)"', html)
    assert [float(v) for _, v in rates] == [0.6667]
    charts = re.findall(r'<svg[^>]*class="chart"[^>]*>.*?</svg>', html, flags=re.S)
    assert [re.search(r'id="(\w+)"', c).group(1) for c in charts] == ["vd", "sr", "gs"]
    words = [t for c in charts for t in re.findall(r">([^<>]+)<", c)]
    english = [t for t in words if re.search(r"[A-Za-z]{2}", t)]
    assert not english, f"the charts show English: {english}"  # titles, legends, axes, descriptions
    assert "UTC" not in html

    en = env.client.get("/console/stats", params={"days": 7}, headers={"Accept-Language": "en"}).text
    assert "Violations per day by type" in en and "Cross-door trading" in en and "66.7%" in en
    assert env.client.get("/console/stats", params={"days": 1}).status_code == 400


def test_hot_spots_list_links_to_the_map(sqlite_env: Env) -> None:
    env = sqlite_env
    _story(env)
    _login(env)
    html = env.client.get("/console/hotspots").text
    rows = re.findall(r"<tr[^>]*><td><b>([^<]+)</b>", html)
    assert rows == ["人民路 3 号", "解放路 12 号"]  # active ones, newest first; the cleared one is left out
    # a hot spot whose shops have coordinates links to the map; one without says so
    assert 'href="/console/map?hotspot=%E8%A7%A3%E6%94%BE%E8%B7%AF%2012%20%E5%8F%B7"' in html
    assert html.count('class="on-map"') == 1 and "无坐标" in html
    assert "解放路" in html[html.index('id="road-list"'):]  # roads, worst first
    everything = env.client.get("/console/hotspots", params={"cleared": "true"}).text
    assert "旧街 1 号" in everything
    # the map draws the hot spot the link names
    spots = env.client.get("/console/map/data.json").json()["hotspots"]
    assert [h["address"] for h in spots] == ["解放路 12 号"]
