"""`doorline-zones migrate-door FILE --out NEW`: old zone files whose door line crosses a zone, in the new form.

Before door lines had to lie on their zone's edge, a door line could cross the zone, and goods counted only
on the side of the zone's vertex mean. Each such zone is cut at its door line (`zones.door.cut_at_door`),
keeping that part, so the migrated file counts goods where the old one did; door lines already on the edge
and zones without one are kept as they are. The output is the camera-file layout (`zones.io.zones_document`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from zones.door import cut_at_door, door_line_problem
from zones.io import ZoneFileError, load_zones, zones_document
from zones.model import CameraZones


def migrate(cz: CameraZones) -> tuple[CameraZones, list[str]]:
    """`cz` with each crossing door line cut at; also the ids of the zones that changed."""
    zones, changed = [], []
    for z in cz.zones:
        if z.door_line is not None and door_line_problem(z.polygon, z.door_line):
            try:
                poly, line = cut_at_door(z.polygon, z.door_line)
            except ValueError as exc:
                raise ZoneFileError("<migrate>", str(exc), z.zone_id) from exc
            z = replace(z, polygon=poly, door_line=line)
            changed.append(z.zone_id)
        zones.append(z)
    return replace(cz, zones=zones), changed


def migrate_file(src: Path, dst: Path) -> list[str]:
    """Write `src` migrated to `dst` (JSON); returns the ids of the zones that were cut."""
    cz, changed = migrate(load_zones(src, door_check=False))
    dst.write_text(json.dumps(zones_document(cz, digits=2), indent=1) + "\n", encoding="utf-8")
    load_zones(dst)  # what was written loads under the new rule
    return changed
