"""The shop registry: create, update and read one shop and its zones. Bulk import is `shop_import`, export
`shop_export`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from central.domain import audit
from central.domain.errors import Conflict
from central.domain.scope import EVERYWHERE, Scope
from central.domain.shop_schema import ShopIn, ShopPatch, ZoneIn
from central.orm.shops import Shop, ShopZone

CSV_COLUMNS = [
    "id",
    "name",
    "address",
    "road",
    "area",
    "business_type",
    "owner",
    "operator",
    "phone",
    "licence_no",
    "photo",
    "agreement_signed",
    "sign_permit",
    "footprint",
    "zones",
]
SCALAR_FIELDS = [
    "name",
    "address",
    "road",
    "area",
    "business_type",
    "owner",
    "operator",
    "phone",
    "licence_no",
    "photo",
    "agreement_signed",
    "sign_permit",
]


# ---------------------------------------------------------------- single shops


def _centroid(footprint: list[list[float]] | None) -> tuple[float | None, float | None]:
    if not footprint:
        return None, None
    pts = footprint[:-1] if footprint[0] == footprint[-1] else footprint
    return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))


def shop_row(shop: ShopIn) -> dict[str, Any]:
    row = {k: getattr(shop, k) for k in SCALAR_FIELDS}
    row["id"] = shop.id
    row["footprint"] = shop.footprint
    row["lon"], row["lat"] = _centroid(shop.footprint)
    return row


def _check_zones_free(session: Session, shop_id: str, zones: Iterable[ZoneIn]) -> None:
    pairs = [(z.camera_id, z.zone_id) for z in zones]
    if len(set(pairs)) != len(pairs):
        raise Conflict("the same camera zone is listed twice")
    if not pairs:
        return
    taken = session.execute(
        select(ShopZone.camera_id, ShopZone.zone_id, ShopZone.shop_id)
        .where(tuple_(ShopZone.camera_id, ShopZone.zone_id).in_(pairs))
        .where(ShopZone.shop_id != shop_id)
    ).first()
    if taken is not None:
        raise Conflict(f"zone {taken.camera_id}/{taken.zone_id} already belongs to shop {taken.shop_id}")


def get_shop(session: Session, shop_id: str, scope: Scope = EVERYWHERE) -> Shop:
    return scope.shop(session, shop_id)


def create_shop(session: Session, data: ShopIn, *, actor: str = "system") -> Shop:
    if session.get(Shop, data.id) is not None:
        raise Conflict(f"shop {data.id!r} already exists")
    _check_zones_free(session, data.id, data.zones)
    shop = Shop(**shop_row(data))
    shop.zones = [ShopZone(camera_id=z.camera_id, zone_id=z.zone_id, polygon=z.polygon) for z in data.zones]
    session.add(shop)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="shop.create",
        shop_id=shop.id,
        details={"name": shop.name, "zones": [f"{z.camera_id}/{z.zone_id}" for z in data.zones]},
    )
    return shop


def update_shop(session: Session, shop_id: str, patch: ShopPatch, *, actor: str = "system") -> Shop:
    shop = get_shop(session, shop_id)
    changes = patch.model_dump(exclude_unset=True)
    zones = changes.pop("zones", None)
    for k, v in changes.items():
        setattr(shop, k, v)
    if "footprint" in changes:
        shop.lon, shop.lat = _centroid(shop.footprint)
    if zones is not None:
        new = [ZoneIn(**z) for z in zones]
        _check_zones_free(session, shop_id, new)
        new_pairs = {(n.camera_id, n.zone_id) for n in new}
        for z in list(shop.zones):
            if z.source == "registry" or (z.camera_id, z.zone_id) in new_pairs:
                shop.zones.remove(z)
        session.flush()  # deletes before inserts: the same camera zone may come back
        shop.zones.extend(ShopZone(camera_id=z.camera_id, zone_id=z.zone_id, polygon=z.polygon) for z in new)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="shop.update",
        shop_id=shop_id,
        details={"fields": sorted(changes) + (["zones"] if zones is not None else [])},
    )
    return shop


def list_shops(
    session: Session,
    *,
    road: str | None = None,
    area: str | None = None,
    grade: str | None = None,
    q: str | None = None,
    limit: int = 100,
    offset: int = 0,
    scope: Scope = EVERYWHERE,
) -> tuple[int, list[Shop]]:
    stmt = select(Shop).where(scope.place(Shop.area, Shop.road))
    if road:
        stmt = stmt.where(Shop.road == road)
    if area:
        stmt = stmt.where(Shop.area == area)
    if grade:
        stmt = stmt.where(Shop.grade == grade)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(Shop.name.ilike(like) | Shop.address.ilike(like) | Shop.id.ilike(like))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = stmt.order_by(Shop.area, Shop.road, Shop.address, Shop.id).limit(limit).offset(offset)
    rows = session.scalars(stmt)
    return total, list(rows)


def registry_stamp(session: Session) -> str:
    """Changes whenever a shop is added or edited (every write sets `updated_at`; the registry has no
    delete); caches of the registry key on it. One index lookup, so it is cheap to ask per event."""
    return str(session.scalar(select(func.max(Shop.updated_at))))


# ---------------------------------------------------------------- import

