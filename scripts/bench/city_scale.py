"""Central domain at city scale: import 250,000 shops, grade them all, match drone points to footprints.

    .venv/bin/python scripts/bench/city_scale.py                      # SQLite in a temp dir
    .venv/bin/python scripts/bench/city_scale.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

Makes a synthetic registry CSV (shops side by side along roads around 31.2°N 121.5°E, each with a
footprint polygon and a camera zone), imports it with the real importer, adds confirmed cases and
complaints, runs full grade recomputations (first grading, no change, after violations age out), and
measures drone-point matching (vectorised batch, and per event through `match_event`). Prints a table and
writes JSON (default var/bench/central.json). PostgreSQL: the database named is emptied first, so
its name must contain 'bench' (or pass --reset).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, make_url, select
from tqdm import tqdm

import central.orm  # noqa: F401  (registers every table)
from central.db import make_engine, make_session_factory
from central.domain import grades, matching, shop_import
from central.orm.base import Base
from central.orm.cases import Case, Complaint
from central.orm.shops import Shop
from central.settings import CentralSettings
from wire.schema import EventMessage, GeoPoint

REPO = Path(__file__).resolve().parents[2]

LAT0, LON0 = 31.20, 121.45
SHOP_W_M, SHOP_D_M, GAP_M = 8.0, 10.0, 1.0
ROAD_GAP_M = 60.0
TYPES = ["fruit", "small restaurant", "hardware", "clothing", "grocery", "phone repair", "bakery", "pharmacy"]


def write_csv(path: Path, n: int, per_road: int, seed: int = 0) -> np.ndarray:
    """Shops in rows of `per_road` along east-west roads; returns their centroids (lat, lon)."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    road, pos = i // per_road, i % per_road
    m_lat = 1 / 110_574.0
    m_lon = 1 / (111_320.0 * np.cos(np.radians(LAT0)))
    x0 = pos * (SHOP_W_M + GAP_M)
    y0 = road * ROAD_GAP_M
    lon_a, lon_b = LON0 + x0 * m_lon, LON0 + (x0 + SHOP_W_M) * m_lon
    lat_a, lat_b = LAT0 + y0 * m_lat, LAT0 + (y0 + SHOP_D_M) * m_lat
    types = rng.choice(TYPES, n)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "id",
                "name",
                "address",
                "road",
                "area",
                "business_type",
                "owner",
                "phone",
                "agreement_signed",
                "footprint",
                "zones",
            ]
        )
        for k in range(n):
            fp = (
                f"POLYGON (({lon_a[k]:.7f} {lat_a[k]:.7f}, {lon_b[k]:.7f} {lat_a[k]:.7f}, "
                f"{lon_b[k]:.7f} {lat_b[k]:.7f}, {lon_a[k]:.7f} {lat_b[k]:.7f}, "
                f"{lon_a[k]:.7f} {lat_a[k]:.7f}))"
            )
            w.writerow(
                [
                    f"shop-{k:06d}",
                    f"Shop {k}",
                    f"{pos[k] + 1} Road {road[k]}",
                    f"Road {road[k]}",
                    f"Area {road[k] // 20}",
                    types[k],
                    f"Owner {k}",
                    f"1380000{k:04d}"[-11:],
                    "yes" if k % 3 else "no",
                    fp,
                    f"cam-{road[k]}-{pos[k] // 8}:z{pos[k] % 8}",
                ]
            )
    return np.column_stack([(lat_a + lat_b) / 2, (lon_a + lon_b) / 2])


