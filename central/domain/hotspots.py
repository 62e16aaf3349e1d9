"""Hot spots and road grades.

An address with `settings.hotspot_tickets` (default 5) or more tickets (cases neither dismissed nor annulled,
opened in the strike window) becomes a hot spot; it stays one until the address has no open case, then it is cleared.
A road is red when it has an active hot spot or ≥10% red shops, yellow when it has any red shop or ≥20%
yellow shops, green otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.domain.clock import as_utc, now_utc
from central.domain.scope import EVERYWHERE, Scope
from central.orm.cases import Case
from central.orm.grades import HotSpot
from central.orm.shops import Shop
from central.settings import CentralSettings

ROAD_RED_SHARE = 0.10
ROAD_YELLOW_SHARE = 0.20


def address_tickets(session: Session, now: datetime, settings: CentralSettings) -> dict[str, tuple[int, int, str, str]]:
    """address → (tickets in the window, open cases, road, area)."""
    since = now - timedelta(days=settings.strike_window_days)
    stmt = (
        select(
            Shop.address,
            func.count(Case.id),
            func.sum(sql_case((Case.is_open.is_(True), 1), else_=0)),
            func.min(Shop.road),
            func.min(Shop.area),
        )
        .join(Shop, Shop.id == Case.shop_id)
        .where(Case.state.not_in(("dismissed", "annulled")), Case.opened_at >= since, Shop.address != "")
        .group_by(Shop.address)
    )
    return {a: (int(n), int(o or 0), r, ar) for a, n, o, r, ar in session.execute(stmt)}


def refresh_hotspots(session: Session, *, now: datetime | None = None, settings: CentralSettings) -> tuple[int, int]:
    """Open new hot spots and clear finished ones. Returns (opened, cleared)."""
    now = as_utc(now) or now_utc()
    stats = address_tickets(session, now, settings)
    active = {h.address: h for h in session.scalars(select(HotSpot).where(HotSpot.cleared_at.is_(None)))}
    opened = cleared = 0
    for address, (tickets, open_n, road, area) in stats.items():
        spot = active.get(address)
        if spot is None and tickets >= settings.hotspot_tickets and open_n > 0:
            session.add(HotSpot(address=address, road=road, area=area, since=now, tickets=tickets, open_cases=open_n))
            opened += 1
        elif spot is not None:
            spot.tickets, spot.open_cases = tickets, open_n
    for address, spot in active.items():
        if stats.get(address, (0, 0, "", ""))[1] == 0:
            spot.cleared_at, spot.open_cases = now, 0
            cleared += 1
    session.flush()
    return opened, cleared


def hotspots(session: Session, *, active_only: bool = True, scope: Scope = EVERYWHERE) -> list[HotSpot]:
    stmt = select(HotSpot).where(scope.place(HotSpot.area, HotSpot.road)).order_by(HotSpot.since.desc())
    if active_only:
        stmt = stmt.where(HotSpot.cleared_at.is_(None))
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class RoadGrade:
    road: str
    area: str
    shops: int
    red: int
    yellow: int
    green: int
    hot_spots: int
    grade: str


def road_grades(session: Session, *, area: str | None = None, scope: Scope = EVERYWHERE) -> list[RoadGrade]:
    def n(g: str):
        return func.sum(sql_case((Shop.grade == g, 1), else_=0))

    stmt = (
        select(Shop.road, func.min(Shop.area), func.count(), n("red"), n("yellow"), n("green"))
        .where(Shop.road != "", scope.place(Shop.area, Shop.road))
        .group_by(Shop.road)
    )
    if area:
        stmt = stmt.where(Shop.area == area)
    spots = dict(
        session.execute(
            select(HotSpot.road, func.count()).where(HotSpot.cleared_at.is_(None),
                                                     scope.place(HotSpot.area, HotSpot.road)).group_by(HotSpot.road)
        ).all()
    )
    out = []
    for road, ar, total, red, yellow, green in session.execute(stmt):
        red, yellow, green, hs = int(red or 0), int(yellow or 0), int(green or 0), int(spots.get(road, 0))
        if hs or (red and red >= ROAD_RED_SHARE * total):
            grade = "red"
        elif red or (yellow and yellow >= ROAD_YELLOW_SHARE * total):
            grade = "yellow"
        else:
            grade = "green"
        out.append(RoadGrade(road, ar, int(total), red, yellow, green, hs, grade))
    order = {"red": 0, "yellow": 1, "green": 2}
    out.sort(key=lambda r: (order[r.grade], -r.hot_spots, -r.red, r.road))
    return out
