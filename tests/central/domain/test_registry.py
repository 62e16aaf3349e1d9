"""Shop registry import / export: good rows in, bad rows reported by line (CSV) or feature (GeoJSON)."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from central.domain import registry, shop_export, shop_import
from central.domain.errors import Conflict
from central.domain.shop_schema import ShopIn, ShopPatch
from central.orm.shops import Shop, ShopZone

CSV = """id,name,address,road,area,business_type,owner,phone,agreement_signed,footprint,zones
S1,Fresh Fruit,1 Main Road,Main Road,North,fruit,Wang,555,yes,"POLYGON ((121.47 31.23, 121.4701 31.23, 121.4701 31.2301, 121.47 31.2301, 121.47 31.23))",cam-1:z1
S2,Noodles,2 Main Road,Main Road,North,small restaurant,Li,556,no,"[[121.4702, 31.23], [121.4703, 31.23], [121.4703, 31.2301]]","[{""camera_id"": ""cam-1"", ""zone_id"": ""z2"", ""polygon"": [[0,0],[5,0],[5,5]]}]"
,No Id,3 Main Road,Main Road,North,,,,,,
S4,Bad Signed,4 Main Road,Main Road,North,,,,maybe,,
S5,Bad Footprint,5 Main Road,Main Road,North,,,,,"POLYGON ((500 31.2, 121 31.2, 121 31.3))",
S1,Duplicate,6 Main Road,Main Road,North,,,,,,
S7,Zone Thief,7 Main Road,Main Road,North,,,,,,cam-1:z1
S8,Hardware,8 Main Road,Main Road,North,hardware,Zhao,557,1,,cam-2:z8;cam-2:z8b
S9,Broken Zones,9 Main Road,Main Road,North,,,,,,"[{""camera_id"": ""cam-1""}]"
"""  # noqa: E501


def test_csv_import_keeps_good_rows_and_reports_bad_ones_by_line(any_session) -> None:
    session = any_session
    report = shop_import.import_shops(session, io.StringIO(CSV), fmt="csv", source="t.csv")
    session.commit()
    assert (report.rows, report.inserted, report.updated) == (9, 3, 0)
    by_line = {e.line: e.reason for e in report.errors}
    assert sorted(by_line) == [4, 5, 6, 7, 8, 10]
    assert "id" in by_line[4]
    assert "maybe" in by_line[5]
    assert "WGS84" in by_line[6]
    assert "duplicate id, first on line 2" in by_line[7]
    assert "zone listed twice, also on line 2" in by_line[8]
    assert "zone_id" in by_line[10]
    assert "line 5" in report.summary()

    s1 = session.get(Shop, "S1")
    assert s1.agreement_signed and s1.business_type == "fruit" and len(s1.footprint) == 5
    assert s1.lon == pytest.approx(121.47005) and [z.zone_id for z in s1.zones] == ["z1"]
    s8 = session.get(Shop, "S8")
    assert sorted(z.zone_id for z in s8.zones) == ["z8", "z8b"]
    assert session.get(Shop, "S2").zones[0].polygon == [[0, 0], [5, 0], [5, 5]]

    # re-import updates in place; a zone owned by another shop in the database is refused for that row
    again = "id,name,road,zones\nS2,Noodles Renamed,Main Road,cam-1:z2\nS3,New,Main Road,cam-1:z1\n"
    rep2 = shop_import.import_shops(session, io.StringIO(again), fmt="csv")
    session.commit()
    assert (rep2.inserted, rep2.updated) == (0, 1)
    assert rep2.errors[0].line == 3 and "belongs to shop S1" in rep2.errors[0].reason
    assert session.get(Shop, "S2").name == "Noodles Renamed"
    skip = shop_import.import_shops(session, io.StringIO(again), fmt="csv", on_conflict="skip")
    assert skip.skipped == 1


def test_bad_header_is_one_clear_error(session) -> None:
    with pytest.raises(ValueError, match="id and name"):
        shop_import.import_shops(session, io.StringIO("shop,title\n1,2\n"), fmt="csv")
    with pytest.raises(ValueError, match="unknown CSV columns: colour"):
        shop_import.import_shops(session, io.StringIO("id,name,colour\n1,2,3\n"), fmt="csv")


def test_geojson_import_and_round_trip(any_session, tmp_path) -> None:
    session = any_session
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[121.47, 31.23], [121.4701, 31.23], [121.4701, 31.2301], [121.47, 31.23]]],
                },
                "properties": {
                    "id": "G1",
                    "name": "Geo One",
                    "road": "Main Road",
                    "agreement_signed": True,
                    "zones": [{"camera_id": "cam-1", "zone_id": "g1"}],
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [121.47, 31.23]},
                "properties": {"id": "G2", "name": "Pointy"},
            },
            {"type": "Feature", "geometry": None, "properties": {"id": "G3", "name": "No Geometry"}},
            {"type": "Feature", "geometry": None, "properties": {"id": "G4"}},
            {"type": "Feature", "geometry": None},
        ],
    }
    path = tmp_path / "shops.geojson"
    path.write_text(json.dumps(doc))
    report = shop_import.import_file(session, path)
    session.commit()
    assert report.inserted == 2
    assert {e.line: e.reason for e in report.errors}.keys() == {2, 4, 5}
    assert "Polygon" in report.errors[0].reason and "name" in report.errors[1].reason

    # export and import into a fresh registry: same shops, same zones
    csv_text = shop_export.export_text(session, "csv")
    geo_text = shop_export.export_text(session, "geojson")
    assert json.loads(geo_text)["features"][0]["geometry"]["type"] == "Polygon"
    session.execute(ShopZone.__table__.delete())
    session.execute(Shop.__table__.delete())
    session.commit()
    rep = shop_import.import_shops(session, io.StringIO(csv_text), fmt="csv")
    assert rep.inserted == 2 and not rep.errors
    assert session.get(Shop, "G1").zones[0].zone_id == "g1"
    session.execute(ShopZone.__table__.delete())
    session.execute(Shop.__table__.delete())
    rep = shop_import.import_shops(session, io.StringIO(geo_text), fmt="geojson")
    assert rep.inserted == 2 and not rep.errors
    assert session.scalar(select(func.count()).select_from(ShopZone)) == 1


def test_create_update_and_zone_conflicts(session) -> None:
    registry.create_shop(session, ShopIn(id="A", name="A", zones=[{"camera_id": "c", "zone_id": "z"}]))
    with pytest.raises(Conflict):
        registry.create_shop(session, ShopIn(id="A", name="again"))
    with pytest.raises(Conflict, match="belongs to shop A"):
        registry.create_shop(session, ShopIn(id="B", name="B", zones=[{"camera_id": "c", "zone_id": "z"}]))
    registry.create_shop(session, ShopIn(id="B", name="B"))
    shop = registry.update_shop(
        session,
        "A",
        ShopPatch(name="A2", zones=[{"camera_id": "c", "zone_id": "z"}, {"camera_id": "c", "zone_id": "y"}]),
    )
    assert shop.name == "A2" and sorted(z.zone_id for z in shop.zones) == ["y", "z"]
    total, rows = registry.list_shops(session, q="A2")
    assert total == 1 and rows[0].id == "A"


def test_bulk_rows_read_back_like_orm_rows(any_session) -> None:
    """Imported rows (bulk path) store datetimes, JSON and booleans exactly like ORM-written rows, so SQL
    comparisons and reads treat both alike."""
    from datetime import timedelta

    from central.domain.clock import as_utc, now_utc

    s = any_session
    before = now_utc() - timedelta(seconds=5)
    registry.create_shop(s, ShopIn(id="orm", name="ORM", agreement_signed=True))
    shop_import.import_shops(s, io.StringIO("id,name,agreement_signed\nbulk,Bulk,yes\n"), fmt="csv")
    s.commit()
    found = set(s.scalars(select(Shop.id).where(Shop.created_at >= before, Shop.agreement_signed.is_(True))))
    assert found == {"orm", "bulk"}
    a, b = s.get(Shop, "orm"), s.get(Shop, "bulk")
    assert abs(as_utc(a.created_at) - as_utc(b.created_at)) < timedelta(seconds=30)
    assert a.footprint is None and b.footprint is None and b.zones == []
