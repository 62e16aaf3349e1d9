"""The server-side grade-share chart."""

from __future__ import annotations

import re
from datetime import date, timedelta

from central.charts import grade_share_svg


def test_stacked_shares_fill_the_chart() -> None:
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(5)]
    series = [(d, {"red": 5 - i, "yellow": 3, "green": 2 + i}) for i, d in enumerate(days)]
    svg = str(grade_share_svg(series, width=520, height=220))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    polygons = re.findall(r'<polygon points="([^"]+)" fill="(#[0-9a-f]{6})" class="area-(\w+)"', svg)
    assert [p[2] for p in polygons] == ["green", "yellow", "red"]
    # top edge of the red band is the 100% line on every day: shares add up
    red_top = [float(xy.split(",")[1]) for xy in polygons[2][0].split()[:5]]
    assert max(red_top) - min(red_top) < 0.01
    assert "On 2026-03-05: red 10.0%, yellow 30.0%, green 60.0%." in svg


def test_empty_and_single_day() -> None:
    assert "no grades yet" in str(grade_share_svg([]))
    one = str(grade_share_svg([(date(2026, 3, 1), {"red": 1, "yellow": 0, "green": 1})]))
    assert one.count("<polygon") == 3 and "red 50.0%" in one
