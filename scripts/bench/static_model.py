"""Static-object model cost per analysed frame on ../shared/data/pets2009/vtest.avi (768x576).

    .venv/bin/python scripts/bench/static_model.py [--baseline REV] [--frames 100] [--rounds 5] [--out FILE]

Times `StaticBank.update` (edge/background/: every piled-goods zone of a camera in one pass) per analysed
frame at 2 fps (every 5th frame of the 10 fps clip, so the model runs a full step on each), with three
zone layouts:
- pets-5: the 5 shop zones of scripts/bench/edge_zones.yaml (the camera the pipeline benchmark runs);
- grid-5 and grid-50: the 5 x 1 and 10 x 5 grids of strips of edge_pipeline.py's part 5.
The mover boxes (people and vehicles, which the model masks out) are the ones SceneAnalyzer passes on the
clip's real detections (yolox_nano, tracked), recorded once and replayed, so only the model is timed.

`--baseline REV` also loads the model (edge/background.py or edge/background/) as it is at git revision REV
and times it beside the working
tree's in alternating rounds (a shared machine's drift hits both alike), and checks that both give the same
states on every frame. The first `--warmup` frames of each run (the model's warm-up, 4 s of stream time) are
not timed; each figure is the median over rounds of CPU ms per frame (and the best round's). Prints a table and writes
var/bench/static_model.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]

import edge.analyzer as analyzer_mod  # noqa: E402
from edge import background  # noqa: E402
from edge.tracker import ByteTracker  # noqa: E402
from models.registry import load_detector  # noqa: E402
from zones.io import load_zones, parse_zones  # noqa: E402
from zones.model import CameraZones  # noqa: E402

SHARED = Path(os.environ.get("DOORLINE_SHARED", ROOT.parent / "shared"))
ZONES = ROOT / "scripts" / "bench" / "edge_zones.yaml"


def load() -> float:
    return os.getloadavg()[0]


def grid(n: int, cols: int, w: int, h: int) -> CameraZones:
    """edge_pipeline.py's part 5 layout: strips on the lower half of each cell, watched for piled goods."""
    zw, zh = w / cols, h / (n // cols) / 2
    zones = [
        {
            "zone_id": f"g{k}",
            "shop_id": f"s{k}",
            "polygon": [[x, y + zh], [x + zw - 4, y + zh], [x + zw - 4, y + 2 * zh - 4], [x, y + 2 * zh - 4]],
            "violations": ["piled_goods"],
        }
        for k in range(n)
        for x, y in [((k % cols) * zw, (k // cols) * 2 * zh)]
    ]
    return parse_zones({"camera_id": "grid", "frame_size": [w, h], "zones": zones})


def baseline_module(rev: str) -> ModuleType:
    """The static-object model at git revision `rev` (the module edge/background.py, or the package
    edge/background/ it became), as a module of its own."""

    def show(path: str) -> str:
        return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout

    listed = subprocess.run(["git", "ls-tree", "--name-only", rev, "edge/background/"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    name = f"edge_background_{rev}".replace("-", "_").replace("~", "_").replace("^", "_")
    if not listed:  # a single module
        spec = importlib.util.spec_from_loader(name, loader=None)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        exec(compile(show("edge/background.py"), f"{rev}:edge/background.py", "exec"), module.__dict__)
        return module
    folder = Path(tempfile.mkdtemp(prefix="bg-baseline-")) / name
    folder.mkdir()
    for path in listed:  # the package's own imports point at this copy
        (folder / Path(path).name).write_text(show(path).replace("edge.background.", f"{name}."))
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def record(zones: CameraZones, images: list[np.ndarray], detections: list) -> tuple[dict, tuple, list]:
    """What SceneAnalyzer hands its StaticBank: the zones it is built with and each frame's update."""
    made: dict = {}
    calls: list = []

    class Recorder(background.StaticBank):
        def __init__(self, zone_map: dict, frame_size: tuple[int, int]) -> None:
            made.update(zones=zone_map, frame_size=frame_size)
            super().__init__(zone_map, frame_size)

        def update(self, frame_bgr: np.ndarray, ts: float, movers: dict, standing: dict | None = None) -> dict:
            calls.append((frame_bgr, ts, movers, standing))
            return super().update(frame_bgr, ts, movers, standing)

    real = analyzer_mod.StaticBank
    analyzer_mod.StaticBank = Recorder  # type: ignore[misc]
    try:
        analyzer = analyzer_mod.SceneAnalyzer(zones)
        tracker = ByteTracker()
        for i, (image, dets) in enumerate(zip(images, detections, strict=True)):
            analyzer.update(image, i / 2, tracker.update(dets, i / 2))
    finally:
        analyzer_mod.StaticBank = real  # type: ignore[misc]
    return made["zones"], made["frame_size"], calls


def run(module: ModuleType, zone_map: dict, frame_size: tuple[int, int], calls: list, warmup: int
        ) -> tuple[float, float, list]:
    """CPU and wall ms per frame after `warmup` frames, and every frame's states."""
    bank = module.StaticBank(zone_map, frame_size)
    if "standing" not in inspect.signature(bank.update).parameters:  # a revision from before edge/standing.py
        calls = [call[:3] for call in calls]
    states = [bank.update(*call) for call in calls[:warmup]]
    c, t = time.process_time(), time.perf_counter()
    states += [bank.update(*call) for call in calls[warmup:]]
    n = len(calls) - warmup
    return 1000 * (time.process_time() - c) / n, 1000 * (time.perf_counter() - t) / n, states


def same(a: list, b: list) -> bool:
    """Both runs gave the same states on every frame (float rounding aside)."""
    for x, y in zip(a, b, strict=True):
        if x.keys() != y.keys():
            return False
        for z in x:
            s, r = x[z], y[z]
            if (s.ready != r.ready or s.boxes.shape != r.boxes.shape or not np.allclose(s.boxes, r.boxes)
                    or not np.allclose([s.coverage, s.known, s.onset_age_s, *s.gain],
                                       [r.coverage, r.known, r.onset_age_s, *r.gain], rtol=1e-6, atol=1e-9)):
                return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=SHARED / "data" / "pets2009" / "vtest.avi")
    ap.add_argument("--model", type=Path, default=SHARED / "models" / "yolox_nano.onnx")
    ap.add_argument("--frames", type=int, default=100, help="analysed frames (2 fps: every 5th of the clip)")
    ap.add_argument("--warmup", type=int, default=10, help="first frames of each run not timed")
    ap.add_argument("--rounds", type=int, default=5, help="runs per layout and implementation (median)")
    ap.add_argument("--baseline", default=None, metavar="REV",
                    help="also time the static-object model at this git revision, alternating with the working tree's")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "static_model.json")
    args = ap.parse_args()

    cap = cv2.VideoCapture(str(args.video))
    images: list[np.ndarray] = []
    k = 0
    while len(images) < args.frames:
        ok, image = cap.read()
        if not ok:
            break
        if k % 5 == 0:
            images.append(image)
        k += 1
    cap.release()
    if len(images) <= args.warmup:
        raise SystemExit(f"{args.video}: only {len(images)} analysed frames")
    h, w = images[0].shape[:2]
    detector = load_detector(str(args.model), threads=2)
    detections = [detector.detect([image])[0] for image in images]

    impls: dict[str, ModuleType] = {"current": background}
    if args.baseline:
        impls = {f"baseline {args.baseline}": baseline_module(args.baseline), **impls}
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "opencv": cv2.__version__, "opencv_threads": cv2.getNumThreads(), "numpy": np.__version__,
                    "load_start": load()},
        "video": str(args.video), "frames": len(images), "warmup": args.warmup, "rounds": args.rounds,
        "layouts": [],
    }
    layouts = {"pets-5": load_zones(ZONES), "grid-5": grid(5, 5, w, h), "grid-50": grid(50, 10, w, h)}
    for name, zones in layouts.items():
        zone_map, frame_size, calls = record(zones, images, detections)
        cpu: dict[str, list[float]] = {k: [] for k in impls}
        wall: dict[str, list[float]] = {k: [] for k in impls}
        states: dict[str, list] = {}
        for r in range(args.rounds):
            for label in (list(impls) if r % 2 == 0 else list(impls)[::-1]):
                c, t, got = run(impls[label], zone_map, frame_size, calls, args.warmup)
                cpu[label].append(c)
                wall[label].append(t)
                states.setdefault(label, got)
        row: dict = {"layout": name, "zones": len(zone_map),
                     "sheets": {k: len(m.StaticBank(zone_map, frame_size).sheets) for k, m in impls.items()}}
        for label in impls:
            row[label] = {"cpu_ms_per_frame": statistics.median(cpu[label]), "cpu_ms_best": min(cpu[label]),
                          "cpu_ms_per_round": cpu[label], "wall_ms_per_frame": statistics.median(wall[label])}
        if args.baseline:
            base = next(iter(impls))
            row["speedup"] = row[base]["cpu_ms_per_frame"] / row["current"]["cpu_ms_per_frame"]
            row["speedup_per_round"] = [b / c for b, c in zip(cpu[base], cpu["current"], strict=True)]
            row["same_states"] = same(states[base], states["current"])
        result["layouts"].append(row)
        print(f"  {name}: " + ", ".join(f"{k} {row[k]['cpu_ms_per_frame']:.2f} ms" for k in impls), flush=True)
    result["machine"]["load_end"] = load()

    labels = list(impls)
    head = ["layout", "zones", *[f"{k} (CPU ms/frame)" for k in labels]]
    if args.baseline:
        head += ["speedup (rounds)", "same states"]
    table = [head]
    for row in result["layouts"]:
        line = [row["layout"], str(row["zones"]),
                *[f"{row[k]['cpu_ms_per_frame']:.2f} (best {row[k]['cpu_ms_best']:.2f}; "
                  f"{row[k]['cpu_ms_per_frame'] / row['zones']:.3f}/zone)" for k in labels]]
        if args.baseline:
            rounds = ", ".join(f"{x:.2f}" for x in row["speedup_per_round"])
            line += [f"{row['speedup']:.2f}x ({rounds})", "yes" if row["same_states"] else "NO"]
        table.append(line)
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    print()
    for line in table:
        print("  ".join(cell.ljust(wd) for cell, wd in zip(line, widths, strict=True)))
    print(f"load average (start / end): {result['machine']['load_start']:.1f} / {load():.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float))
    print(f"\nwritten {args.out}")
    return 0 if all(row.get("same_states", True) for row in result["layouts"]) else 1


if __name__ == "__main__":
    sys.exit(main())
