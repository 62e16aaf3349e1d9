"""Inline SVG charts rendered on the server (no chart library, no JavaScript)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from html import escape

from markupsafe import Markup

GRADE_COLOURS = {"green": "#2e8540", "yellow": "#e0a800", "red": "#c62828"}
STACK = ("green", "yellow", "red")  # bottom to top


def share_series(rows: Iterable[Mapping]) -> list[tuple[date, dict[str, int]]]:
    """`central.domain.stats.grade_distribution_over_time` rows as chart input; [] when nothing is graded."""
    series = [(date.fromisoformat(r["day"]), {g: int(r.get(g, 0)) for g in STACK}) for r in rows]
    return series if any(c[g] for _, c in series for g in STACK) else []


def grade_share_svg(series: Sequence[tuple[date, dict[str, int]]], *, width: int = 720, height: int = 260
                    ) -> Markup:
    """A stacked area chart of each grade's share of graded shops per day, with a <title> and <desc> so
    screen readers get the numbers of the last day."""
    left, right, top, bottom = 44, 12, 12, 28
    w, h = width - left - right, height - top - bottom
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="gs-title gs-desc" class="chart">',
        '<title id="gs-title">Share of shops per grade over time</title>',
    ]
    if not series:
        parts.append('<desc id="gs-desc">No grades recorded yet.</desc>')
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">'
                     'no grades yet</text></svg>')
        return Markup("".join(parts))
    last_day, last = series[-1]
    total_last = sum(last.get(g, 0) for g in STACK) or 1
    desc = ", ".join(f"{g} {100 * last.get(g, 0) / total_last:.1f}%" for g in reversed(STACK))
    parts.append(f'<desc id="gs-desc">On {last_day.isoformat()}: {escape(desc)}.</desc>')

    n = len(series)

    def x(i: int) -> float:
        return left + (w * i / (n - 1) if n > 1 else w / 2)

    def y(frac: float) -> float:
        return top + h * (1 - frac)

    for pct in (0, 25, 50, 75, 100):
        yy = y(pct / 100)
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" class="axis">{pct}%</text>')
    fracs: list[list[float]] = []
    for _, counts in series:
        total = sum(counts.get(g, 0) for g in STACK)
        fracs.append([counts.get(g, 0) / total if total else 0.0 for g in STACK])
    lower = [0.0] * n
    for k, grade in enumerate(STACK):
        upper = [lower[i] + fracs[i][k] for i in range(n)]
        xs = [x(i) for i in range(n)] if n > 1 else [left, left + w]
        up = upper if n > 1 else upper * 2
        lo = lower if n > 1 else lower * 2
        pts = [f"{xx:.1f},{y(v):.1f}" for xx, v in zip(xs, up, strict=True)]
        pts += [f"{xx:.1f},{y(v):.1f}" for xx, v in zip(reversed(xs), reversed(lo), strict=True)]
        parts.append(f'<polygon points="{" ".join(pts)}" fill="{GRADE_COLOURS[grade]}" class="area-{grade}">'
                     f'<title>{grade}</title></polygon>')
        lower = upper
    step = max(1, n // 6)
    for i in range(0, n, step):
        parts.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle" class="axis">'
                     f'{series[i][0].strftime("%m-%d")}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
