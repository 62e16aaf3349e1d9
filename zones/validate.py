"""Check zone files: ``python -m zones.validate FILE [FILE ...]``.

Prints one line per file (camera, zones, frame size) and exits 1 if any file is invalid, naming the
file, the zone and the reason.
"""

from __future__ import annotations

import argparse
import sys

from zones.io import ZoneFileError, load_zones


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m zones.validate", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="zone files (Doorline YAML/JSON or dev-events clip JSON)")
    args = ap.parse_args(argv)
    bad = 0
    for f in args.files:
        try:
            cz = load_zones(f)
        except ZoneFileError as exc:
            print(f"INVALID {exc}", file=sys.stderr)
            bad += 1
            continue
        size = "x".join(map(str, cz.frame_size)) if cz.frame_size else "any size"
        ids = ", ".join(z.zone_id for z in cz.zones)
        print(f"ok {f}: camera {cz.camera_id}, {len(cz.zones)} zone(s) [{ids}], frame {size}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
