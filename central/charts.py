"""Inline SVG charts rendered on the server (no chart library, no JavaScript).

Every word and number in a chart goes through the current translator (`central.i18n.current()`: the
request's language and time zone), so titles, legends and axes are Chinese under zh-CN; the caller sets it
with `i18n.use(...)`. Days are local days (the statistics bucket by `settings.timezone`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

from central import i18n
from central.i18n import N_

GRADE_COLOURS = {"green": "#2e8540", "yellow": "#e0a800", "red": "#c62828"}
STACK = ("green", "yellow", "red")  # bottom to top
GRADE_NAMES = {"red": N_("red"), "yellow": N_("yellow"), "green": N_("green")}
VIOLATION_COLOURS = {"cross_door_trading": "#1f5fa8", "piled_goods": "#b5651d"}
VIOLATION_STACK = ("cross_door_trading", "piled_goods")
VIOLATION_NAMES = {"cross_door_trading": N_("Cross-door trading"), "piled_goods": N_("Piled goods")}
RATE_COLOUR = "#2e8540"


def share_series(rows: Iterable[Mapping]) -> list[tuple[date, dict[str, int]]]:
    """`central.domain.stats.grade_distribution_over_time` rows as chart input; [] when nothing is graded."""
    series = [(date.fromisoformat(r["day"]), {g: int(r.get(g, 0)) for g in STACK}) for r in rows]
    return series if any(c[g] for _, c in series for g in STACK) else []


def _open(width: int, height: int, ident: str, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{ident}-title {ident}-desc" class="chart" id="{ident}">',
            f'<title id="{ident}-title">{escape(title)}</title>']


def _empty(parts: list[str], ident: str, width: int, height: int, desc: str, text: str) -> Markup:
    parts.append(f'<desc id="{ident}-desc">{escape(desc)}</desc>')
    parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">{escape(text)}</text>'
                 "</svg>")
    return Markup("".join(parts))


def _day_ticks(days: Sequence[date], x: Callable[[int], float], y: float, most: int = 7) -> list[str]:
    """Date labels (month and day, the language's way) under at most `most` evenly spaced days."""
    t = i18n.current()
    step = max(1, -(-len(days) // most))
    return [f'<text x="{x(i):.1f}" y="{y:.1f}" text-anchor="middle" class="axis">{escape(t.date(days[i], "Md"))}'
            "</text>" for i in range(0, len(days), step)]


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    """Coloured keys with their names, left to right from (x, y); names are already translated."""
    out, at = [], x
    for colour, name in items:
        out.append(f'<rect x="{at:.1f}" y="{y - 9:.1f}" width="10" height="10" rx="2" fill="{colour}"/>'
                   f'<text x="{at + 14:.1f}" y="{y:.1f}" class="legend-text">{escape(name)}</text>')
        at += 14 + 13 * max(len(name), 2) * (0.55 if name.isascii() else 1.0) + 16
    return out


def nice_top(value: int) -> tuple[int, int]:
    """(top of the y axis, tick step) for counts up to `value`: 1, 2 or 5 times a power of ten, ≤ 5 steps."""
    if value <= 0:
        return 1, 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if value <= 5 * step * m:
                s = step * m
                return -(-value // s) * s, s
        step *= 10


def grade_share_svg(series: Sequence[tuple[date, dict[str, int]]], *, width: int = 720, height: int = 260
                    ) -> Markup:
    """A stacked area chart of each grade's share of graded shops per day, with a <title> and <desc> so
    screen readers get the numbers of the last day."""
    t = i18n.current()
    left, right, top, bottom = 44, 12, 12, 28
    w, h = width - left - right, height - top - bottom
    parts = _open(width, height, "gs", t.gettext("Share of shops per grade over time"))
    if not series:
        return _empty(parts, "gs", width, height, t.gettext("No grades recorded yet."), t.gettext("no grades yet"))
    last_day, last = series[-1]
    total_last = sum(last.get(g, 0) for g in STACK) or 1
    shares = t.gettext(", ").join(t.gettext("%(grade)s %(share)s", grade=t.gettext(GRADE_NAMES[g]),
                                            share=t.percent(last.get(g, 0) / total_last))
                                  for g in reversed(STACK))
    desc = t.gettext("On %(day)s: %(shares)s.", day=t.date(last_day), shares=shares)
    parts.append(f'<desc id="gs-desc">{escape(desc)}</desc>')

    n = len(series)

    def x(i: int) -> float:
        return left + (w * i / (n - 1) if n > 1 else w / 2)

    def y(frac: float) -> float:
        return top + h * (1 - frac)

    for pct in (0, 25, 50, 75, 100):
        yy = y(pct / 100)
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" class="axis">'
                     f'{escape(t.percent(pct / 100, "#,##0%"))}</text>')
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
                     f'<title>{escape(t.gettext(GRADE_NAMES[grade]))}</title></polygon>')
        lower = upper
    parts += _day_ticks([d for d, _ in series], x, height - 8)
    parts.append("</svg>")
    return Markup("".join(parts))


def violations_svg(rows: Sequence[Mapping], *, width: int = 720, height: int = 280) -> Markup:
    """Cases opened per day as stacked bars, cross-door trading below piled goods, from
    `central.domain.stats.violations_per_day` rows; a legend above, counts on the left."""
    t = i18n.current()
    left, right, top, bottom = 44, 12, 30, 28
    w, h = width - left - right, height - top - bottom
    parts = _open(width, height, "vd", t.gettext("Violations per day by type"))
    total = sum(int(r.get(v, 0)) for r in rows for v in VIOLATION_STACK)
    if not rows or not total:
        return _empty(parts, "vd", width, height, t.gettext("No violations in this period."),
                      t.gettext("no violations in this period"))
    sums = t.gettext(", ").join(t.gettext("%(violation)s %(n)s", violation=t.gettext(VIOLATION_NAMES[v]),
                                          n=t.number(sum(int(r.get(v, 0)) for r in rows)))
                                for v in VIOLATION_STACK)
    desc = t.gettext("From %(start)s to %(end)s: %(sums)s.", start=t.date(date.fromisoformat(rows[0]["day"])),
                     end=t.date(date.fromisoformat(rows[-1]["day"])), sums=sums)
    parts.append(f'<desc id="vd-desc">{escape(desc)}</desc>')
    parts += _legend([(VIOLATION_COLOURS[v], t.gettext(VIOLATION_NAMES[v])) for v in VIOLATION_STACK], left, 14)
    peak = max(sum(int(r.get(v, 0)) for v in VIOLATION_STACK) for r in rows)
    ymax, step = nice_top(peak)
    n = len(rows)
    band = w / n

    def x(i: int) -> float:
        return left + band * (i + 0.5)

    def y(v: float) -> float:
        return top + h * (1 - v / ymax)

    for v in range(0, ymax + 1, step):
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" class="axis">{escape(t.number(v))}'
                     "</text>")
    bar = max(1.0, band * 0.72)
    for i, r in enumerate(rows):
        base = 0
        day = t.date(date.fromisoformat(r["day"]))
        for v in VIOLATION_STACK:
            k = int(r.get(v, 0))
            if k:
                label = t.gettext("%(day)s: %(violation)s %(n)s", day=day, violation=t.gettext(VIOLATION_NAMES[v]),
                                  n=t.number(k))
                parts.append(f'<rect x="{x(i) - bar / 2:.1f}" y="{y(base + k):.1f}" width="{bar:.1f}" '
                             f'height="{y(base) - y(base + k):.1f}" fill="{VIOLATION_COLOURS[v]}" class="bar-{v}" '
                             f'data-day="{r["day"]}" data-n="{k}"><title>{escape(label)}</title></rect>')
            base += k
    parts += _day_ticks([date.fromisoformat(r["day"]) for r in rows], x, height - 8)
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class RateBucket:
    """One bar of the self-rectification chart: a run of local days and the domain's counts for it
    (`central.domain.stats.self_rectification_rate`)."""

    start: date
    end: date
    decided: int
    self_rectified: int

    @property
    def rate(self) -> float | None:
        return self.self_rectified / self.decided if self.decided else None


def self_rectification_svg(buckets: Sequence[RateBucket], *, width: int = 720, height: int = 240) -> Markup:
    """The share of decided cases the shop fixed itself, one bar per bucket (a week); a bucket with no
    decided case has no bar, only a dash, so "nothing decided" never reads as 0 %."""
    t = i18n.current()
    left, right, top, bottom = 44, 12, 16, 28
    w, h = width - left - right, height - top - bottom
    parts = _open(width, height, "sr", t.gettext("Self-rectified share of decided cases, per week"))
    if not any(b.decided for b in buckets):
        return _empty(parts, "sr", width, height, t.gettext("No case was decided in this period."),
                      t.gettext("no decided cases in this period"))
    decided = sum(b.decided for b in buckets)
    fixed = sum(b.self_rectified for b in buckets)
    desc = t.gettext("%(fixed)s of %(decided)s decided cases self-rectified (%(rate)s).", fixed=t.number(fixed),
                     decided=t.number(decided), rate=t.percent(fixed / decided))
    parts.append(f'<desc id="sr-desc">{escape(desc)}</desc>')
    n = len(buckets)
    band = w / n

    def x(i: int) -> float:
        return left + band * (i + 0.5)

    def y(frac: float) -> float:
        return top + h * (1 - frac)

    for pct in (0, 25, 50, 75, 100):
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y(pct / 100):.1f}" y2="{y(pct / 100):.1f}" '
                     f'class="grid"/><text x="{left - 6}" y="{y(pct / 100) + 4:.1f}" text-anchor="end" '
                     f'class="axis">{escape(t.percent(pct / 100, "#,##0%"))}</text>')
    bar = max(1.0, band * 0.6)
    for i, b in enumerate(buckets):
        span = t.gettext("%(start)s – %(end)s", start=t.date(b.start), end=t.date(b.end))
        if b.rate is None:
            label = t.gettext("%(span)s: no decided cases", span=span)
            parts.append(f'<text x="{x(i):.1f}" y="{y(0) - 4:.1f}" text-anchor="middle" class="axis none">—'
                         f"<title>{escape(label)}</title></text>")
            continue
        label = t.gettext("%(span)s: %(fixed)s of %(decided)s self-rectified (%(rate)s)", span=span,
                          fixed=t.number(b.self_rectified), decided=t.number(b.decided), rate=t.percent(b.rate))
        parts.append(f'<rect x="{x(i) - bar / 2:.1f}" y="{y(b.rate):.1f}" width="{bar:.1f}" '
                     f'height="{y(0) - y(b.rate):.1f}" fill="{RATE_COLOUR}" class="bar-rate" '
                     f'data-start="{b.start.isoformat()}" data-rate="{b.rate:.4f}">'
                     f"<title>{escape(label)}</title></rect>")
        if band >= 36:
            parts.append(f'<text x="{x(i):.1f}" y="{y(b.rate) - 4:.1f}" text-anchor="middle" class="axis value">'
                         f"{escape(t.percent(b.rate, '#,##0%'))}</text>")
    parts += _day_ticks([b.start for b in buckets], x, height - 8)
    parts.append("</svg>")
    return Markup("".join(parts))
