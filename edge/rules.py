"""Rule parameters for zone analysis and the two violation rules (cross-door trading, piled goods).

`RuleConfig` holds every tunable; a camera file sets the defaults and a zone may override single fields.
The rule functions here are pure: they take what the scene models measured and say whether a violation
condition holds in a zone right now; timing (dwell, clear, cool-down) lives in `edge.lifecycle`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PILED_GOODS = "piled_goods"
CROSS_DOOR_TRADING = "cross_door_trading"
VIOLATIONS: tuple[str, ...] = (CROSS_DOOR_TRADING, PILED_GOODS)
HOLD_FRACTION = 0.5  # hysteresis: share of min_coverage that keeps a running violation

# Fallback class groups (COCO names) used when models.classes is not available.
_PERSON = ("person",)
_VEHICLE = ("bicycle", "car", "motorcycle", "bus", "truck", "train")
_GOODS = (
    "backpack", "umbrella", "handbag", "suitcase", "bottle", "cup", "bowl", "banana", "apple",
    "orange", "broccoli", "carrot", "chair", "potted plant", "bench", "vase",
)


def _class_group(name: str, fallback: tuple[str, ...]) -> tuple[str, ...]:
    try:  # helper A's shared class groups, when present
        from models import classes  # type: ignore[attr-defined]

        return tuple(sorted(getattr(classes, name)))
    except (ImportError, AttributeError):
        return fallback


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
    min_confidence: float = Field(0.25, ge=0.0, le=1.0)
    person_max_aspect: float = Field(
        1.25, gt=0.0, le=100.0,
        description="a person box wider than this times its height does not mask the static-object model: "
        "standing people are about 0.4 wide for 1 tall, and a sack the detector calls a person is not one",
    )
    person_classes: tuple[str, ...] = Field(default_factory=lambda: _class_group("PERSON", _PERSON))
    vehicle_classes: tuple[str, ...] = Field(default_factory=lambda: _class_group("VEHICLE", _VEHICLE))
    goods_classes: tuple[str, ...] = Field(default_factory=lambda: _class_group("GOODS", _GOODS))

    def merged(self, overrides: dict[str, Any] | None) -> RuleConfig:
        """These rules with a zone's overrides applied (validated like the whole config)."""
        if not overrides:
            return self
        return RuleConfig.model_validate({**self.model_dump(), **overrides})


def check_overrides(overrides: dict[str, Any]) -> str | None:
    """None when the overrides are valid RuleConfig fields, else a one-line reason."""
    try:
        RuleConfig.model_validate(overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"rules.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return None


@dataclass(frozen=True)
class Condition:
    """Whether a violation holds in a zone at one instant, how strongly, and where."""

    present: bool
    score: float
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    backdate_s: float = 0.0  # the condition began this long before it was first reported


def piled_goods(coverage: float, boxes: np.ndarray, rules: RuleConfig, onset_age_s: float | None = None,
                holding: bool = False) -> Condition:
    """Static foreground covering at least `min_coverage` of the zone; `onset_age_s` says how long ago the
    objects first appeared (the dwell counts from then), default `static_after_s`. While a violation is
    already running or pending (`holding`), half the coverage keeps it, so a pile that straddles the
    threshold does not split into several episodes."""
    need = rules.min_coverage * (HOLD_FRACTION if holding else 1.0)
    present = coverage >= need and len(boxes) > 0
    score = float(min(1.0, coverage / max(rules.min_coverage, 1e-6) / 2.0)) if present else 0.0
    backdate = rules.static_after_s if onset_age_s is None else onset_age_s
    return Condition(present, score, boxes if present else np.zeros((0, 4), np.float32), backdate)


def cross_door_trading(goods_boxes: np.ndarray, goods_conf: np.ndarray, persons_in_zone: int,
                       rules: RuleConfig) -> Condition:
    """Goods-like detector objects in the zone (beyond the door line), optionally tended by a person."""
    present = len(goods_boxes) > 0 and (persons_in_zone > 0 or not rules.require_person)
    score = float(goods_conf.max()) if present else 0.0
    return Condition(present, score, goods_boxes if present else np.zeros((0, 4), np.float32))
