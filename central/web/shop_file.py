"""The operator's file on one shop: registry fields, grade history as a timeline, cases with their lead
picture, strikes, inspections done and due, complaints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from central import i18n
from central.i18n import N_
from central.orm.cases import Case, Complaint
from central.orm.grades import GradeChange, Inspection
from central.orm.shops import Shop
from central.settings import CentralSettings
from central.web.charts import GRADE_COLOURS
from central.web.render import GRADE_NAME

NOT_GRADED = N_("not graded")

TIMELINE_DAYS = 365

@dataclass
class ShopFile:
    shop: Shop
    changes: list[GradeChange]
    cases: list[Case]
    inspections: list[Inspection]
    next_inspection: datetime | None
    complaints: list[Complaint]


def shop_file(session: Session, shop: Shop, settings: CentralSettings) -> ShopFile:
    changes = list(session.scalars(select(GradeChange).where(GradeChange.shop_id == shop.id)
                                   .order_by(GradeChange.at, GradeChange.id)))
    cases = list(session.scalars(select(Case).where(Case.shop_id == shop.id)
                                 .order_by(Case.opened_at.desc()).limit(50)))
    inspections = list(session.scalars(select(Inspection).where(Inspection.shop_id == shop.id)
                                       .order_by(Inspection.at.desc()).limit(50)))
    due = None
    if shop.grade in settings.inspection_days:
        every = timedelta(days=settings.inspection_days[shop.grade])
        due = (inspections[0].at + every) if inspections else datetime.now(UTC)
    complaints = list(session.scalars(select(Complaint).where(Complaint.shop_id == shop.id)
                                      .order_by(Complaint.at.desc()).limit(50)))
    return ShopFile(shop, changes, cases, inspections, due, complaints)


def grade_timeline_svg(changes: list[GradeChange], *, now: datetime | None = None, days: int = TIMELINE_DAYS,
                       width: int = 720, height: int = 64) -> Markup:
    """A band over the last `days` days coloured by the grade the shop had, one segment per grade spell,
    each with a <title> saying the grade and since when (local time, the request's language)."""
    from central.domain.clock import as_utc

    t = i18n.current()
    now = now or datetime.now(UTC)
    start = now - timedelta(days=days)
    left, right, top, band = 8, 8, 8, 28
    w = width - left - right

    def x(at: datetime) -> float:
        return left + w * max(0.0, min(1.0, (as_utc(at) - start) / (now - start)))  # type: ignore[operator]

    spells: list[tuple[datetime, datetime, str | None, str]] = []
    grade: str | None = None
    since = start
    reason = ""
    for ch in changes:
        at = as_utc(ch.at)
        if at <= start:
            grade, reason = ch.new_grade, ch.reason
            continue
        spells.append((since, at, grade, reason))
        since, grade, reason = at, ch.new_grade, ch.reason
    spells.append((since, now, grade, reason))
    title = t.gettext("Grade over the last %(n)s days", n=days)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart timeline-chart" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for a, b, g, why in spells:
        x0, x1 = x(a), x(b)
        if x1 - x0 < 0.5:
            continue
        colour = GRADE_COLOURS.get(g or "", "#b9c1ca")
        name = t.gettext(GRADE_NAME.get(g or "") or NOT_GRADED)
        label = t.gettext("%(grade)s from %(since)s", grade=name, since=t.datetime(a))
        parts.append(f'<rect x="{x0:.1f}" y="{top}" width="{x1 - x0:.1f}" height="{band}" fill="{colour}" '
                     f'class="spell spell-{g or "none"}"><title>{escape(label)}{(" — " + escape(why)) if why else ""}'
                     f"</title></rect>")
    for frac in (0, 0.25, 0.5, 0.75, 1):
        at = start + (now - start) * frac
        anchor = "start" if frac == 0 else "end" if frac == 1 else "middle"
        parts.append(f'<text x="{left + w * frac:.1f}" y="{height - 6}" text-anchor="{anchor}" class="axis">'
                     f"{escape(t.date(at))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def registry_rows(shop: Shop) -> list[tuple[str, Any]]:
    """(label msgid, value) of every registry field an operator reads."""
    return [
        (N_("Shop id"), shop.id), (N_("Name"), shop.name), (N_("Address"), shop.address), (N_("Road"), shop.road),
        (N_("Area"), shop.area), (N_("Type"), shop.business_type), (N_("Owner"), shop.owner),
        (N_("Operator"), shop.operator), (N_("Phone"), shop.phone), (N_("Licence no."), shop.licence_no),
        (N_("Sign permit"), shop.sign_permit), (N_("Door-front agreement signed"), shop.agreement_signed),
        (N_("Coordinates"), f"{shop.lat:.6f}, {shop.lon:.6f}" if shop.lat is not None and shop.lon is not None
         else ""),
        (N_("Zones"), ", ".join(f"{z.camera_id}/{z.zone_id}" for z in shop.zones)),
    ]
