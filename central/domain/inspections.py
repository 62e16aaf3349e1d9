"""Inspections: record an officer's checklist visit, and the due list (who must be visited on a day).

Frequency per grade comes from settings.inspection_days (default red 1, yellow 7, green 30 days). A shop is
due on `day` when it was never inspected or its last inspection is at least that many days before `day`.
Days are local days (settings.timezone): a red shop inspected at 07:00 Beijing time is done for that day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.domain import audit, checklist, grades
from central.domain.clock import as_utc, local_day, now_utc
from central.domain.errors import DomainError
from central.domain.scope import EVERYWHERE, Scope
from central.orm.grades import Inspection
from central.orm.shops import Shop
from central.settings import CentralSettings

CHECKLIST = checklist.CATEGORIES


def checklist_result(waste: float, sanitation: float, advertising: float, settings: CentralSettings | None = None
                     ) -> str:
    menu = checklist.load(settings.inspection_checklist_file if settings else None)
    return grades.GRADES[int(menu.faces(np.array([[waste, sanitation, advertising]], dtype=float))[0])]


def record_inspection(
    session: Session,
    shop_id: str,
    *,
    inspector: str,
    waste: float | None = None,
    sanitation: float | None = None,
    advertising: float | None = None,
    items: dict[str, bool | float] | None = None,
    photos: list[str] | None = None,
    notes: str = "",
    at: datetime | None = None,
    now: datetime | None = None,
    settings: CentralSettings,
    scope: Scope = EVERYWHERE,
) -> Inspection:
    """Store a checklist visit made `at` (default now): either every checklist item marked (`items`, see
    central/rules/inspection_checklist.yaml) or the three category scores. The shop is regraded as of now,
    not as of `at`: a back-dated entry never overrides a later inspection (the latest by date decides)."""
    if items is not None:
        if (waste, sanitation, advertising) != (None, None, None):
            raise DomainError("give either the checklist items or the three category scores, not both")
        try:
            waste, sanitation, advertising = checklist.load(settings.inspection_checklist_file).scores(items)
        except ValueError as exc:
            raise DomainError(str(exc)) from None
    if waste is None or sanitation is None or advertising is None:
        raise DomainError("an inspection needs the checklist items or all three category scores")
    for name, v in zip(CHECKLIST, (waste, sanitation, advertising), strict=True):
        if not 0 <= v <= 100:
            raise DomainError(f"{name} score {v} is outside 0–100")
    scope.shop(session, shop_id)
    now = as_utc(now) or now_utc()
    at = as_utc(at) or now
    menu_items = checklist.load(settings.inspection_checklist_file).items() if items is not None else {}
    ins = Inspection(
        shop_id=shop_id,
        at=at,
        inspector=inspector,
        waste=waste,
        sanitation=sanitation,
        advertising=advertising,
        result=checklist_result(waste, sanitation, advertising, settings),
        notes=notes,
        items={k: float(menu_items[k].points if v is True else 0.0 if v is False else v) for k, v in items.items()}
        if items is not None else None,
        photos=list(photos or []),
    )
    session.add(ins)
    session.flush()
    audit.record(
        session,
        actor=inspector,
        action="shop.inspection",
        shop_id=shop_id,
        at=at,
        details={
            "inspection_id": ins.id,
            "waste": waste,
            "sanitation": sanitation,
            "advertising": advertising,
            "result": ins.result,
            "items": ins.items,
        },
        evidence=list(photos or []),
    )
    if settings.grade_rules == "inspection_score":
        grades.regrade_shops(session, [shop_id], now=max(now, at), settings=settings, reason_prefix="inspection")
    return ins


def natural_key(text: str) -> tuple:
    """Sort key with numbers compared as numbers: 2号 before 10号, "No. 9" before "No. 12"."""
    return tuple((0, int(part), "") if part.isascii() and part.isdigit() else (1, 0, part.casefold())
                 for part in re.split(r"([0-9]+)", text or "") if part)


@dataclass(frozen=True)
class DueItem:
    shop_id: str
    name: str
    address: str
    road: str
    area: str
    grade: str
    last_inspected: datetime | None
    interval_days: int
    overdue_days: int | None  # None when never inspected


def due_list(
    session: Session,
    day: date,
    *,
    settings: CentralSettings,
    road: str | None = None,
    area: str | None = None,
    order: Literal["route", "priority"] = "route",
    limit: int | None = None,
    scope: Scope = EVERYWHERE,
) -> list[DueItem]:
    """Shops to visit on `day`. route: by area, road, address; priority: red first, most overdue first."""
    last = select(Inspection.shop_id, func.max(Inspection.at).label("last")).group_by(Inspection.shop_id).subquery()
    stmt = select(Shop.id, Shop.name, Shop.address, Shop.road, Shop.area, Shop.grade, last.c.last).outerjoin(
        last, last.c.shop_id == Shop.id
    ).where(scope.place(Shop.area, Shop.road))
    if road:
        stmt = stmt.where(Shop.road == road)
    if area:
        stmt = stmt.where(Shop.area == area)
    interval = settings.inspection_days
    items: list[DueItem] = []
    for sid, name, address, rd, ar, grade, last_at in session.execute(stmt):
        g = grade if grade in grades.GRADES else "green"
        days = int(interval.get(g, 30))
        last_at = as_utc(last_at)
        if last_at is not None:
            since = (day - local_day(last_at, settings.timezone)).days
            if since < days:
                continue
            overdue: int | None = since - days
        else:
            overdue = None
        items.append(DueItem(sid, name, address, rd, ar, g, last_at, days, overdue))
    if order == "priority":
        items.sort(
            key=lambda d: (
                -grades.CODE[d.grade],
                -(d.overdue_days if d.overdue_days is not None else 10**6),
                natural_key(d.area),
                natural_key(d.road),
                natural_key(d.address),
                d.shop_id,
            )
        )
    else:
        items.sort(key=lambda d: (natural_key(d.area), natural_key(d.road), natural_key(d.address), d.shop_id))
    return items[:limit] if limit else items


def inspections_of(session: Session, shop_id: str, limit: int = 50) -> list[Inspection]:
    return list(
        session.scalars(
            select(Inspection).where(Inspection.shop_id == shop_id).order_by(Inspection.at.desc()).limit(limit)
        )
    )
