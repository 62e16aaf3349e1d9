"""RuleConfig validation and the pure rule conditions."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from edge.rules import piled_goods
from zones.rules import RuleConfig, check_overrides

BOX = np.array([[10, 10, 40, 40]], np.float32)


def test_defaults_and_frozen() -> None:
    r = RuleConfig()
    assert r.min_dwell_s == 120 and r.clear_s == 10 and r.anchor == "bottom_center"
    assert "person" in r.person_classes and "car" in r.vehicle_classes
    assert not set(r.person_classes) & set(r.goods_classes)
    with pytest.raises(ValidationError):
        r.min_dwell_s = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"min_dwell_s": -1}, "greater than or equal"),
        ({"min_coverage": 1.5}, "less than or equal"),
        ({"anchor": "top"}, "bottom_center"),
        ({"dwell": 3}, "Extra inputs"),
        ({"update_interval_s": 0}, "greater than or equal"),
    ],
)
def test_bad_fields(fields: dict, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        RuleConfig(**fields)
    assert check_overrides(fields) is not None


def test_merged_overrides_validated() -> None:
    r = RuleConfig(min_dwell_s=30)
    z = r.merged({"min_coverage": 0.2})
    assert (z.min_dwell_s, z.min_coverage) == (30, 0.2)
    assert r.merged(None) is r
    with pytest.raises(ValidationError):
        r.merged({"clear_s": -3})


@pytest.mark.parametrize(
    ("coverage", "holding", "present"),
    [(0.0, False, False), (0.02, False, False), (0.03, False, True), (0.02, True, True), (0.01, True, False)],
)
def test_piled_goods_threshold_with_hysteresis(coverage: float, holding: bool, present: bool) -> None:
    r = RuleConfig(min_coverage=0.03)
    c = piled_goods(coverage, BOX, r, onset_age_s=7.0, holding=holding)
    assert c.present is present
    assert (c.score > 0) is present and len(c.boxes) == (1 if present else 0)
    assert c.backdate_s == 7.0


def test_piled_goods_needs_an_object_box() -> None:
    assert not piled_goods(0.5, np.zeros((0, 4), np.float32), RuleConfig()).present
