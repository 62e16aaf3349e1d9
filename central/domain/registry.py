"""The shop registry: create / update / read shops and their zones, bulk import and export (CSV, GeoJSON).

Import keeps every good row and reports every bad one with its line (CSV) or feature number (GeoJSON) and
the reason. Rows are validated one by one, then written in chunks with bulk INSERT / UPDATE statements, so
250,000 shops go in well under a minute on SQLite.

CSV columns (header required, order free; only `id` and `name` mandatory):
  id, name, address, road, area, business_type, owner, operator, phone, licence_no, photo,
  agreement_signed (yes/no/true/false/1/0), sign_permit,
  footprint  — WKT `POLYGON ((lon lat, ...))` or JSON `[[lon, lat], ...]`, empty for none,
  zones      — JSON `[{"camera_id": .., "zone_id": .., "polygon": [[x, y], ..]}]` or `cam:zone;cam:zone`.
GeoJSON: a FeatureCollection whose features carry a Polygon footprint (or null geometry) and the same
properties (zones as a list). Excel: an .xlsx workbook whose first sheet has the CSV columns.

Files: UTF-8 with or without BOM, UTF-16 with BOM, or GB18030/GBK (what Chinese Excel writes for "CSV"),
detected; or name the encoding. A byte the encoding cannot read is reported with its line.

Re-import (a shop id already there): `update` (the default) changes only what the file gives — columns
left out keep their values, a `zones` column replaces the registry's zones of that shop but never zones
operators assigned; `replace` makes the row the whole record (columns left out blank, every zone
replaced); `skip` keeps the shop; `error` reports it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any, Literal, TextIO

from pydantic import ValidationError
from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.orm import Session
from tqdm import tqdm

from central import json_limits
from central.domain import audit
from central.domain.bulk import bulk_insert
from central.domain.clock import now_utc
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
OnConflict = Literal["update", "replace", "skip", "error"]
CHUNK = 5000


# ---------------------------------------------------------------- single shops


def _centroid(footprint: list[list[float]] | None) -> tuple[float | None, float | None]:
    if not footprint:
        return None, None
    pts = footprint[:-1] if footprint[0] == footprint[-1] else footprint
    return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))


def _shop_row(shop: ShopIn) -> dict[str, Any]:
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
    shop = Shop(**_shop_row(data))
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


@dataclass(frozen=True)
class RowError:
    line: int
    shop_id: str | None
    reason: str


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        head = (
            f"{self.source}: {self.rows} rows, {self.inserted} inserted, {self.updated} updated, "
            f"{self.skipped} skipped, {len(self.errors)} rejected in {self.seconds:.1f} s"
        )
        lines = [head] + [f"  line {e.line}: {e.shop_id or '-'}: {e.reason}" for e in self.errors[:50]]
        if len(self.errors) > 50:
            lines.append(f"  ... and {len(self.errors) - 50} more")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "errors": [{"line": e.line, "shop_id": e.shop_id, "reason": e.reason} for e in self.errors],
        }


# a footprint is [[lon, lat], ...]; a feature collection nests 6 deep (properties may hold zone lists)
FOOTPRINT_MAX_DEPTH = 4
ROW_MAX_DEPTH = 8
IMPORT_MAX_DEPTH = 16
_WKT = re.compile(r"^\s*POLYGON\s*\(\(\s*(.*?)\s*\)", re.IGNORECASE | re.DOTALL)
_TRUE = {"1", "true", "yes", "y", "t", "signed"}
_FALSE = {"0", "false", "no", "n", "f", "", "unsigned"}


def parse_footprint(text: str) -> list[list[float]] | None:
    text = text.strip()
    if not text:
        return None
    if text.startswith("["):
        return json_limits.loads(text, FOOTPRINT_MAX_DEPTH)
    m = _WKT.match(text)
    if not m:
        raise ValueError("footprint is neither WKT POLYGON nor a JSON list of [lon, lat]")
    try:
        return [[float(c) for c in pair.split()] for pair in m.group(1).split(",")]
    except ValueError:
        raise ValueError("footprint WKT has a non-numeric coordinate") from None


def parse_zones(text: str) -> list[dict[str, Any]]:
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        zones = json_limits.loads(text, ROW_MAX_DEPTH)
        if not isinstance(zones, list):
            raise ValueError("zones must be a JSON list")
        return zones
    out = []
    for item in text.split(";"):
        cam, sep, zone = item.strip().partition(":")
        if not sep:
            raise ValueError(f"zone {item!r} is not camera_id:zone_id")
        out.append({"camera_id": cam.strip(), "zone_id": zone.strip()})
    return out


def _parse_bool(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    t = str(text).strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError(f"agreement_signed {text!r} is not yes/no")


def _holds_nul(row: Any) -> bool:
    stack = [row]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _validation_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def _csv_rows(fp: TextIO) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    reader = csv.DictReader(fp)
    _check_header(reader.fieldnames)
    for raw in reader:
        yield _table_row(reader.line_num, raw)


def _check_header(fieldnames: Sequence[str] | None) -> None:
    if not fieldnames or "id" not in fieldnames or "name" not in fieldnames:
        raise ValueError("CSV header must name at least the columns id and name")
    unknown = set(fieldnames) - set(CSV_COLUMNS) - {"lon", "lat", "grade"}
    if unknown:
        raise ValueError(f"unknown CSV columns: {', '.join(sorted(unknown))}")


def _table_row(line: int, raw: dict[Any, Any]) -> tuple[int, dict[str, Any] | None, str | None]:
    """One CSV or sheet row; only the columns the file has are in the result (a re-import updates those)."""
    if None in raw:
        return line, None, "more cells than header columns"
    try:
        row: dict[str, Any] = {k: (v or "") for k, v in raw.items() if k in CSV_COLUMNS}
        if "footprint" in row:
            row["footprint"] = parse_footprint(row["footprint"])
        if "zones" in row:
            row["zones"] = parse_zones(row["zones"])
        if "agreement_signed" in row:
            row["agreement_signed"] = _parse_bool(row["agreement_signed"])
    except (ValueError, json.JSONDecodeError) as exc:
        return line, None, str(exc)
    return line, row, None


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """The first sheet of an .xlsx workbook: a header row, then one shop per row (line = sheet row)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001  (zipfile, XML and openpyxl errors all mean: not a workbook)
        raise ValueError(f"not a readable .xlsx workbook ({exc})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
        while header and header[-1] == "":
            header.pop()
        _check_header(header)
        for line, cells in enumerate(rows, start=2):
            if all(c is None or str(c).strip() == "" for c in cells):
                continue
            extra = [c for c in cells[len(header):] if c is not None and str(c).strip() != ""]
            raw: dict[Any, Any] = {h: _cell_text(c) for h, c in zip(header, cells, strict=False)}
            if extra:
                raw[None] = extra
            yield _table_row(line, raw)
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone or licence number Excel stored as a number
    return str(value).strip()


ENCODINGS_TRIED = ("utf-8", "gb18030")


def decode_text(data: bytes, encoding: str | None = None) -> str:
    """Text of an uploaded file: the named encoding, else by BOM, else UTF-8, else GB18030 (GBK, GB2312)."""
    if encoding:
        try:
            return data.decode(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise ValueError(_bad_bytes(data, exc, encoding)) from None
    for bom, name in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(name)
            except UnicodeDecodeError as exc:
                raise ValueError(_bad_bytes(data, exc, name)) from None
    first: UnicodeDecodeError | None = None
    for name in ENCODINGS_TRIED:
        try:
            return data.decode(name)
        except UnicodeDecodeError as exc:
            first = first or exc
    assert first is not None
    raise ValueError(_bad_bytes(data, first, " / ".join(ENCODINGS_TRIED)) + "; name the file's encoding")


def _bad_bytes(data: bytes, exc: UnicodeDecodeError, encoding: str) -> str:
    line = data[: exc.start].count(b"\n") + 1
    return f"line {line} is not valid {encoding} (byte {data[exc.start:exc.start + 1].hex()} at offset {exc.start})"


def _geojson_rows(fp: TextIO) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    doc = json_limits.loads(fp.read(), IMPORT_MAX_DEPTH)  # a 100,000-deep document is a ValueError
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ValueError("GeoJSON import needs a FeatureCollection")
    for i, feat in enumerate(doc.get("features") or [], start=1):
        if not isinstance(feat, dict) or not isinstance(feat.get("properties"), dict):
            yield i, None, "feature without properties"
            continue
        row = dict(feat["properties"])
        geom = feat.get("geometry")
        try:
            if "geometry" not in feat:
                pass  # no footprint given: a re-import keeps the stored one
            elif geom is None:
                row["footprint"] = None
            elif geom.get("type") == "Polygon" and geom.get("coordinates"):
                row["footprint"] = geom["coordinates"][0]
            else:
                raise ValueError(f"geometry must be a Polygon, not {geom.get('type')!r}")
            if isinstance(row.get("zones"), str):
                row["zones"] = parse_zones(row["zones"])
            if "agreement_signed" in row:
                row["agreement_signed"] = _parse_bool(row["agreement_signed"])
            for k in ("lon", "lat", "grade"):
                row.pop(k, None)
            row = {k: ("" if v is None and k in SCALAR_FIELDS else v) for k, v in row.items()}
        except (ValueError, AttributeError, TypeError) as exc:
            yield i, None, str(exc)
            continue
        yield i, row, None


def import_shops(
    session: Session,
    fp: TextIO | bytes,
    *,
    fmt: Literal["csv", "geojson", "xlsx"],
    source: str = "upload",
    on_conflict: OnConflict = "update",
    actor: str = "system",
    progress: bool = False,
    total: int | None = None,
) -> ImportReport:
    """Import shops from an open text stream. Good rows are written (not committed); bad rows are reported."""
    t0 = perf_counter()
    report = ImportReport(source=source)
    if fmt == "xlsx":
        if not isinstance(fp, bytes):
            raise TypeError("an .xlsx import reads the file's bytes")
        rows = _xlsx_rows(fp)
    else:
        if isinstance(fp, bytes):
            fp = io.StringIO(decode_text(fp), newline="")
        rows = _csv_rows(fp) if fmt == "csv" else _geojson_rows(fp)
    seen_ids: dict[str, int] = {}
    seen_zones: dict[tuple[str, str], tuple[int, str]] = {}
    chunk: list[tuple[int, ShopIn]] = []
    bar = tqdm(total=total, unit="shop", desc=f"import {source}", disable=not progress, mininterval=0.5)
    for line, row, err in rows:
        report.rows += 1
        bar.update(1)
        if err is not None:
            report.errors.append(RowError(line, None, err))
            continue
        assert row is not None
        if _holds_nul(row):  # PostgreSQL text cannot store it: the row is bad, the file is not
            report.errors.append(RowError(line, None, "a field holds a NUL character"))
            continue
        try:
            shop = ShopIn.model_validate(row)
        except ValidationError as exc:
            report.errors.append(RowError(line, str(row.get("id") or "") or None, _validation_reason(exc)))
            continue
        if shop.id in seen_ids:
            report.errors.append(RowError(line, shop.id, f"duplicate id, first on line {seen_ids[shop.id]}"))
            continue
        clash = next(
            ((z, seen_zones[(z.camera_id, z.zone_id)]) for z in shop.zones if (z.camera_id, z.zone_id) in seen_zones),
            None,
        )
        if clash is not None or len({(z.camera_id, z.zone_id) for z in shop.zones}) != len(shop.zones):
            where = f"line {clash[1][0]} (shop {clash[1][1]})" if clash else "this row"
            report.errors.append(RowError(line, shop.id, f"zone listed twice, also on {where}"))
            continue
        seen_ids[shop.id] = line
        for z in shop.zones:
            seen_zones[(z.camera_id, z.zone_id)] = (line, shop.id)
        chunk.append((line, shop))
        if len(chunk) >= CHUNK:
            _write_chunk(session, chunk, report, on_conflict)
            chunk = []
    if chunk:
        _write_chunk(session, chunk, report, on_conflict)
    bar.close()
    report.errors.sort(key=lambda e: e.line)
    report.seconds = perf_counter() - t0
    audit.record(
        session,
        actor=actor,
        action="shops.import",
        details={k: v for k, v in report.to_dict().items() if k != "errors"} | {"rejected": len(report.errors)},
    )
    return report


def _write_chunk(
    session: Session, chunk: list[tuple[int, ShopIn]], report: ImportReport, on_conflict: OnConflict
) -> None:
    ids = [s.id for _, s in chunk]
    existing = set(session.scalars(select(Shop.id).where(Shop.id.in_(ids))))
    pairs = {(z.camera_id, z.zone_id) for _, s in chunk for z in s.zones}
    cameras = sorted({c for c, _ in pairs})
    owners: dict[tuple[str, str], tuple[str, str]] = {}  # (camera, zone) → (shop id, source)
    # by camera (the unique index's first column), then filtered here: row-value IN lists scan on SQLite
    for i in range(0, len(cameras), 500):
        stmt = select(ShopZone.camera_id, ShopZone.zone_id, ShopZone.shop_id, ShopZone.source).where(
            ShopZone.camera_id.in_(cameras[i : i + 500])
        )
        owners.update({(c, z): (sid, src) for c, z, sid, src in session.execute(stmt) if (c, z) in pairs})
    new_rows, upd_rows, zone_rows = [], [], []
    replace_all_zones, replace_registry_zones = [], []
    for line, shop in chunk:
        if shop.id in existing and on_conflict not in ("update", "replace"):
            if on_conflict == "skip":
                report.skipped += 1
            else:
                report.errors.append(RowError(line, shop.id, "shop already exists"))
            continue
        taken = next(
            (
                (z, owners[(z.camera_id, z.zone_id)][0])
                for z in shop.zones
                if owners.get((z.camera_id, z.zone_id), (shop.id, ""))[0] != shop.id
            ),
            None,
        )
        if taken is not None:
            z, other = taken
            reason = f"zone {z.camera_id}/{z.zone_id} belongs to shop {other}"
            report.errors.append(RowError(line, shop.id, reason))
            continue
        row = _shop_row(shop)
        given = shop.model_fields_set
        zones = list(shop.zones)
        if shop.id in existing and on_conflict == "update":
            keep = {"id"} | (given & set(SCALAR_FIELDS))
            keep |= {"footprint", "lon", "lat"} if "footprint" in given else set()
            row = {k: v for k, v in row.items() if k in keep}
            if "zones" in given:
                replace_registry_zones.append(shop.id)
                # a zone an operator assigned stays as it is, even when the file lists it too
                zones = [z for z in zones if owners.get((z.camera_id, z.zone_id), ("", "registry"))[1] == "registry"]
            else:
                zones = []
            upd_rows.append(row)
        elif shop.id in existing:
            upd_rows.append(row)
            replace_all_zones.append(shop.id)
        else:
            new_rows.append(row)
        zone_rows += [
            {
                "shop_id": shop.id,
                "camera_id": z.camera_id,
                "zone_id": z.zone_id,
                "polygon": z.polygon,
                "source": "registry",
            }
            for z in zones
        ]
    # multi-row Core INSERTs (not ORM bulk, not executemany): several times faster for 250,000 rows
    now = now_utc()
    if new_rows:
        fresh = {"created_at": now, "updated_at": now, "grade": None, "grade_since": None}
        bulk_insert(session, Shop.__table__, [r | fresh for r in new_rows])
        report.inserted += len(new_rows)
    if upd_rows:
        by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}
        for r in upd_rows:
            by_columns.setdefault(frozenset(r), []).append(r | {"updated_at": now})
        for rows in by_columns.values():  # one executemany per set of columns the file gave
            session.execute(update(Shop), rows)
        for i in range(0, len(replace_all_zones), 500):
            session.execute(delete(ShopZone).where(ShopZone.shop_id.in_(replace_all_zones[i : i + 500])))
        for i in range(0, len(replace_registry_zones), 500):
            session.execute(
                delete(ShopZone).where(
                    ShopZone.shop_id.in_(replace_registry_zones[i : i + 500]), ShopZone.source == "registry"
                )
            )
        report.updated += len(upd_rows)
    if zone_rows:
        extra = {"assigned_by": None, "created_at": now}
        bulk_insert(session, ShopZone.__table__, [z | extra for z in zone_rows])


def import_file(
    session: Session,
    path: str | Path,
    *,
    on_conflict: OnConflict = "update",
    encoding: str | None = None,
    actor: str = "cli",
    progress: bool = True,
) -> ImportReport:
    """Import a .csv, .xlsx or .geojson/.json file (the CLI's `import-shops`); the encoding of a text file is
    detected unless given."""
    path = Path(path)
    suffix = path.suffix.lower()
    fmt: Literal["csv", "geojson", "xlsx"] = "csv" if suffix == ".csv" else "xlsx" if suffix == ".xlsx" else "geojson"
    data = path.read_bytes()
    total = max(data.count(b"\n") - 1, 0) if fmt == "csv" and progress else None
    source: TextIO | bytes = data if fmt == "xlsx" else io.StringIO(decode_text(data, encoding), newline="")
    return import_shops(
        session,
        source,
        fmt=fmt,
        source=path.name,
        on_conflict=on_conflict,
        actor=actor,
        progress=progress,
        total=total,
    )


# ---------------------------------------------------------------- export


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