def add_history(session, n_shops: int, now: datetime, seed: int = 1) -> int:
    """Confirmed cases and complaints spread over the past 18 months for 8% of the shops."""
    rng = np.random.default_rng(seed)
    offenders = rng.choice(n_shops, n_shops * 8 // 100, replace=False)
    rows, complaints = [], []
    for k in offenders.tolist():
        for _ in range(int(rng.integers(1, 8))):
            at = now - timedelta(days=float(rng.uniform(0, 540)))
            rows.append(
                {
                    "id": f"c-{len(rows):07d}",
                    "shop_id": f"shop-{k:06d}",
                    "violation": "piled_goods",
                    "state": "resolved",
                    "is_open": False,
                    "opened_at": at,
                    "confirmed_at": at,
                    "strike": 1,
                    "evidence": [],
                    "score": 0.8,
                    "event_count": 1,
                    "source_kind": "fixed",
                    "self_rectified": False,
                }
            )
        if k % 5 == 0:
            complaints.append(
                {
                    "shop_id": f"shop-{k:06d}",
                    "at": now - timedelta(days=10),
                    "text": "report",
                    "source": "citizen",
                    "valid": True,
                }
            )
    for i in range(0, len(rows), 20000):
        session.execute(insert(Case), rows[i : i + 20000])
    if complaints:
        session.execute(insert(Complaint), complaints)
    return len(rows) + len(complaints)


def reset_db(url: str, *, allow_reset: bool = True):
    engine = make_engine(url)
    if not url.startswith("sqlite"):
        if not allow_reset:
            raise SystemExit(
                f"refusing to empty {engine.url.database!r}: its name has no 'bench' in it "
                "(pass --reset to empty it anyway)"
            )
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return engine


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default=None, help="SQLAlchemy URL (default: SQLite in a temp dir)")
    p.add_argument("--shops", type=int, default=250_000)
    p.add_argument("--per-road", type=int, default=500)
    p.add_argument("--points", type=int, default=100_000, help="drone points for the batch match")
    p.add_argument("--events", type=int, default=2_000, help="drone events matched one by one")
    p.add_argument("--out", type=Path, default=REPO / "var" / "bench" / "central.json")
    p.add_argument("--reset", action="store_true", help="empty a --db whose name does not contain 'bench'")
    args = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="doorline-bench-central-"))
    url = args.db or f"sqlite:///{tmp / 'central.db'}"
    settings = CentralSettings(database_url=url, grade_rules="counts")
    results: dict[str, float | int | str] = {}
    print(f"database {url.split('@')[-1]}, {args.shops} shops, temp dir {tmp}")

    csv_path = tmp / "shops.csv"
    t = time.perf_counter()
    centroids = write_csv(csv_path, args.shops, args.per_road)
    results["csv_write_s"] = time.perf_counter() - t
    results["csv_mb"] = csv_path.stat().st_size / 1e6

    engine = reset_db(url, allow_reset=args.reset or "bench" in (make_url(url).database or ""))
    factory = make_session_factory(engine)
    with factory() as s:
        t, c = time.perf_counter(), time.process_time()
        with tqdm(total=shop_import.rows_in(csv_path), unit="shop", desc="import", mininterval=0.5) as bar:
            report = shop_import.import_file(s, csv_path, actor="bench", on_row=lambda: bar.update(1))
        s.commit()
        results["import_s"] = time.perf_counter() - t
        results["import_cpu_s"] = time.process_time() - c
        results["import_rows_per_s"] = report.inserted / results["import_s"]
        results["import_errors"] = len(report.errors)
        assert report.inserted == args.shops, report.summary()

        now = datetime.now(UTC)
        results["history_rows"] = add_history(s, args.shops, now)
        s.commit()

        for label, at in (
            ("grade_first", now),
            ("grade_nochange", now),
            ("grade_aged_90d", now + timedelta(days=90)),
        ):
            t, c = time.perf_counter(), time.process_time()
            run = grades.recompute(s, now=at, settings=settings, reason_prefix="bench")
            s.commit()
            results[f"{label}_s"] = time.perf_counter() - t
            results[f"{label}_cpu_s"] = time.process_time() - c
            results[f"{label}_changed"] = run.changed
        results["distribution_after"] = json.dumps(run.distribution)

        t, c = time.perf_counter(), time.process_time()
        index = matching.footprint_index(s)
        results["index_build_s"] = time.perf_counter() - t
        results["index_build_cpu_s"] = time.process_time() - c

        rng = np.random.default_rng(2)
        pick = rng.integers(0, args.shops, args.points)
        jitter_m = rng.normal(0, 6, (args.points, 2))
        lat = centroids[pick, 0] + jitter_m[:, 0] / 110_574.0
        lon = centroids[pick, 1] + jitter_m[:, 1] / (111_320.0 * np.cos(np.radians(LAT0)))
        t, c = time.perf_counter(), time.process_time()
        ids, dist = index.nearest(lat, lon, settings.match_tolerance_m)
        dt = time.perf_counter() - t
        results["match_batch_cpu_points_per_s"] = args.points / max(time.process_time() - c, 1e-9)
        results["match_batch_points_per_s"] = args.points / dt
        results["match_batch_matched_share"] = float(np.mean(ids != None))  # noqa: E711
        expected = np.array([f"shop-{k:06d}" for k in pick], dtype=object)
        inside = (np.abs(jitter_m[:, 0]) < SHOP_D_M / 2 - 0.5) & (np.abs(jitter_m[:, 1]) < SHOP_W_M / 2 - 0.5)
        results["match_correct_when_inside"] = float(np.mean(ids[inside] == expected[inside]))

        msgs = [
            EventMessage(
                site_id="bench",
                camera_id="drone-1",
                event_id=f"e{k}",
                seq=0,
                zone_id=None,
                violation="cross_door_trading",
                phase="start",
                ts=now.timestamp(),
                score=0.9,
                source_kind="drone",
                geo=GeoPoint(lat=float(lat[k]), lon=float(lon[k])),
            )
            for k in range(min(args.events, args.points))
        ]
        t = time.perf_counter()
        for m in msgs:
            matching.match_event(s, m, settings)
        results["match_event_per_s"] = len(msgs) / (time.perf_counter() - t)
        results["shops_in_db"] = s.scalar(select(Shop.id).order_by(Shop.id.desc()).limit(1)) and args.shops
    engine.dispose()

    results["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    results["database"] = "sqlite" if url.startswith("sqlite") else url.split("+")[0].split(":")[0]
    results["load_average_1m"] = os.getloadavg()[0]
    results["cpus"] = os.cpu_count() or 0
    r = results

    def secs(key: str) -> tuple[str, str]:
        cpu = r.get(f"{key}_cpu_s")
        return f"{r[f'{key}_s']:.2f} s", (f"{cpu:.2f} s" if cpu is not None else "")

    rows = [
        (f"import {args.shops} shops (CSV)", *secs("import"), f"{r['import_rows_per_s']:.0f} rows/s wall"),
        ("grade all: first grading", *secs("grade_first"), f"{r['grade_first_changed']} changed"),
        ("grade all: nothing changed", *secs("grade_nochange"), f"{r['grade_nochange_changed']} changed"),
        ("grade all: 90 days later", *secs("grade_aged_90d"), f"{r['grade_aged_90d_changed']} changed"),
        ("footprint STRtree build", *secs("index_build"), f"{args.shops} polygons"),
        (
            "drone points, batch",
            f"{r['match_batch_points_per_s']:.0f} /s",
            f"{r['match_batch_cpu_points_per_s']:.0f} /s",
            f"{r['match_batch_matched_share']:.1%} matched, {r['match_correct_when_inside']:.1%} right if inside",
        ),
        ("drone events, one by one", f"{r['match_event_per_s']:.0f} /s", "", "match_event incl. DB checks"),
    ]
    w0 = max(len(x[0]) for x in rows)
    print(f"\n{'step':<{w0}}  {'wall':>10}  {'cpu (this process)':>18}  note")
    for a, b, c, d in rows:
        print(f"{a:<{w0}}  {b:>10}  {c:>18}  {d}")
    print(f"load average {r['load_average_1m']:.1f} on {r['cpus']} CPUs; PostgreSQL server time is not in 'cpu'")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()}, indent=2)
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
