"""Per-violation scoring of an edge worker's events against clips whose truth names the violation.

The matching is `models.event_scoring`'s (a truth interval is found by a `start` in its zone with
on <= ts <= off + clear_s + 5, each start used once), done per violation: a `cross_door_trading` truth is
found only by a `cross_door_trading` start. On top:
- precision per violation: the starts of that violation that found a truth of it, over all its starts;
- label accuracy: of the truth intervals that raised anything in their window, the share whose first start
  there names the right violation; `confusion[truth][raised]` counts them.

    .venv/bin/python -m models.violation_scoring CLIP.json EVENTS.jsonl [CLIP.json EVENTS.jsonl ...]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

VIOLATIONS = ("cross_door_trading", "piled_goods")  # wire.schema.VIOLATIONS (models may not import wire)


def _window(t: dict[str, Any], clear: float) -> tuple[float, float]:
    return float(t["on"]), float(t["off"]) + clear + 5.0


def score_clip(gt: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts for one clip: per violation truth/found/starts/matched, and the label confusion."""
    clear = float(gt["rules"]["clear_s"])
    starts = [e for e in events if e.get("phase") == "start"]
    used: set[int] = set()
    out: dict[str, Any] = {v: {"truth": 0, "found": 0, "starts": 0, "matched": 0} for v in VIOLATIONS}
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for t in gt["truth"]:
        v = t.get("violation", "piled_goods")
        out[v]["truth"] += 1
        lo, hi = _window(t, clear)
        here = [i for i, e in enumerate(starts) if str(e.get("zone_id")) == t["zone_id"] and lo <= float(e["ts"]) <= hi]
        hit = next((i for i in here if i not in used and starts[i].get("violation") == v), None)
        if hit is not None:
            used.add(hit)
            out[v]["found"] += 1
        if here:
            first = min(here, key=lambda i: float(starts[i]["ts"]))
            confusion[v][str(starts[first].get("violation"))] += 1
    for i, e in enumerate(starts):
        v = str(e.get("violation"))
        if v in out:
            out[v]["starts"] += 1
            out[v]["matched"] += int(i in used)
    out["confusion"] = {k: dict(c) for k, c in confusion.items()}
    return out


def total(clips: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall, precision and label accuracy over clips scored by `score_clip`."""
    res: dict[str, Any] = {}
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in clips:
        for k, row in c["confusion"].items():
            for raised, n in row.items():
                confusion[k][raised] += n
    for v in VIOLATIONS:
        truth = sum(c[v]["truth"] for c in clips)
        found = sum(c[v]["found"] for c in clips)
        starts = sum(c[v]["starts"] for c in clips)
        matched = sum(c[v]["matched"] for c in clips)
        res[v] = {"truth": truth, "found": found, "recall": round(found / truth, 3) if truth else None,
                  "starts": starts, "false_starts": starts - matched,
                  "precision": round(matched / starts, 3) if starts else None}
    raised = sum(n for row in confusion.values() for n in row.values())
    right = sum(confusion[v].get(v, 0) for v in confusion)
    res["label_accuracy"] = round(right / raised, 3) if raised else None
    res["confusion"] = {k: dict(c) for k, c in confusion.items()}
    return res


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        raise SystemExit(__doc__)
    clips = []
    for gpath, epath in zip(argv[::2], argv[1::2], strict=True):
        gt = json.loads(Path(gpath).read_text())
        events = [json.loads(line) for line in Path(epath).read_text().splitlines() if line.strip()]
        clips.append(score_clip(gt, events))
        print(json.dumps({"clip": gpath, **clips[-1]}))
    print(json.dumps(total(clips)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
