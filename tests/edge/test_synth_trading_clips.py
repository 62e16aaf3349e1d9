"""scripts/synth_trading_clips.py: labelled trading / piled-goods clips whose zone files the edge loads."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import pytest

from zones.io import load_zones

REPO = Path(__file__).resolve().parents[2]


def _load(name: str):  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_a_short_clip_has_labels_door_lines_on_the_edge_and_loads(tmp_path: Path, data_dir: Path,
                                                                  models_dir: Path) -> None:
    _load("synth_event_clips")
    synth = _load("synth_trading_clips")
    footage = synth.load_footage(data_dir / "pets2009" / "vtest.avi", max_frames=200)
    libs = synth.libraries(footage, models_dir / "yolox_nano.onnx", data_dir / "sidewalk-bags" / "valid")
    clip = synth.make_clip(0, 5, footage, libs, tmp_path, seconds=60.0)
    meta = json.loads(clip.read_text())
    zones = load_zones(clip)  # door lines on the zone's edge, or this raises
    assert len(zones.zones) == 6 and all(z.door_line is not None for z in zones.zones)
    assert all(set(z.violations) == {"piled_goods", "cross_door_trading"} for z in zones.zones)
    kinds = [t["kind"] for t in meta["truth"]] + [n["kind"] for n in meta["negatives"]]
    assert "tended" in kinds and len(kinds) == 6
    assert all(t["violation"] == synth.TRUTH_KINDS[t["kind"]] for t in meta["truth"])
    cap = cv2.VideoCapture(str(clip.with_suffix(".mp4")))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == round(meta["duration_s"] * 10) == 598  # 200 frames, fwd-back-fwd
