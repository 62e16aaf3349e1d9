"""Where an operator works: a district (`Shop.area`) and/or a street (`Shop.road`) of the shop registry.

An account with `scope_area` / `scope_road` (viewer, officer, reviewer) sees and acts only on the shops of
its area, and on what hangs off them: cases, officer tasks, notices, inspections, grade changes, events
(through their case, or through the cameras watching the area's shops), hot spots and road grades (their own
area / road columns), statistics and map items. Admins and accounts without a scope see everything.

One value, `Scope`, is taken from the user once (the API's `ScopeDep`, the console's `console_scope`) and
handed to the domain's queries and writes, which filter with it; a row out of scope is "not found", so a
scoped account learns nothing of other areas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, true
from sqlalchemy.orm import Session

from central.domain.errors import NotFound
from central.orm.cases import Case, CaseEvent
from central.orm.shops import Shop, ShopZone

S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True)
class Scope:
    area: str | None = None
    road: str | None = None

    @classmethod
    def of(cls, user: Any) -> Scope:
        """The user's scope; admins (and accounts without one) work everywhere."""
        if user is None or getattr(user, "role", None) == "admin":
            return EVERYWHERE
        return cls(getattr(user, "scope_area", None) or None, getattr(user, "scope_road", None) or None)

    @property
    def everywhere(self) -> bool:
        return not self.area and not self.road

    # ---- places (rows with their own area / road columns: shops, hot spots, road grades)

    def place(self, area_col: Any, road_col: Any) -> ColumnElement[bool]:
        """SQL: the row's area / road columns are in scope."""
        conds = []
        if self.area:
            conds.append(area_col == self.area)
        if self.road:
            conds.append(road_col == self.road)
        return and_(*conds) if conds else true()

    def covers(self, shop: Shop | None) -> bool:
        return shop is not None and self.covers_place(shop.area, shop.road)

    def covers_place(self, area: str | None, road: str | None) -> bool:
        return (not self.area or area == self.area) and (not self.road or road == self.road)

    # ---- rows that name a shop

    def shop_ids(self) -> Select[Any]:
        return select(Shop.id).where(self.place(Shop.area, Shop.road))

    def by_shop(self, shop_id_col: Any) -> ColumnElement[bool]:
        """SQL: the row's shop (by its shop id column) is in scope."""
        return true() if self.everywhere else shop_id_col.in_(self.shop_ids())

    def filter(self, stmt: S, shop_id_col: Any) -> S:
        return stmt if self.everywhere else stmt.where(shop_id_col.in_(self.shop_ids()))

    def cameras(self) -> Select[Any]:
        """Camera ids watching at least one shop in scope."""
        return select(ShopZone.camera_id).join(Shop, Shop.id == ShopZone.shop_id).where(
            self.place(Shop.area, Shop.road))

    def by_camera(self, camera_id_col: Any, shop_id_col: Any) -> ColumnElement[bool]:
        """SQL: a row with no matched shop yet (an ownerless event) is in scope through its camera, or the shop
        the edge reported."""
        if self.everywhere:
            return true()
        return or_(camera_id_col.in_(self.cameras()), shop_id_col.in_(self.shop_ids()))

    def by_event(self, event_id_col: Any, camera_id_col: Any) -> ColumnElement[bool]:
        """SQL: an episode is in scope through the case it went to, or, while it has none, through its camera."""
        if self.everywhere:
            return true()
        in_case = select(CaseEvent.event_id).join(Case, Case.id == CaseEvent.case_id).where(
            Case.shop_id.in_(self.shop_ids()))
        has_case = exists().where(CaseEvent.event_id == event_id_col)
        return or_(event_id_col.in_(in_case), and_(~has_case, camera_id_col.in_(self.cameras())))

    # ---- single rows: absent and out of scope look the same

    def shop(self, session: Session, shop_id: str) -> Shop:
        shop = session.get(Shop, shop_id)
        if shop is None or not self.covers(shop):
            raise NotFound(f"no shop {shop_id!r}" + ("" if self.everywhere else " in your area"))
        return shop

    def check_shop_id(self, session: Session, shop_id: str | None, what: str) -> None:
        """NotFound naming `what` when the row's shop is out of scope."""
        if not self.everywhere and not self.covers(session.get(Shop, shop_id) if shop_id else None):
            raise NotFound(f"no {what}")


EVERYWHERE = Scope()
