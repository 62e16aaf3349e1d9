"""The piled-goods rule on what the static-object model measured, and the `Condition` both rules give.

Their parameters are `zones.rules.RuleConfig`. The rule functions say whether a violation condition holds in
a zone right now; timing (dwell, clear, cool-down) lives in `edge.lifecycle`. Cross-door trading, which needs
track identity and stillness, is `edge.trading`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zones.rules import RuleConfig

HOLD_FRACTION = 0.5  # hysteresis: share of min_coverage that keeps a running violation


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
