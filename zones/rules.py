"""Rule parameters of a camera file: `RuleConfig` holds every tunable of zone analysis.

A camera file sets the defaults and a zone may override single fields; `edge.rules` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models import classes


class RuleConfig(BaseModel):
    """Timers are in seconds of stream time, so they hold at any analysis frame rate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_dwell_s: float = Field(120.0, ge=0.0, le=86_400.0, description="violation must last this long")
    clear_s: float = Field(10.0, ge=0.0, le=3_600.0, description="zone must stay clear this long to end")
    cooldown_s: float = Field(15.0, ge=0.0, le=86_400.0, description="no new start in a zone after an end")
    update_interval_s: float = Field(60.0, ge=1.0, le=86_400.0, description="period of `update` phases")
    dwell_grace_s: float = Field(3.0, ge=0.0, le=600.0, description="gaps this short keep a dwell timer")
    min_coverage: float = Field(
        0.025, ge=0.0, le=1.0, description="piled goods: fraction of the zone covered by static foreground"
    )
    static_after_s: float = Field(
        3.0, ge=0.0, le=600.0, description="foreground unchanged this long becomes a static object"
    )
    shake_px: float = Field(
        3.0, ge=0.0, le=20.0, description="camera shake (full-res px) the static-object model tolerates"
    )
    anchor: Literal["bottom_center", "center", "overlap"] = "bottom_center"
    min_overlap: float = Field(0.3, ge=0.0, le=1.0, description="box fraction inside a zone (anchor=overlap)")
    require_person: bool = Field(False, description="cross-door trading needs a person tending the goods")
    trading_still_s: float = Field(
        20.0, ge=0.0, le=3_600.0,
        description="cross-door trading: a person, goods or vehicle counts only on a track standing still this long "
        "(passers-by and brief stops never do)",
    )
    goods_min_confidence: float = Field(
        0.45, ge=0.0, le=1.0,
        description="cross-door trading: a still goods-class track needs this mean score to count by itself",
    )
    tend_reach: float = Field(
        0.6, ge=0.0, le=10.0,
        description="cross-door trading: a still person within this many of their own heights tends an object",
    )
    min_confidence: float = Field(0.25, ge=0.0, le=1.0)
    person_max_aspect: float = Field(
        1.25, gt=0.0, le=100.0,
        description="a person box wider than this times its height does not mask the static-object model: "
        "standing people are about 0.4 wide for 1 tall, and a sack the detector calls a person is not one",
    )
    person_classes: tuple[str, ...] = Field(default_factory=lambda: tuple(sorted(classes.PERSON)))
    vehicle_classes: tuple[str, ...] = Field(default_factory=lambda: tuple(sorted(classes.VEHICLE)))
    goods_classes: tuple[str, ...] = Field(default_factory=lambda: tuple(sorted(classes.GOODS)))

    def merged(self, overrides: dict[str, Any] | None) -> RuleConfig:
        """These rules with a zone's overrides applied (validated like the whole config)."""
        if not overrides:
            return self
        return RuleConfig.model_validate({**self.model_dump(), **overrides})


@dataclass(frozen=True)
class RuleProblem:
    """The first thing wrong with rule overrides: the field, a stable `kind` (see _KINDS; "invalid" for the
    rest), the limit it broke (a bound, or the allowed values) and the English reason."""

    field: str
    kind: str
    limit: Any
    detail: str

    @property
    def reason(self) -> str:
        return f"rules.{self.field}: {self.detail}"


# pydantic error types → a kind a user interface can put in words
_KINDS = {"greater_than_equal": ("at_least", "ge"), "greater_than": ("more_than", "gt"),
          "less_than_equal": ("at_most", "le"), "less_than": ("less_than", "lt"),
          "float_parsing": ("not_a_number", None), "float_type": ("not_a_number", None),
          "bool_parsing": ("not_a_boolean", None), "bool_type": ("not_a_boolean", None),
          "extra_forbidden": ("unknown_rule", None), "literal_error": ("not_allowed", "expected")}


def rule_problem(overrides: dict[str, Any]) -> RuleProblem | None:
    """None when the overrides are valid RuleConfig fields, else what is wrong with the first bad one."""
    try:
        RuleConfig.model_validate(overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        kind, key = _KINDS.get(first["type"], ("invalid", None))
        name = ".".join(str(p) for p in first["loc"])
        limit = (first.get("ctx") or {}).get(key) if key else None
        if kind == "not_allowed" and name in RuleConfig.model_fields:  # the allowed values, not pydantic's prose
            limit = list(get_args(RuleConfig.model_fields[name].annotation))
        return RuleProblem(name, kind, limit if isinstance(limit, int | float | str | list) else None, first["msg"])
    return None


def check_overrides(overrides: dict[str, Any]) -> str | None:
    """None when the overrides are valid RuleConfig fields, else a one-line reason."""
    problem = rule_problem(overrides)
    return None if problem is None else problem.reason
