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
`ZoneFileError` naming the file, the zone and the reason. Each error also has a stable `code` and the
`params` its reason is made of, so a user interface can say it in its own language (central's zone editor
does, through its message catalogs); the codes are listed in `ERROR_CODES`.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from shapely.geometry import Polygon
from shapely.validation import explain_validity, make_valid

from wire.schema import PILED_GOODS, VIOLATIONS
from zones.door import door_line_problem
from zones.model import CameraZones, Zone
from zones.rules import RuleConfig, rule_problem

_CAMERA_KEYS = {"camera_id", "site_id", "frame_size", "rules", "zones"}
_ZONE_KEYS = {"zone_id", "shop_id", "polygon", "door_line", "violations", "rules"}
_CLIP_KEYS = {"fps", "size", "duration_s", "rules", "zones", "truth", "short", "negatives", "conditions",
              "video"}

log = logging.getLogger(__name__)


# code → the params its ZoneFileError carries (besides the English `reason`)
ERROR_CODES: dict[str, tuple[str, ...]] = {
    "unreadable": ("detail",),
    "not_json_or_yaml": ("detail",),
    "top_not_mapping": (),
    "camera_id_missing": (),
    "unknown_keys": ("keys", "allowed"),
    "frame_size_invalid": ("value",),
    "rules_not_mapping": (),
    "rule_invalid": ("field", "kind", "limit", "detail"),
    "zones_empty": (),
    "zone_not_mapping": ("index",),
    "zone_id_missing": ("index",),
    "duplicate_zone_id": (),
    "polygon_missing": (),
    "points_not_numbers": ("what",),
    "points_shape": ("what", "shape"),
    "points_not_finite": ("what",),
    "polygon_too_few_points": ("n",),
    "polygon_degenerate": (),
    "polygon_self_intersection": ("x", "y"),
    "polygon_not_simple": ("detail",),
    "point_outside_frame": ("x", "y", "width", "height"),
    "door_line_invalid": (),
    "door_point_off_edge": ("n", "x", "y", "distance"),
    "door_line_crosses_zone": ("distance",),
    "violations_invalid": ("allowed",),
}


class ZoneFileError(ValueError):
    """A zone file that cannot be used; `path`, `zone_id` (or None) and `reason` (English) say why, `code`
    (one of ERROR_CODES) and `params` say it for translation."""

    def __init__(self, path: str | Path, reason: str, zone_id: str | None = None, *, code: str,
                 **params: Any) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown zone error code {code!r}")
        self.path, self.reason, self.zone_id, self.code, self.params = str(path), reason, zone_id, code, params
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
    raise ZoneFileError(path, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}", zid,
                        code="unknown_keys", keys=unknown, allowed=sorted(allowed))


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ZoneFileError(path, f"cannot read: {exc.strerror or exc}", code="unreadable",
                            detail=str(exc.strerror or exc)) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ZoneFileError(path, f"neither JSON nor YAML: {exc}", code="not_json_or_yaml", detail=str(exc)) from exc


