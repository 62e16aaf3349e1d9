"""Per-violation scoring: a start of the other violation finds nothing, and counts against the label."""

from __future__ import annotations

from models.violation_scoring import score_clip, total

GT = {"rules": {"clear_s": 10}, "truth": [
    {"zone_id": "a", "violation": "cross_door_trading", "on": 10, "off": 60},
    {"zone_id": "b", "violation": "piled_goods", "on": 10, "off": 60},
    {"zone_id": "c", "violation": "piled_goods", "on": 10, "off": 60},
]}


def test_per_violation_recall_precision_and_label_accuracy() -> None:
    events = [
        {"phase": "start", "zone_id": "a", "violation": "cross_door_trading", "ts": 40},  # right
        {"phase": "start", "zone_id": "b", "violation": "cross_door_trading", "ts": 41},  # wrong label
        {"phase": "start", "zone_id": "b", "violation": "piled_goods", "ts": 45},  # right, but second
        {"phase": "start", "zone_id": "d", "violation": "piled_goods", "ts": 45},  # nothing there
        {"phase": "end", "zone_id": "a", "violation": "cross_door_trading", "ts": 65},
    ]
    res = total([score_clip(GT, events)])
    assert res["cross_door_trading"] == {"truth": 1, "found": 1, "recall": 1.0, "starts": 2, "false_starts": 1,
                                         "precision": 0.5}
    assert res["piled_goods"] == {"truth": 2, "found": 1, "recall": 0.5, "starts": 2, "false_starts": 1,
                                  "precision": 0.5}
    assert res["label_accuracy"] == 0.5  # a: trading first (right); b: trading first (wrong); c: nothing
    assert res["confusion"] == {"cross_door_trading": {"cross_door_trading": 1},
                                "piled_goods": {"cross_door_trading": 1}}
