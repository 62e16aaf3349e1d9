"""Event-level scoring of an edge worker's events (JSON lines, `--events-out`) against labelled clips in
the dev-events format (`clip.json`: zones, rules, truth). The rule is that of
`../shared/checks/score-events` (and of the clips the team has not seen):

- a truth interval is found when a `start` event in its zone has on <= ts <= off + clear_s + 5
  (each start counts for at most one interval);
- its end is found when an `end` event in its zone has off <= ts <= off + clear_s + 15;
- every start not used is a false start.
Pass: recall >= 0.9, precision >= 0.95, every alert within min_dwell_s + 5 s of `on`, >= 80 % of ends."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class EventScoreError(ValueError):
    """A clip or events file that cannot be read; names the file and the reason."""


@dataclass
class ClipScore:
    clip: str
    truth: int
    found: int
    starts: int
    false_starts: list[dict[str, Any]]
    tta: list[float]
    ends_ok: int
    ends_due: int


@dataclass
class EventScore:
    ok: bool
    recall: float
    precision: float
    tta_median_s: float | None
    tta_max_s: float | None
    dwell_s: float | None
    ends: str
    false_starts: int
    clips: list[ClipScore] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_clip(gt: dict[str, Any], events: list[dict[str, Any]], name: str = "") -> ClipScore:
    clear = float(gt["rules"]["clear_s"])
    starts = [e for e in events if e.get("phase") == "start"]
    ends = [e for e in events if e.get("phase") == "end"]
    used: set[int] = set()
    found, tta, ends_ok, ends_due = 0, [], 0, 0
    for t in gt["truth"]:
        hit = None
        for i, e in enumerate(starts):
            if i in used or str(e.get("zone_id")) != t["zone_id"]:
                continue
            if t["on"] <= float(e["ts"]) <= t["off"] + clear + 5:
                hit = i
                break
        if hit is not None:
            used.add(hit)
            found += 1
            tta.append(float(starts[hit]["ts"]) - t["on"])
        if not t.get("stays_to_end"):
            ends_due += 1
            if any(
                str(e.get("zone_id")) == t["zone_id"] and t["off"] <= float(e["ts"]) <= t["off"] + clear + 15
                for e in ends
            ):
                ends_ok += 1
    false_starts = [
        {"zone_id": e.get("zone_id"), "ts": e.get("ts"), "violation": e.get("violation")}
        for i, e in enumerate(starts)
        if i not in used
    ]
    return ClipScore(name or str(gt.get("video", "")), len(gt["truth"]), found, len(starts), false_starts, tta,
                     ends_ok, ends_due)


def total(clips: list[ClipScore], dwell: float | None) -> EventScore:
    truth = sum(c.truth for c in clips)
    found = sum(c.found for c in clips)
    starts = sum(c.starts for c in clips)
    false = sum(len(c.false_starts) for c in clips)
    tta = [t for c in clips for t in c.tta]
    ends_ok, ends_due = sum(c.ends_ok for c in clips), sum(c.ends_due for c in clips)
    recall = found / truth if truth else 0.0
    precision = (starts - false) / starts if starts else 0.0
    mx = max(tta) if tta else None
    ends_rate = ends_ok / ends_due if ends_due else 1.0
    ok = bool(
        recall >= 0.9 and precision >= 0.95 and mx is not None and dwell is not None and mx <= dwell + 5
        and ends_rate >= 0.8
    )
    return EventScore(
        ok=ok,
        recall=round(recall, 3),
        precision=round(precision, 3),
        tta_median_s=statistics.median(tta) if tta else None,
        tta_max_s=mx,
        dwell_s=dwell,
        ends=f"{ends_ok}/{ends_due}",
        false_starts=false,
        clips=clips,
    )


def _load_json(path: Path) -> dict[str, Any]:
    try:
        gt = json.loads(Path(path).read_text())
        gt["rules"]["clear_s"], gt["rules"]["min_dwell_s"]  # noqa: B018  (both are required)
        for t in gt["truth"]:
            t["zone_id"], t["on"], t["off"]  # noqa: B018
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EventScoreError(f"{path}: not a dev-events clip file ({type(exc).__name__}: {exc})") from exc
    return gt


def _load_events(path: Path) -> list[dict[str, Any]]:
    events = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise EventScoreError(f"{path}: {exc}") from exc
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            if e.get("phase") in ("start", "end"):
                float(e["ts"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EventScoreError(f"{path}:{i}: not an event line ({exc})") from exc
        events.append(e)
    return events


def score_files(pairs: list[tuple[Path, Path]]) -> EventScore:
    """(clip.json, events.jsonl) pairs → the totals and one score per clip."""
    if not pairs:
        raise EventScoreError("no clip / events pairs given")
    clips, dwell = [], None
    for clip_path, events_path in pairs:
        gt = _load_json(clip_path)
        dwell = float(gt["rules"]["min_dwell_s"])
        clips.append(score_clip(gt, _load_events(events_path), name=Path(clip_path).name))
    return total(clips, dwell)
