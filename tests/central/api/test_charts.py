"""The server-side charts: grade shares, violations per day by type, self-rectified rate per week; every
word and number in the language of the translator in use."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from central import i18n
from central.charts import RateBucket, grade_share_svg, nice_top, self_rectification_svg, violations_svg


@pytest.fixture
def en():
    with i18n.use(i18n.translator("en", "Asia/Shanghai")) as t:
        yield t


@pytest.fixture
def zh():
    with i18n.use(i18n.translator("zh-CN", "Asia/Shanghai")) as t:
        yield t


def _texts(svg: str) -> list[str]:
    return re.findall(r">([^<>]+)<", svg)


def test_stacked_shares_fill_the_chart(en) -> None:
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(5)]
    series = [(d, {"red": 5 - i, "yellow": 3, "green": 2 + i}) for i, d in enumerate(days)]
    svg = str(grade_share_svg(series, width=520, height=220))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    polygons = re.findall(r'<polygon points="([^"]+)" fill="(#[0-9a-f]{6})" class="area-(\w+)"', svg)
    assert [p[2] for p in polygons] == ["green", "yellow", "red"]
    # top edge of the red band is the 100% line on every day: shares add up
    red_top = [float(xy.split(",")[1]) for xy in polygons[2][0].split()[:5]]
    assert max(red_top) - min(red_top) < 0.01
    assert "On 3/5/2026: red 10.0%, yellow 30.0%, green 60.0%." in svg
    assert ">3/1<" in svg and ">100%<" in svg


def test_empty_and_single_day(en) -> None:
    assert "no grades yet" in str(grade_share_svg([]))
    one = str(grade_share_svg([(date(2026, 3, 1), {"red": 1, "yellow": 0, "green": 1})]))
    assert one.count("<polygon") == 3 and "red 50.0%" in one


def test_grade_chart_in_chinese(zh) -> None:
    series = [(date(2026, 3, 1), {"red": 1, "yellow": 1, "green": 2})]
    svg = str(grade_share_svg(series))
    assert "2026/3/1：红色 25.0%，黄色 25.0%，绿色 50.0%。" in svg
    assert not any(re.search(r"[A-Za-z]{2}", t) for t in _texts(svg)), _texts(svg)
    assert "尚无等级" in str(grade_share_svg([]))


def test_violation_bars_stack_by_type_on_a_nice_axis(en) -> None:
    rows = [{"day": "2026-03-01", "cross_door_trading": 3, "piled_goods": 1},
            {"day": "2026-03-02", "cross_door_trading": 0, "piled_goods": 0},
            {"day": "2026-03-03", "cross_door_trading": 2, "piled_goods": 5}]
    svg = str(violations_svg(rows, width=400, height=280))
    bars = re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="#\w+" '
                      r'class="bar-(\w+)" data-day="([\d-]+)" data-n="(\d+)"', svg)
    assert [(b[2], b[3], int(b[4])) for b in bars] == [
        ("cross_door_trading", "2026-03-01", 3), ("piled_goods", "2026-03-01", 1),
        ("cross_door_trading", "2026-03-03", 2), ("piled_goods", "2026-03-03", 5)]
    # heights in proportion to the counts: the axis tops at 8 (peak 7), 280 - 30 - 28 px for 8 cases
    unit = (280 - 30 - 28) / 8
    for _y, h, _k, _d, n in bars:
        assert abs(float(h) - unit * int(n)) < 0.11
    # each day's piled goods sit on its cross-door trading
    assert abs(float(bars[1][0]) + float(bars[1][1]) - float(bars[0][0])) < 0.11
    assert "Cross-door trading" in _texts(svg) and "Piled goods" in _texts(svg)  # the legend
    assert "From 3/1/2026 to 3/3/2026: Cross-door trading 5, Piled goods 6." in svg
    assert "no violations" in str(violations_svg([{"day": "2026-03-01", "cross_door_trading": 0,
                                                   "piled_goods": 0}]))


def test_violation_chart_in_chinese_with_grouped_numbers(zh) -> None:
    rows = [{"day": "2026-03-01", "cross_door_trading": 1200, "piled_goods": 34}]
    svg = str(violations_svg(rows))
    assert "跨门经营" in _texts(svg) and "占道堆物" in _texts(svg)
    assert "1,200" in svg and "2026/3/1" in svg
    assert not any(re.search(r"[A-Za-z]{2}", t) for t in _texts(svg)), _texts(svg)


def test_nice_axis_tops() -> None:
    assert [nice_top(v) for v in (0, 1, 4, 5, 7, 12, 99, 1234)] == [
        (1, 1), (1, 1), (4, 1), (5, 1), (8, 2), (15, 5), (100, 20), (1500, 500)]


def test_self_rectified_bars_leave_undecided_weeks_empty(en) -> None:
    weeks = [RateBucket(date(2026, 3, 1), date(2026, 3, 7), 4, 3),
             RateBucket(date(2026, 3, 8), date(2026, 3, 14), 0, 0),
             RateBucket(date(2026, 3, 15), date(2026, 3, 21), 2, 0)]
    svg = str(self_rectification_svg(weeks, width=400, height=240))
    bars = re.findall(r'height="([\d.]+)" fill="#\w+" class="bar-rate" data-start="([\d-]+)" '
                      r'data-rate="([\d.]+)"', svg)
    assert [(b[1], float(b[2])) for b in bars] == [("2026-03-01", 0.75), ("2026-03-15", 0.0)]
    assert abs(float(bars[0][0]) - 0.75 * (240 - 16 - 28)) < 0.11
    assert "3/8/2026 – 3/14/2026: no decided cases" in svg  # a dash, not a 0 % bar
    assert "3 of 6 decided cases self-rectified (50.0%)." in svg
    assert "no decided cases" in str(self_rectification_svg([RateBucket(date(2026, 3, 1), date(2026, 3, 7), 0, 0)]))
