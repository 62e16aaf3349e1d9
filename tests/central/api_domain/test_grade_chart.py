"""Grade shares over time as a chart: the grade engine moves shops between grades on three days, and both
`GET /api/stats/grades/chart` and the console's grade page draw those shares."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from central.api.deps import COOKIE_NAME
from central.domain import grades, registry
from central.domain.clock import local_day, now_utc
from central.domain.shop_schema import ShopIn
from central.orm.cases import Case
from wire.ids import new_id


def _confirmed(session, shop_id: str, at: datetime, n: int) -> None:
    for _ in range(n):
        session.add(Case(id=new_id(), shop_id=shop_id, violation="piled_goods", state="resolved", is_open=False,
                         opened_at=at, confirmed_at=at, strike=1))


def _grade_story(api, d1: datetime) -> tuple[date, date, date]:
    """Four shops: all green on d1; on d1+2 one red and one yellow; by d1+9 the violations aged out."""
    rules = api.settings.model_copy(update={"strike_window_days": 5})
    with api.factory() as s:
        for i in range(4):
            registry.create_shop(s, ShopIn(id=f"s{i}", name=f"Shop {i}"))
        grades.recompute(s, now=d1, settings=rules)
        _confirmed(s, "s0", d1 + timedelta(days=1), 5)
        _confirmed(s, "s1", d1 + timedelta(days=1), 3)
        s.flush()
        grades.recompute(s, now=d1 + timedelta(days=2), settings=rules)
        grades.recompute(s, now=d1 + timedelta(days=9), settings=rules)
        s.commit()
    return d1.date(), (d1 + timedelta(days=2)).date(), (d1 + timedelta(days=9)).date()


def _red_band_heights(svg: str) -> list[float]:
    """Height of the red band per day, read off the chart's polygon (upper edge, then lower edge back)."""
    pts = re.search(r'<polygon points="([^"]+)" fill="#[0-9a-f]{6}" class="area-red"', svg).group(1).split()
    ys = [float(p.split(",")[1]) for p in pts]
    n = len(ys) // 2
    upper, lower = ys[:n], list(reversed(ys[n:]))
    return [lo - up for up, lo in zip(upper, lower, strict=True)]


def test_grade_share_chart_endpoint(sqlite_api) -> None:
    api = sqlite_api
    def get_en(path: str, params: dict):
        return api.client.get(path, params=params, headers={**api.headers["viewer"], "Accept-Language": "en"})

    empty = get_en("/api/stats/grades/chart", {"start": "2026-01-01", "end": "2026-01-10"})
    assert empty.status_code == 200 and "no grades yet" in empty.text
    zh = api.get("/api/stats/grades/chart", params={"start": "2026-01-01", "end": "2026-01-10"})
    assert "尚无等级" in zh.text  # the deployment's language without an Accept-Language

    day1, day2, day3 = _grade_story(api, datetime(2026, 1, 5, 12, tzinfo=UTC))
    r = get_en("/api/stats/grades/chart", {"start": day1.isoformat(), "end": day2.isoformat()})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.startswith("<svg") and r.text.endswith("</svg>")
    assert f"On {day2.month}/{day2.day}/{day2.year}: red 25.0%, yellow 25.0%, green 50.0%." in r.text
    heights = _red_band_heights(r.text)
    assert heights[0] == 0 and heights[1] == 0 and heights[2] > 0  # red from day 2 on, a quarter of the chart
    plot_h = 260 - 12 - 28
    assert abs(heights[2] - plot_h / 4) < 0.2

    r = get_en("/api/stats/grades/chart", {"start": day1.isoformat(), "end": day3.isoformat()})
    assert f"On {day3.month}/{day3.day}/{day3.year}: red 0.0%, yellow 0.0%, green 100.0%." in r.text
    assert _red_band_heights(r.text)[-1] == 0
    # the chart draws what the numbers say
    numbers = api.get("/api/stats/grades", params={"start": day2.isoformat(), "end": day2.isoformat()}).json()
    assert numbers == [{"day": day2.isoformat(), "green": 2, "yellow": 1, "red": 1}]

    assert api.client.get("/api/stats/grades/chart").status_code == 401
    bad = api.get("/api/stats/grades/chart", params={"start": day3.isoformat(), "end": day1.isoformat()})
    assert bad.status_code == 422


def test_console_grade_page_draws_the_shares(sqlite_api) -> None:
    api = sqlite_api
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    _grade_story(api, today - timedelta(days=9))
    api.client.cookies.set(COOKIE_NAME, api.headers["viewer"]["Authorization"].split()[1])
    page = api.client.get("/console/grades", params={"days": 12})
    assert page.status_code == 200
    day = local_day(now_utc(), api.settings.timezone)  # the chart's last day is today, local
    assert f"{day.year}/{day.month}/{day.day}：红色 0.0%，黄色 0.0%，绿色 100.0%。" in page.text
    start = page.text.index('class="chart"')
    svg = page.text[start: page.text.index("</svg>", start) + 6]
    assert max(_red_band_heights(svg)) > 0  # the red spell a week ago is on the chart