def _points(path: Path, zid: str | None, value: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ZoneFileError(path, f"{what} must be a list of [x, y] numbers", zid, code="points_not_numbers",
                            what=what) from exc
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ZoneFileError(path, f"{what} must be a list of [x, y] points, got shape {arr.shape}", zid,
                            code="points_shape", what=what, shape=list(arr.shape))
    if not np.isfinite(arr).all():
        raise ZoneFileError(path, f"{what} has non-finite coordinates", zid, code="points_not_finite", what=what)
    return arr


def check_polygon(path: Path, zid: str | None, poly: np.ndarray,
                  frame_size: tuple[int, int] | None) -> None:
    """Raise ZoneFileError for degenerate, self-intersecting or out-of-frame polygons."""
    if len(poly) < 3:
        raise ZoneFileError(path, f"polygon needs at least 3 points, got {len(poly)}", zid,
                            code="polygon_too_few_points", n=len(poly))
    shape = Polygon(poly)
    if not shape.is_valid or shape.area <= 1e-6:
        if make_valid(shape).area <= 1e-6:
            raise ZoneFileError(path, "polygon is degenerate (zero area)", zid, code="polygon_degenerate")
        why = explain_validity(shape)
        at = re.search(r"Self-intersection\[(\S+) (\S+)\]", why)
        if at:
            raise ZoneFileError(path, f"polygon is not simple: {why}", zid, code="polygon_self_intersection",
                                x=round(float(at.group(1)), 1), y=round(float(at.group(2)), 1))
        raise ZoneFileError(path, f"polygon is not simple: {why}", zid, code="polygon_not_simple", detail=why)
    if frame_size is not None:
        w, h = frame_size
        bad = (poly[:, 0] < 0) | (poly[:, 0] > w) | (poly[:, 1] < 0) | (poly[:, 1] > h)
        if bad.any():
            x, y = poly[np.flatnonzero(bad)[0]]
            raise ZoneFileError(path, f"point ({x:g}, {y:g}) lies outside the frame {w}x{h}", zid,
                                code="point_outside_frame", x=float(x), y=float(y), width=w, height=h)


def _frame_size(path: Path, value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ZoneFileError(path, f"frame_size must be [width, height] > 0, got {value!r}",
                            code="frame_size_invalid", value=repr(value))
    return int(value[0]), int(value[1])


def _rules(path: Path, value: Any, zid: str | None = None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ZoneFileError(path, "rules must be a mapping of rule fields", zid, code="rules_not_mapping")
    problem = rule_problem(value)
    if problem:
        raise ZoneFileError(path, problem.reason, zid, code="rule_invalid", field=problem.field,
                            kind=problem.kind, limit=problem.limit, detail=problem.detail)
    return dict(value)


def _zone(path: Path, raw: Any, index: int, frame_size: tuple[int, int] | None,
          default_violations: tuple[str, ...], lenient: bool, door_check: bool = True) -> Zone:
    if not isinstance(raw, dict):
        raise ZoneFileError(path, f"zones[{index}] must be a mapping", code="zone_not_mapping", index=index)
    zid = raw.get("zone_id")
    if not isinstance(zid, str | int) or isinstance(zid, bool) or str(zid).strip() == "":
        raise ZoneFileError(path, f"zones[{index}] needs a non-empty zone_id", code="zone_id_missing", index=index)
    zid = str(zid)
    _check_keys(path, raw, _ZONE_KEYS, zid, lenient=lenient)
    if "polygon" not in raw:
        raise ZoneFileError(path, "missing polygon", zid, code="polygon_missing")
    poly = _points(path, zid, raw["polygon"], "polygon")
    check_polygon(path, zid, poly, frame_size)
    door = None
    if raw.get("door_line") is not None:
        door = _points(path, zid, raw["door_line"], "door_line")
        if door.shape != (2, 2) or np.allclose(door[0], door[1]):
            raise ZoneFileError(path, "door_line must be two distinct points [[x, y], [x, y]]", zid,
                                code="door_line_invalid")
        problem = door_line_problem(poly, door) if door_check else None
        if problem is not None:
            raise ZoneFileError(path, problem.reason, zid, code=problem.code, **problem.params)
    violations = raw.get("violations", default_violations)
    if isinstance(violations, str):
        violations = [violations]
    if (not isinstance(violations, list | tuple) or not violations
            or any(v not in VIOLATIONS for v in violations)):
        raise ZoneFileError(path, f"violations must be a non-empty list of {', '.join(VIOLATIONS)}", zid,
                            code="violations_invalid", allowed=list(VIOLATIONS))
    shop = raw.get("shop_id")
    return Zone(zid, None if shop is None else str(shop), poly, door, tuple(violations),
                _rules(path, raw.get("rules"), zid))


def _zones(path: Path, raw: Any, frame_size: tuple[int, int] | None, default_violations: tuple[str, ...],
           lenient: bool = False, door_check: bool = True) -> list[Zone]:
    if not isinstance(raw, list) or not raw:
        raise ZoneFileError(path, "zones must be a non-empty list", code="zones_empty")
    zones = [_zone(path, z, i, frame_size, default_violations, lenient, door_check) for i, z in enumerate(raw)]
    seen: set[str] = set()
    for z in zones:
        if z.zone_id in seen:
            raise ZoneFileError(path, "duplicate zone_id", z.zone_id, code="duplicate_zone_id")
        seen.add(z.zone_id)
    return zones


def parse_zones(data: Any, path: str | Path = "<data>", *, door_check: bool = True) -> CameraZones:
    """Validate already-parsed zone data (either layout) into CameraZones. A door line must be a segment of
    its zone's edge (`zones.door`); `door_check=False` reads old files whose door line crosses the zone, only
    to migrate them."""
    path = Path(path)
    if not isinstance(data, dict):
        raise ZoneFileError(path, "top level must be a mapping", code="top_not_mapping")
    if "camera_id" not in data and "size" in data:  # dev-events clip layout
        _check_keys(path, data, _CLIP_KEYS, lenient=True)
        size = _frame_size(path, data.get("size"))
        raw_rules = data.get("rules") or {}
        if not isinstance(raw_rules, dict):
            raise ZoneFileError(path, "rules must be a mapping", code="rules_not_mapping")
        rules = _rules(path, raw_rules)
        zones = _zones(path, data.get("zones"), size, (PILED_GOODS,), lenient=True, door_check=door_check)
        return CameraZones(path.stem, None, size, zones, RuleConfig.model_validate(rules))
    _check_keys(path, data, _CAMERA_KEYS)
    cam = data.get("camera_id")
    if not isinstance(cam, str | int) or isinstance(cam, bool) or str(cam).strip() == "":
        raise ZoneFileError(path, "camera_id is required", code="camera_id_missing")
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
