"""What is wrong with a drawing, in the operator's language: the zone editor's problems carry a stable code
and params (from `zones.io`, `zones.check` and `central.domain.zone_editor`, which know nothing of
languages); each code has a catalog message here. A code without one (a newer `zones`) falls back to the
English reason rather than failing."""

from __future__ import annotations

from typing import Any

from central import i18n
from central.domain.zone_editor import ZoneProblem
from central.i18n import N_
from central.web.render import VIOLATION_LABEL

REASONS: dict[str, str] = {
    # zones.io
    "unreadable": N_("cannot read the zones: %(detail)s"),
    "not_json_or_yaml": N_("the zones are neither JSON nor YAML."),
    "top_not_mapping": N_("the zones document must be an object."),
    "camera_id_missing": N_("the camera id is missing."),
    "unknown_keys": N_("unknown field(s) %(keys)s; allowed: %(allowed)s."),
    "frame_size_invalid": N_("the picture size must be a width and a height above 0, not %(value)s."),
    "rules_not_mapping": N_("the rules must be a set of named values."),
    "zones_empty": N_("there is no zone: draw at least one."),
    "zone_not_mapping": N_("zone number %(index)s is not an object."),
    "zone_id_missing": N_("zone number %(index)s needs an id."),
    "duplicate_zone_id": N_("another zone has the same id."),
    "polygon_missing": N_("the zone has no polygon."),
    "points_not_numbers": N_("%(what)s must be a list of [x, y] numbers."),
    "points_shape": N_("%(what)s must be a list of [x, y] points."),
    "points_not_finite": N_("%(what)s has coordinates that are not finite numbers."),
    "polygon_too_few_points": N_("the polygon needs at least 3 points; it has %(n)s."),
    "polygon_degenerate": N_("the polygon has no area (its points lie on one line)."),
    "polygon_self_intersection": N_("the polygon is not simple: its edges cross at (%(x)s, %(y)s)."),
    "polygon_not_simple": N_("the polygon is not simple: its edges cross."),
    "point_outside_frame": N_("point (%(x)s, %(y)s) lies outside the %(width)s × %(height)s picture."),
    "door_line_invalid": N_("the door line must be two different points."),
    "violations_invalid": N_("the violations must be one or more of: %(allowed)s."),
    # zones.check
    "door_point_off_edge": N_("door line point %(n)s (%(x)s, %(y)s) is %(distance)s px off the zone's edge "
                              "(the door is on its edge)."),
    "door_line_crosses_zone": N_("the door line crosses the zone (%(distance)s px off its edge between its "
                                 "ends): draw it along the zone's edge, where the shop's front is."),
    "zones_overlap": N_("overlaps zone %(other)s (shop %(shop)s) by %(share)s of the smaller zone "
                        "(at most %(tolerance)s)."),
    "shop_not_registered": N_("shop %(shop)s is not in the registry."),
    "central_unreachable": N_("could not ask central about shop %(shop)s."),
    # central.domain.zone_editor
    "document_not_object": N_("the zones document must be a JSON object."),
    "document_too_large": N_("the zones document is over %(limit)s bytes."),
    "camera_id_mismatch": N_("the zones are for another camera: this is camera %(camera)s."),
    "point_outside_picture": N_("point %(n)s (%(x)s, %(y)s) lies outside the %(width)s × %(height)s picture."),
    "unknown_shop": N_("unknown shop %(shop)s."),
    "camera_site_unknown": N_("camera %(camera)s has never reported: its site is unknown."),
}

# zones.rules.RuleProblem.kind → message (params: field, limit)
RULE_REASONS: dict[str, str] = {
    "at_least": N_("rule %(field)s must be at least %(limit)s."),
    "more_than": N_("rule %(field)s must be more than %(limit)s."),
    "at_most": N_("rule %(field)s must be at most %(limit)s."),
    "less_than": N_("rule %(field)s must be less than %(limit)s."),
    "not_a_number": N_("rule %(field)s must be a number."),
    "not_a_boolean": N_("rule %(field)s must be true or false."),
    "unknown_rule": N_("there is no rule called %(field)s."),
    "not_allowed": N_("rule %(field)s must be one of %(limit)s."),
    "invalid": N_("rule %(field)s has a value that is not allowed."),
}

WHAT = {"polygon": N_("the polygon"), "door_line": N_("the door line")}
PERCENT_PARAMS = {"share", "tolerance"}
ONE_BASED = {"index"}  # zones.io counts zones from 0; people from 1


def _value(t: i18n.Translator, name: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if name in PERCENT_PARAMS and isinstance(value, int | float):
        return t.percent(value, "#,##0%")
    if name in ONE_BASED and isinstance(value, int):
        return t.number(value + 1)
    if name in ("width", "height", "limit") and isinstance(value, int):
        return str(value)  # a size or a byte limit reads best without grouping: 1920 × 1080
    if isinstance(value, int | float):
        return t.number(value)
    if name == "what":
        return t.gettext(WHAT[value]) if value in WHAT else value
    if name == "allowed" and isinstance(value, list) and all(v in VIOLATION_LABEL for v in value):
        return t.gettext(", ").join(t.gettext(VIOLATION_LABEL[v]) for v in value)
    if isinstance(value, list | tuple):
        return t.gettext(", ").join(str(v) for v in value)
    return str(value)


def zone_reason(t: i18n.Translator, problem: ZoneProblem) -> str:
    """The problem in `t`'s language; its English reason for a code without a message."""
    if problem.code == "rule_invalid":
        message = RULE_REASONS.get(str(problem.params.get("kind")), RULE_REASONS["invalid"])
    else:
        message = REASONS.get(problem.code, "")
    if not message:
        return problem.reason
    params = {k: _value(t, k, v) for k, v in problem.params.items()}
    try:
        return t.gettext(message, **params) if params else t.gettext(message)
    except (KeyError, TypeError, ValueError):  # a translation that names a param the problem lacks
        return problem.reason


def translated(t: i18n.Translator, problem: ZoneProblem) -> dict[str, Any]:
    """The problem as the editor's script reads it, its reason in `t`'s language."""
    return {**problem.as_dict(), "reason": zone_reason(t, problem)}
