"""Shop registry imports a city can use (issue 23, items 6 and 13): a re-import updates what the file
gives and keeps operator-assigned zones (replacing is explicit); Chinese Excel's encodings and .xlsx."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from central.domain import shop_import
from central.orm.shops import Shop, ShopZone

FULL = (
    "id,name,address,road,area,business_type,owner,phone,agreement_signed,zones\n"
    "S1,鲜果铺,1 Main Road,Main Road,North,水果店,王,555,yes,cam-1:z1\n"
    "S2,Noodles,2 Main Road,Main Road,North,小餐饮,Li,556,no,cam-1:z2\n"
)


def _import(session, text: str, **kw) -> shop_import.ImportReport:
    report = shop_import.import_shops(session, io.StringIO(text, newline=""), fmt="csv", **kw)
    session.flush()
    return report


def _zones(session, shop_id: str) -> set[tuple[str, str]]:
    return {(z.camera_id, z.zone_id, z.source) for z in session.scalars(select(ShopZone).where(
        ShopZone.shop_id == shop_id))}


def test_reimport_updates_what_the_file_gives(any_session) -> None:
    s = any_session
    assert _import(s, FULL).inserted == 2
    s.add(ShopZone(shop_id="S1", camera_id="cam-2", zone_id="zx", source="assigned", assigned_by="op"))
    s.flush()

    report = _import(s, "id,name,phone\nS1,鲜果铺 (new sign),999\n")
    assert (report.updated, report.errors) == (1, [])
    shop = s.get(Shop, "S1")
    s.refresh(shop)
    assert (shop.name, shop.phone, shop.address, shop.owner, shop.business_type, shop.agreement_signed) == (
        "鲜果铺 (new sign)", "999", "1 Main Road", "王", "水果店", True)
    assert _zones(s, "S1") == {("cam-1", "z1", "registry"), ("cam-2", "zx", "assigned")}

    # a zones column replaces the registry's zones, never the assigned ones (even listed again)
    _import(s, "id,name,zones\nS1,鲜果铺,cam-1:z9;cam-2:zx\n")
    assert _zones(s, "S1") == {("cam-1", "z9", "registry"), ("cam-2", "zx", "assigned")}

    # replacing the whole record is explicit
    report = _import(s, "id,name\nS1,Only a name\n", on_conflict="replace")
    shop = s.get(Shop, "S1")
    s.refresh(shop)
    assert report.updated == 1 and (shop.name, shop.address, shop.owner) == ("Only a name", "", "")
    assert _zones(s, "S1") == set()
    s2 = s.get(Shop, "S2")
    s.refresh(s2)
    assert s2.owner == "Li" and _zones(s, "S2") == {("cam-1", "z2", "registry")}


def test_chinese_excel_encodings_are_detected(any_session) -> None:
    s = any_session
    gb = FULL.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        gb.decode("utf-8")
    report = shop_import.import_shops(s, gb, fmt="csv")
    assert report.inserted == 2 and s.get(Shop, "S1").name == "鲜果铺" and s.get(Shop, "S2").business_type == "小餐饮"
    bom = ("\ufeff" + FULL.replace("S1", "S3").replace("S2", "S4").replace("z1", "z3").replace("z2", "z4"))
    assert shop_import.import_shops(s, bom.encode("utf-8"), fmt="csv").inserted == 2
    assert s.get(Shop, "S3").name == "鲜果铺"


def test_an_unreadable_line_is_reported_by_number() -> None:
    data = FULL.encode("utf-8") + "S5,坏,x\n".encode("gb18030")
    with pytest.raises(ValueError, match="line 4 is not valid utf-8"):
        shop_import.decode_text(data, "utf-8")
    with pytest.raises(ValueError, match="unknown encoding"):
        shop_import.decode_text(data, "no-such-codec")
    assert "坏" in shop_import.decode_text(FULL.encode("gb18030") + "S5,坏,x\n".encode("gb18030"))


def test_xlsx_imports_directly(any_session, tmp_path) -> None:
    from openpyxl import Workbook

    session = any_session
    book = Workbook()
    sheet = book.active
    sheet.append(["id", "name", "address", "business_type", "phone", "zones"])
    sheet.append(["X1", "五金店一号", "9 号", "五金店", 13800000000, "cam-9:z1"])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["", "无编号", "", "", "", ""])
    path = tmp_path / "shops.xlsx"
    book.save(path)
    report = shop_import.import_file(session, path)
    assert report.inserted == 1 and [e.line for e in report.errors] == [4]
    shop = session.get(Shop, "X1")
    assert (shop.name, shop.phone, shop.business_type) == ("五金店一号", "13800000000", "五金店")
    assert _zones(session, "X1") == {("cam-9", "z1", "registry")}
    bad = tmp_path / "not.xlsx"
    bad.write_bytes(b"id,name\n")
    with pytest.raises(ValueError, match="not a readable .xlsx"):
        shop_import.import_file(session, bad)
