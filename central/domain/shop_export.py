"""Export of the shop registry as CSV (the import's columns) or GeoJSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, Literal, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.domain.registry import CSV_COLUMNS, SCALAR_FIELDS
from central.domain.scope import EVERYWHERE, Scope
from central.orm.shops import Shop, ShopZone


def _iter_shops(session: Session, scope: Scope = EVERYWHERE) -> Iterator[tuple[Any, list[ShopZone]]]:
    """(shop row, its zones) in id order; rows are plain column tuples (no ORM objects: 250k stay cheap)."""
    zones: dict[str, list[ShopZone]] = {}
    for z in session.scalars(select(ShopZone).order_by(ShopZone.shop_id, ShopZone.id)):
        zones.setdefault(z.shop_id, []).append(z)
    rows = select(*Shop.__table__.c).where(scope.place(Shop.area, Shop.road)).order_by(Shop.id)
    for row in session.execute(rows).yield_per(5000):
        yield row, zones.get(row.id, [])


def _zone_list(zones: list[ShopZone]) -> list[dict[str, Any]]:
    return [{"camera_id": z.camera_id, "zone_id": z.zone_id, "polygon": z.polygon} for z in zones]


def export_csv(session: Session, fp: TextIO, scope: Scope = EVERYWHERE) -> int:
    writer = csv.writer(fp)
    writer.writerow(CSV_COLUMNS + ["grade"])
    n = 0
    for shop, zones in _iter_shops(session, scope):
        writer.writerow(
            [shop.id]
            + [
                ("yes" if shop.agreement_signed else "no") if k == "agreement_signed" else getattr(shop, k)
                for k in SCALAR_FIELDS
            ]
            + [
                json.dumps(shop.footprint) if shop.footprint else "",
                json.dumps(_zone_list(zones)) if zones else "",
                shop.grade or "",
            ]
        )
        n += 1
    return n


def export_geojson(session: Session, fp: TextIO, scope: Scope = EVERYWHERE) -> int:
    fp.write('{"type":"FeatureCollection","features":[')
    n = 0
    for shop, zones in _iter_shops(session, scope):
        props = {
            "id": shop.id,
            **{k: getattr(shop, k) for k in SCALAR_FIELDS},
            "zones": _zone_list(zones),
            "grade": shop.grade,
        }
        geom = {"type": "Polygon", "coordinates": [shop.footprint]} if shop.footprint else None
        fp.write(
            ("," if n else "")
            + json.dumps({"type": "Feature", "geometry": geom, "properties": props}, ensure_ascii=False)
        )
        n += 1
    fp.write("]}")
    return n


def export_text(session: Session, fmt: Literal["csv", "geojson"]) -> str:
    buf = io.StringIO()
    (export_csv if fmt == "csv" else export_geojson)(session, buf)
    return buf.getvalue()
