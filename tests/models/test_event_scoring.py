"""Event-level scoring: the same answers as ../shared/checks/score-events on the dev-events clips."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from central.models_cli import main as doorline_models
from models.event_scoring import EventScoreError, score_files


def _events(clip: dict, *, late: float = 0.0, extra_false: int = 0, ends: bool = True) -> list[dict]:
    out = []
    for t in clip["truth"]:
        out.append({"zone_id": t["zone_id"], "phase": "start", "ts": t["on"] + 20 + late, "violation": "piled_goods"})
        if ends and not t.get("stays_to_end"):
            out.append({"zone_id": t["zone_id"], "phase": "end", "ts": t["off"] + 12, "violation": "piled_goods"})
    neg = clip["negatives"][0] if clip.get("negatives") else {"zone_id": "dz-x"}
    zone = neg["zone_id"] if isinstance(neg, dict) else neg
    out += [{"zone_id": zone, "phase": "start", "ts": 50.0 + i, "violation": "piled_goods"} for i in range(extra_false)]
    return out


@pytest.mark.parametrize(("late", "extra_false", "ends"), [(0.0, 0, True), (30.0, 1, False), (500.0, 0, True)])
def test_same_totals_as_the_shared_check(shared_dir: Path, tmp_path: Path, late, extra_false, ends) -> None:
    clips = sorted((shared_dir / "data" / "dev-events").glob("clip_*.json"))
    assert len(clips) == 2
    argv: list[str] = []
    for clip in clips:
        path = tmp_path / f"{clip.stem}.jsonl"
        events = _events(json.loads(clip.read_text()), late=late, extra_false=extra_false, ends=ends)
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        argv += [str(clip), str(path)]
    ref = subprocess.run([sys.executable, str(shared_dir / "checks" / "score-events"), *argv],
                         capture_output=True, text=True, check=False)
    expected = json.loads(ref.stdout.strip().splitlines()[-1])
    got = score_files([(Path(a), Path(b)) for a, b in zip(argv[::2], argv[1::2], strict=True)]).to_dict()
    for key in ("ok", "recall", "precision", "tta_median_s", "tta_max_s", "ends", "false_starts"):
        assert got[key] == expected[key], key
    assert (ref.returncode == 0) == got["ok"]
    code = doorline_models(["eval-events", *argv, "--json", str(tmp_path / "s.json")])
    assert code == ref.returncode and json.loads((tmp_path / "s.json").read_text())["ok"] == got["ok"]


def test_bad_files_are_named(tmp_path: Path, shared_dir: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(EventScoreError, match="bad.json: not a dev-events clip"):
        score_files([(bad, tmp_path / "none.jsonl")])
    lines = tmp_path / "e.jsonl"
    lines.write_text('{"phase": "start", "ts": "soon"}\n')
    with pytest.raises(EventScoreError, match="e.jsonl:1"):
        score_files([(shared_dir / "data" / "dev-events" / "clip_00.json", lines)])
    assert doorline_models(["eval-events", str(bad)]) == 2 and "pairs" in capsys.readouterr().err
