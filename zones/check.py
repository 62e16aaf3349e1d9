"""`doorline-zones check FILE...`: every problem of a zone file, each on its own line.

Beyond what loading refuses (unknown keys, self-intersecting or degenerate polygons, points outside
`frame_size`, duplicate ids, bad rules), it checks what only makes sense across a file or against the
registry: a door line that does not lie on its zone's edge, zones of different shops that overlap beyond a
tolerance, and, given central's URL and a token, shops the registry does not know. Exits 1 if any file has
an error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import shapely

from zones.door import DOOR_TOLERANCE_PX, door_line_problem
from zones.io import ZoneFileError, load_zones
from zones.model import CameraZones

# code → params of the problems found across a file (loading errors carry zones.io.ERROR_CODES)
CHECK_CODES: dict[str, tuple[str, ...]] = {
    "door_point_off_edge": ("n", "x", "y", "distance"),
    "door_line_crosses_zone": ("distance",),
    "zones_overlap": ("other", "shop", "share", "tolerance"),
    "shop_not_registered": ("shop",),
    "central_unreachable": ("shop",),
}


@dataclass(frozen=True)
class Problem:
    """One problem: where, the English reason, and a stable code with its params for translation."""

    path: str
    zone_id: str | None
    reason: str
    code: str = "invalid"
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        where = self.path + (f", zone {self.zone_id!r}" if self.zone_id else "")
        return f"{where}: {self.reason}"


def door_line_problems(cz: CameraZones, path: str, tolerance_px: float = DOOR_TOLERANCE_PX) -> list[Problem]:
    """Door lines that are not a segment of their zone's edge (loading refuses them at the default
    tolerance; a stricter `tolerance_px` reports more)."""
    out = []
    for z in cz.zones:
        if z.door_line is None:
            continue
        problem = door_line_problem(z.polygon, z.door_line, tolerance_px)
        if problem is not None:
            out.append(Problem(path, z.zone_id, problem.reason, problem.code, problem.params))
    return out


def overlap_problems(cz: CameraZones, path: str, tolerance: float = 0.05) -> list[Problem]:
    """Zones of different shops sharing more than `tolerance` of the smaller one's area: an object there
    would be blamed on two shops."""
    out = []
    polys = {z.zone_id: shapely.Polygon(z.polygon) for z in cz.zones}
    for a, b in combinations(cz.zones, 2):
        if a.shop_id is None or b.shop_id is None or a.shop_id == b.shop_id:
            continue
        pa, pb = polys[a.zone_id], polys[b.zone_id]
        if not pa.intersects(pb):
            continue
        share = pa.intersection(pb).area / min(pa.area, pb.area)
        if share > tolerance:
            out.append(Problem(path, a.zone_id, f"overlaps zone {b.zone_id!r} (shop {b.shop_id}) by "
                                                f"{share:.0%} of the smaller zone (at most {tolerance:.0%})",
                               "zones_overlap", {"other": b.zone_id, "shop": b.shop_id, "share": share,
                                                 "tolerance": tolerance}))
    return out


ShopLookup = Callable[[str], bool | None]  # True known, False unknown, None could not tell


def central_lookup(url: str, token: str | None, timeout_s: float = 5.0) -> ShopLookup:
    import httpx  # only this check talks to central

    client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s,
                          headers={"Authorization": f"Bearer {token}"} if token else {})

    def known(shop_id: str) -> bool | None:
        try:
            reply = client.get(f"/api/shops/{shop_id}")
        except httpx.HTTPError:
            return None
        if reply.status_code == 200:
            return True
        if reply.status_code == 404:
            return False
        return None

    return known


def check_file(path: str | Path, *, overlap_tolerance: float = 0.05, door_tolerance_px: float = 4.0,
               shop_known: ShopLookup | None = None) -> list[Problem]:
    try:
        cz = load_zones(path)
    except ZoneFileError as exc:
        return [Problem(exc.path, exc.zone_id, exc.reason, exc.code, exc.params)]
    p = str(path)
    problems = door_line_problems(cz, p, door_tolerance_px) + overlap_problems(cz, p, overlap_tolerance)
    if shop_known is not None:
        for shop_id in sorted({z.shop_id for z in cz.zones if z.shop_id}):
            verdict = shop_known(shop_id)
            if verdict is False:
                zid = next(z.zone_id for z in cz.zones if z.shop_id == shop_id)
                problems.append(Problem(p, zid, f"shop {shop_id!r} is not in central's registry",
                                        "shop_not_registered", {"shop": shop_id}))
            elif verdict is None:
                problems.append(Problem(p, None, f"could not ask central about shop {shop_id!r}",
                                        "central_unreachable", {"shop": shop_id}))
    return problems


def _summary(path: str) -> str:
    cz = load_zones(path)
    size = "x".join(map(str, cz.frame_size)) if cz.frame_size else "any size"
    return f"ok {path}: camera {cz.camera_id}, {len(cz.zones)} zone(s) [{', '.join(z.zone_id for z in cz.zones)}], " \
           f"frame {size}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="doorline-zones", description="Zone files: check them before an edge uses them.")
    sub = ap.add_subparsers(dest="command", required=True)
    chk = sub.add_parser("check", help="every problem of each zone file, one per line; exit 1 on any")
    chk.add_argument("files", nargs="+", type=Path)
    chk.add_argument("--central", help="central's URL: also check that every shop id is registered")
    chk.add_argument("--token-env", default="DOORLINE_TOKEN",
                     help="environment variable holding an API token for --central (default DOORLINE_TOKEN)")
    chk.add_argument("--overlap", type=float, default=0.05,
                     help="largest share of a zone that another shop's zone may cover (default 0.05)")
    chk.add_argument("--door-tolerance", type=float, default=4.0, help="px a door line may lie off the edge")
    mig = sub.add_parser("migrate-door", help="cut old zones at a door line that crosses them (the new form)")
    mig.add_argument("file", type=Path)
    mig.add_argument("--out", type=Path, required=True, help="where to write the migrated file (JSON)")
    args = ap.parse_args(argv)
    if args.command == "migrate-door":
        from zones.migrate import migrate_file

        try:
            changed = migrate_file(args.file, args.out)
        except ZoneFileError as exc:
            print(f"INVALID {exc}", file=sys.stderr)
            return 1
        print(f"wrote {args.out}: {len(changed)} zone(s) cut at their door line"
              + (f" [{', '.join(changed)}]" if changed else ""))
        return 0
    lookup = central_lookup(args.central, os.environ.get(args.token_env)) if args.central else None
    bad = 0
    for f in args.files:
        problems = check_file(f, overlap_tolerance=args.overlap, door_tolerance_px=args.door_tolerance,
                              shop_known=lookup)
        if problems:
            bad += 1
            for problem in problems:
                print(f"INVALID {problem}", file=sys.stderr)
        else:
            print(_summary(str(f)))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
