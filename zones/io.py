"""Reading zone files.

Two layouts are accepted (YAML or JSON, chosen by content, not by extension):

1. Doorline's own camera file::

       camera_id: cam-12            # required
       site_id: market-st           # optional
       frame_size: [1920, 1080]     # optional (w, h); polygons are in these pixels and scale with the frame
       rules:                       # optional RuleConfig fields (zones.rules), the camera's defaults
         min_dwell_s: 120
       zones:
         - zone_id: z-1             # unique per camera
           shop_id: shop-17         # optional
           polygon: [[x, y], ...]   # >= 3 points, image px, simple (not self-intersecting), area > 0
           door_line: [[x, y], [x, y]]          # optional: the shop's door, a segment of the polygon's edge
           violations: [piled_goods, cross_door_trading]   # optional, default both
           rules: {min_coverage: 0.1}           # optional per-zone overrides

2. The dev-events clip layout (``../shared/data/dev-events/clip_NN.json``): top-level ``size``, ``rules``
   and ``zones`` (plus ``truth``/``short``/``negatives``/``conditions``/``video``/``fps``/``duration_s``,
   which are ignored). The camera id is the file's stem; its zones watch for piled goods. Clip files carry
   ground truth and metadata beside the zones, so other top-level keys, and zone keys beyond the camera
   file's, are logged and ignored rather than refused: a clip made with one more field still runs.

Anything else — unknown keys, bad polygons, duplicate ids, points outside ``frame_size`` — raises
`ZoneFileError` naming the file, the zone and the reason.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from shapely.geometry import Polygon
from shapely.validation import explain_validity, make_valid

from wire.schema import PILED_GOODS, VIOLATIONS
from zones.door import door_line_problem
from zones.model import CameraZones, Zone
from zones.rules import RuleConfig, check_overrides

_CAMERA_KEYS = {"camera_id", "site_id", "frame_size", "rules", "zones"}
_ZONE_KEYS = {"zone_id", "shop_id", "polygon", "door_line", "violations", "rules"}
_CLIP_KEYS = {"fps", "size", "duration_s", "rules", "zones", "truth", "short", "negatives", "conditions",
              "video"}

log = logging.getLogger(__name__)


class ZoneFileError(ValueError):
    """A zone file that cannot be used; `path`, `zone_id` (or None) and `reason` say why."""

    def __init__(self, path: str | Path, reason: str, zone_id: str | None = None) -> None:
        self.path, self.reason, self.zone_id = str(path), reason, zone_id
        where = f"{self.path}" + (f", zone {zone_id!r}" if zone_id is not None else "")
        super().__init__(f"{where}: {reason}")


def _check_keys(path: Path, raw: dict, allowed: set[str], zid: str | None = None, *, lenient: bool = False
                ) -> None:
    """Unknown keys raise; in the lenient clip layout (whose files carry ground truth and metadata beside
    the zones) they are logged and ignored."""
    unknown = sorted(set(raw) - allowed)
    if not unknown:
        return
    if lenient:
        zone = "" if zid is None else f", zone {zid!r}"
        log.warning("%s%s: ignoring key(s) %s in clip layout", path, zone, ", ".join(unknown))
        return
    raise ZoneFileError(path, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}", zid)


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ZoneFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ZoneFileError(path, f"neither JSON nor YAML: {exc}") from exc


def _points(path: Path, zid: str | None, value: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ZoneFileError(path, f"{what} must be a list of [x, y] numbers", zid) from exc
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ZoneFileError(path, f"{what} must be a list of [x, y] points, got shape {arr.shape}", zid)
    if not np.isfinite(arr).all():
        raise ZoneFileError(path, f"{what} has non-finite coordinates", zid)
    return arr


def check_polygon(path: Path, zid: str | None, poly: np.ndarray,
                  frame_size: tuple[int, int] | None) -> None:
    """Raise ZoneFileError for degenerate, self-intersecting or out-of-frame polygons."""
    if len(poly) < 3:
        raise ZoneFileError(path, f"polygon needs at least 3 points, got {len(poly)}", zid)
    shape = Polygon(poly)
    if not shape.is_valid or shape.area <= 1e-6:
        if make_valid(shape).area <= 1e-6:
            raise ZoneFileError(path, "polygon is degenerate (zero area)", zid)
        raise ZoneFileError(path, f"polygon is not simple: {explain_validity(shape)}", zid)
    if frame_size is not None:
        w, h = frame_size
        bad = (poly[:, 0] < 0) | (poly[:, 0] > w) | (poly[:, 1] < 0) | (poly[:, 1] > h)
        if bad.any():
            x, y = poly[np.flatnonzero(bad)[0]]
            raise ZoneFileError(path, f"point ({x:g}, {y:g}) lies outside the frame {w}x{h}", zid)


def _frame_size(path: Path, value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ZoneFileError(path, f"frame_size must be [width, height] > 0, got {value!r}")
    return int(value[0]), int(value[1])


def _rules(path: Path, value: Any, zid: str | None = None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ZoneFileError(path, "rules must be a mapping of rule fields", zid)
    reason = check_overrides(value)
    if reason:
        raise ZoneFileError(path, reason, zid)
    return dict(value)


def _zone(path: Path, raw: Any, index: int, frame_size: tuple[int, int] | None,
          default_violations: tuple[str, ...], lenient: bool, door_check: bool = True) -> Zone:
    if not isinstance(raw, dict):
        raise ZoneFileError(path, f"zones[{index}] must be a mapping")
    zid = raw.get("zone_id")
    if not isinstance(zid, str | int) or isinstance(zid, bool) or str(zid).strip() == "":
        raise ZoneFileError(path, f"zones[{index}] needs a non-empty zone_id")
    zid = str(zid)
    _check_keys(path, raw, _ZONE_KEYS, zid, lenient=lenient)
    if "polygon" not in raw:
        raise ZoneFileError(path, "missing polygon", zid)
    poly = _points(path, zid, raw["polygon"], "polygon")
    check_polygon(path, zid, poly, frame_size)
    door = None
    if raw.get("door_line") is not None:
        door = _points(path, zid, raw["door_line"], "door_line")
        if door.shape != (2, 2) or np.allclose(door[0], door[1]):
            raise ZoneFileError(path, "door_line must be two distinct points [[x, y], [x, y]]", zid)
        reason = door_line_problem(poly, door) if door_check else None
        if reason:
            raise ZoneFileError(path, reason, zid)
    violations = raw.get("violations", default_violations)
    if isinstance(violations, str):
        violations = [violations]
    if (not isinstance(violations, list | tuple) or not violations
            or any(v not in VIOLATIONS for v in violations)):
        raise ZoneFileError(path, f"violations must be a non-empty list of {', '.join(VIOLATIONS)}", zid)
    shop = raw.get("shop_id")
    return Zone(zid, None if shop is None else str(shop), poly, door, tuple(violations),
                _rules(path, raw.get("rules"), zid))


def _zones(path: Path, raw: Any, frame_size: tuple[int, int] | None, default_violations: tuple[str, ...],
           lenient: bool = False, door_check: bool = True) -> list[Zone]:
    if not isinstance(raw, list) or not raw:
        raise ZoneFileError(path, "zones must be a non-empty list")
    zones = [_zone(path, z, i, frame_size, default_violations, lenient, door_check) for i, z in enumerate(raw)]
    seen: set[str] = set()
    for z in zones:
        if z.zone_id in seen:
            raise ZoneFileError(path, "duplicate zone_id", z.zone_id)
        seen.add(z.zone_id)
    return zones


def parse_zones(data: Any, path: str | Path = "<data>", *, door_check: bool = True) -> CameraZones:
    """Validate already-parsed zone data (either layout) into CameraZones. A door line must be a segment of
    its zone's edge (`zones.door`); `door_check=False` reads old files whose door line crosses the zone, only
    to migrate them."""
    path = Path(path)
    if not isinstance(data, dict):
        raise ZoneFileError(path, "top level must be a mapping")
    if "camera_id" not in data and "size" in data:  # dev-events clip layout
        _check_keys(path, data, _CLIP_KEYS, lenient=True)
        size = _frame_size(path, data.get("size"))
        raw_rules = data.get("rules") or {}
        if not isinstance(raw_rules, dict):
            raise ZoneFileError(path, "rules must be a mapping")
        rules = _rules(path, raw_rules)
        zones = _zones(path, data.get("zones"), size, (PILED_GOODS,), lenient=True, door_check=door_check)
        return CameraZones(path.stem, None, size, zones, RuleConfig.model_validate(rules))
    _check_keys(path, data, _CAMERA_KEYS)
    cam = data.get("camera_id")
    if not isinstance(cam, str | int) or isinstance(cam, bool) or str(cam).strip() == "":
        raise ZoneFileError(path, "camera_id is required")
    size = _frame_size(path, data.get("frame_size"))
    rules = RuleConfig.model_validate(_rules(path, data.get("rules")))
    zones = _zones(path, data.get("zones"), size, VIOLATIONS, door_check=door_check)
    site = data.get("site_id")
    return CameraZones(str(cam), None if site is None else str(site), size, zones, rules)


def load_zones(path: str | Path, *, door_check: bool = True) -> CameraZones:
    """Read and validate a zone file (own layout or dev-events clip layout); raises ZoneFileError."""
    path = Path(path)
    return parse_zones(_read(path), path, door_check=door_check)


def zones_document(zones: CameraZones, *, digits: int = 1) -> dict[str, Any]:
    """The camera-file layout of `zones` (what `parse_zones` reads back), points rounded to `digits`."""

    def pts(arr: np.ndarray) -> list[list[float]]:
        return [[round(float(x), digits), round(float(y), digits)] for x, y in arr]

    doc: dict[str, Any] = {"camera_id": zones.camera_id}
    if zones.site_id is not None:
        doc["site_id"] = zones.site_id
    if zones.frame_size is not None:
        doc["frame_size"] = [int(zones.frame_size[0]), int(zones.frame_size[1])]
    rules = zones.rules.model_dump(mode="json", exclude_defaults=True)
    if rules:
        doc["rules"] = rules
    doc["zones"] = []
    for z in zones.zones:
        item: dict[str, Any] = {"zone_id": z.zone_id}
        if z.shop_id is not None:
            item["shop_id"] = z.shop_id
        item["polygon"] = pts(z.polygon)
        if z.door_line is not None:
            item["door_line"] = pts(z.door_line)
        item["violations"] = list(z.violations)
        if z.rules:
            item["rules"] = dict(z.rules)
        doc["zones"].append(item)
    return doc
