"""Cameras per box (issue 20): how many cameras one edge worker sustains at 2 analysed fps, against what
decode + model alone sustain, on busy and quiet footage, with the savings (edge.settings.SavingsSettings)
off and on.

    .venv/bin/python scripts/bench/cameras_per_box.py [--seconds 15] [--dev-events] [--device cpu|cuda]

Footage: busy = ../shared/data/pets2009/vtest.avi (pedestrians all over the view, 768x576, 10 fps; zones
scripts/bench/edge_zones.yaml), quiet = ../shared/data/parking-lot/car-detection.mp4 (a parking lot where a
car now and then moves, 768x432, 12.5 fps; zones scripts/bench/parking_zones.yaml); 5 zones each, both
violations watched. Every camera is a copy of the clip decoded at its native rate (real time, looped) and
analysed at 2 fps.

In one run, per footage:
1. decode (grab, and BGR conversion of the kept frames) and model (yolox_nano, `workers` single-threaded
   inferences at once) CPU ms, and from them the CPU ceiling: cores x 1000 / (fps x grab + 2 x convert +
   2 x model) cameras;
2. cameras sustained by decode + model alone, measured: the same worker with no savings and next to nothing
   to analyse (the detector and the tracker on every sampled frame, one 16 px zone for cross-door trading
   only) — the ceiling the targets are read against, measured under the same load as the rest;
3. cameras sustained by the full pipeline with the savings off (the shipped analysis before issue 20) and
   with every saving on (the motion gate, the static-object model at `--static-fps` on a `--static-side` px
   canvas).
The six searches (2 footages x 2-3) take turns trial by trial, so that a shared host's changing load hits
them alike.
A trial of n cameras is sustained when every camera decoded at >= 90 % of its native rate, at most 1 % of the
sampled frames were dropped, and every camera analysed >= 2 - 3 / window fps (1.8 fps in a 15 s window: it may
lag by its 2 queued frames and one frame of window jitter). Beside the real-time count, each search gives the
CPU ms per camera-second of its sustained trials and the cameras that implies (cores x 1000 / that): on a
shared host the real-time count follows the other processes' load, the CPU cost much less. Targets:
full pipeline with savings >= 0.75 x the measured ceiling, and quiet >= 2 x busy cameras.
`--dev-events`: ../shared/data/dev-events' clips through the pipeline with the savings off and on; the
events are compared one by one and scored (models.event_scoring, the rule of ../shared/checks/score-events).
`--device cuda`: the GPU mode (`gpu_mode` below); without a CUDA / TensorRT provider in onnxruntime it
prints "skipped: no CUDA provider ..." and exits 0.
Prints a table and writes var/bench/cameras_per_box.json (cameras_per_box_cuda.json in the GPU mode).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]

from edge.pipeline import Pipeline  # noqa: E402
from edge.settings import CameraSettings, EdgeSettings, SavingsSettings  # noqa: E402
from models.registry import load_detector  # noqa: E402

SHARED = Path(os.environ.get("DOORLINE_SHARED", ROOT.parent / "shared"))
FOOTAGE = {
    "busy": (SHARED / "data" / "pets2009" / "vtest.avi", ROOT / "scripts" / "bench" / "edge_zones.yaml"),
    "quiet": (SHARED / "data" / "parking-lot" / "car-detection.mp4",
              ROOT / "scripts" / "bench" / "parking_zones.yaml"),
}
ANALYSIS_FPS = 2.0


def load() -> float:
    return os.getloadavg()[0]


def savings(mode: str, static_fps: float, static_side: int) -> SavingsSettings:
    if mode == "on":
        return SavingsSettings(motion_gate=True, static_model_fps=static_fps, static_model_max_side=static_side)
    return SavingsSettings(motion_gate=False, static_model_fps=2.0, static_model_max_side=96)


# ---------------------------------------------------------------------------------------------- 1
def native_fps(video: Path) -> float:
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    cap.release()
    return fps


def decode_cost(video: Path, frames: int = 300) -> dict:
    """CPU ms per grab (decode) and per retrieve (conversion to BGR) over the clip's first frames."""
    cap = cv2.VideoCapture(str(video))
    n, c = 0, time.process_time()
    while n < frames and cap.grab():
        n += 1
    grab = (time.process_time() - c) / n
    cap.release()
    cap = cv2.VideoCapture(str(video))
    m, c = 0, time.process_time()
    while m < frames and cap.read()[0]:
        m += 1
    read = (time.process_time() - c) / m
    cap.release()
    return {"frames": n, "grab_cpu_ms": 1000 * grab, "retrieve_cpu_ms": 1000 * max(0.0, read - grab)}


def model_cost(detector, video: Path, workers: int, frames: int = 60) -> dict:
    """CPU ms per inference, `workers` single-threaded inferences at once (what the pipeline runs)."""
    from concurrent.futures import ThreadPoolExecutor

    cap = cv2.VideoCapture(str(video))
    images = [cap.read()[1] for _ in range(20)]
    cap.release()
    detector.detect(images[:2])

    def loop(k: int) -> None:
        for i in range(k, frames, workers):
            detector.detect([images[i % len(images)]])

    t, c = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(loop, range(workers)))
    return {"workers": workers, "ms_per_frame": 1000 * (time.perf_counter() - t) / frames,
            "cpu_ms_per_frame": 1000 * (time.process_time() - c) / frames}


def cpu_ceiling(fps: float, dec: dict, mod: dict) -> int:
    per_camera_ms = fps * dec["grab_cpu_ms"] + ANALYSIS_FPS * (dec["retrieve_cpu_ms"] + mod["cpu_ms_per_frame"])
    return int((os.cpu_count() or 1) * 1000 / per_camera_ms)


# ---------------------------------------------------------------------------------------------- 2, 3
def no_zones(video: Path, workdir: Path) -> Path:
    """Next to nothing to analyse (decode + model alone): one small zone watched for cross-door trading only
    (a zone file needs one; its membership test costs ~0.1 ms per frame, no static-object model)."""
    cap = cv2.VideoCapture(str(video))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    path = workdir / f"{video.stem}-no-zones.yaml"
    zone = {"zone_id": "z", "shop_id": "s", "polygon": [[0, 0], [16, 0], [16, 16], [0, 16]],
            "violations": ["cross_door_trading"]}
    path.write_text(yaml.safe_dump({"camera_id": "bench", "frame_size": [w, h], "zones": [zone]}))
    return path


def trial_settings(video: Path, zones: Path, model: str, workdir: Path, n: int, saving: SavingsSettings,
                   workers: int, **extra) -> EdgeSettings:
    cams = [CameraSettings(id=f"cam-{i:03d}", source=str(video), zones=zones, fps=ANALYSIS_FPS) for i in range(n)]
    return EdgeSettings.load(model=model, cameras=cams, mqtt_enabled=False, realtime=True, loop_files=True,
                             queue_size=2, evidence_dir=None, events_out=workdir / "events.jsonl",
                             analysis_fps=ANALYSIS_FPS, inference_workers=workers, savings=saving, **extra)


def trial(settings: EdgeSettings, detector, fps: float, seconds: float, ramp_s: float = 3.0) -> dict:
    """The worker with `settings` for ramp_s + seconds of real time; rates and CPU measured after the ramp."""
    pipe = Pipeline(settings, detectors={settings.model: detector})
    pipe.start()
    marks: dict[str, tuple[float, dict, int, float]] = {}

    def mark(name: str) -> None:
        marks[name] = (time.monotonic(),
                       {cid: (c.analysed, c.source.decoded, c.source.dropped) for cid, c in pipe.cameras.items()},
                       pipe.stats.detections_skipped, time.process_time())

    timers = [threading.Timer(ramp_s, mark, ("a",)), threading.Timer(ramp_s + seconds, mark, ("b",)),
              threading.Timer(ramp_s + seconds + 0.2, pipe.stop)]
    for timer in timers:
        timer.start()
    pipe.run()
    for timer in timers:
        timer.cancel()
    (ta, a, sa, ca), (tb, b, sb, cb) = marks["a"], marks["b"]
    span = tb - ta
    analysed = np.array([b[c][0] - a[c][0] for c in a]) / span
    decoded = np.array([b[c][1] - a[c][1] for c in a]) / span
    dropped = int(sum(b[c][2] - a[c][2] for c in a))
    total = float(analysed.sum() * span + dropped)
    # a camera may lag by its queue (2 frames) plus one frame of window jitter without losing any frame
    ok = bool(dropped <= 0.01 * total and analysed.min() >= ANALYSIS_FPS - 3.0 / span - 0.01
              and decoded.min() >= 0.9 * fps)
    return {"cameras": len(a), "sustained": ok, "min_analysed_fps": float(analysed.min()),
            "mean_analysed_fps": float(analysed.mean()), "min_decoded_fps": float(decoded.min()),
            "dropped_frames": dropped, "detector_skipped_share": (sb - sa) / max(1.0, analysed.sum() * span),
            "cpu_ms_per_camera_s": 1000 * (cb - ca) / span / len(a), "load": load()}


class Search:
    """The largest n for which a trial is sustained: grow by half until one fails, then bisect. Searches of
    one footage take turns trial by trial, so that a change in the host's load hits them alike."""

    def __init__(self, label: str, run, start: int, limit: int, max_trials: int) -> None:
        self.label, self.run, self.limit, self.max_trials = label, run, limit, max_trials
        self.n, self.good, self.bad = max(1, start), 0, None
        self.trials: list[dict] = []
        self.done = False

    def step(self) -> None:
        n = self.n
        r = self.run(n)
        self.trials.append(r)
        print(f"  {self.label:<22} {n:4d} cameras: analysed min {r['min_analysed_fps']:.2f} fps, decoded min "
              f"{r['min_decoded_fps']:.1f} fps, dropped {r['dropped_frames']}, detector skipped "
              f"{r['detector_skipped_share']:.0%}, {r['cpu_ms_per_camera_s']:.1f} ms CPU per camera-second, "
              f"load {r['load']:.1f} → {'sustained' if r['sustained'] else 'NOT sustained'}", flush=True)
        if r["sustained"]:
            self.good = max(self.good, n)
        else:
            self.bad = n if self.bad is None else min(self.bad, n)
        if self.bad is None:
            self.done = n >= self.limit
            self.n = min(self.limit, max(n + 2, round(n * 1.5)))
        elif self.bad - self.good <= max(2, self.good // 10):
            self.done = True
        else:
            self.n = (self.good + self.bad) // 2 if self.good else max(1, self.bad // 2)
        self.done = self.done or len(self.trials) >= self.max_trials

    def result(self) -> dict:
        cpu = [t["cpu_ms_per_camera_s"] for t in self.trials if t["sustained"]]
        per_camera = float(np.median(cpu)) if cpu else None
        return {"max_cameras": self.good, "first_failed": self.bad, "trials": self.trials,
                "cpu_ms_per_camera_s": per_camera,  # median over the sustained trials
                "cpu_cameras": int((os.cpu_count() or 1) * 1000 / per_camera) if per_camera else None}


def footage_searches(kind: str, args, detector, workers: int, workdir: Path) -> tuple[dict, dict[str, Search]]:
    """The footage's costs and its three searches (decode + model, savings off, savings on), not yet run."""
    video, zones = FOOTAGE[kind]
    fps = native_fps(video)
    dec, mod = decode_cost(video), model_cost(detector, video, workers)
    est = cpu_ceiling(fps, dec, mod)
    print(f"{kind}: {video.name} at {fps:g} fps: grab {dec['grab_cpu_ms']:.2f} ms, convert "
          f"{dec['retrieve_cpu_ms']:.2f} ms, model {mod['cpu_ms_per_frame']:.1f} ms CPU → CPU ceiling {est}",
          flush=True)
    out: dict = {"video": str(video), "zones": str(zones), "native_fps": fps, "decode": dec, "model": mod,
                 "cpu_ceiling": est}

    def runner(zones_file: Path, mode: str):
        def run(n: int) -> dict:
            s = trial_settings(video, zones_file, args.model, workdir, n,
                               savings(mode, args.static_fps, args.static_side), workers)
            return trial(s, detector, fps, args.seconds)
        return run

    start = args.start_cameras or max(2, est // 3)
    searches = {"ceiling": Search(f"{kind} decode+model", runner(no_zones(video, workdir), "off"), start,
                                  args.max_cameras, args.max_trials),
                "off": Search(f"{kind} savings off", runner(zones, "off"), start, args.max_cameras, args.max_trials),
                "on": Search(f"{kind} savings on", runner(zones, "on"), start, args.max_cameras, args.max_trials)}
    return out, searches


def run_interleaved(searches: list[Search]) -> None:
    """Every search one trial at a time in turn (busy and quiet, ceiling, off and on), so that the host's load
    (a shared machine's changes over minutes) hits them alike."""
    while not all(x.done for x in searches):
        for search in searches:
            if not search.done:
                search.step()


def footage_result(out: dict, searches: dict[str, Search]) -> dict:
    for name, search in searches.items():
        out[name] = search.result()
    c, cpu_c = max(1, out["ceiling"]["max_cameras"]), out["ceiling"]["cpu_cameras"]
    for mode in ("off", "on"):
        out[mode]["of_ceiling"] = out[mode]["max_cameras"] / c
        got = out[mode]["cpu_cameras"]
        out[mode]["cpu_of_ceiling"] = got / cpu_c if got and cpu_c else None
    return out


# ---------------------------------------------------------------------------------------------- dev clips
def dev_events(args, detector, workers: int, workdir: Path) -> dict:
    """Both dev clips with the savings off and on: the events one by one, and the scores."""
    from models.event_scoring import score_files

    clips = sorted((SHARED / "data" / "dev-events").glob("clip_*.json"))
    result: dict = {}
    lines: dict[str, dict[str, list[dict]]] = {}
    for mode in ("off", "on"):
        pairs = []
        for clip in clips:
            out = workdir / f"dev-{mode}-{clip.stem}.jsonl"
            s = EdgeSettings.load(model=args.model, mqtt_enabled=False, events_out=out, analysis_fps=ANALYSIS_FPS,
                                  inference_workers=workers,
                                  cameras=[CameraSettings(id=clip.stem, source=str(clip.with_suffix(".mp4")),
                                                          zones=clip)],
                                  savings=savings(mode, args.static_fps, args.static_side))
            t = time.perf_counter()
            stats = Pipeline(s, detectors={s.model: detector}).run()
            print(f"  dev {clip.stem} savings {mode}: {stats.events} event phases, detector skipped on "
                  f"{stats.detections_skipped} of {stats.frames_analysed} frames ({time.perf_counter() - t:.0f} s)",
                  flush=True)
            pairs.append((clip, out))
            lines.setdefault(clip.stem, {})[mode] = [json.loads(x) for x in out.read_text().splitlines()]
            result.setdefault("skipped", {}).setdefault(mode, {})[clip.stem] = [stats.detections_skipped,
                                                                                 stats.frames_analysed]
        score = score_files(pairs).to_dict()
        result[mode] = {k: score[k] for k in ("ok", "recall", "precision", "tta_median_s", "tta_max_s", "ends",
                                              "false_starts")}
    diffs = {}
    for clip, got in lines.items():
        key = [[(e["zone_id"], e["violation"], e["phase"]) for e in got[m] if e["phase"] != "update"]
               for m in ("off", "on")]
        ts = [[e["ts"] for e in got[m] if e["phase"] != "update"] for m in ("off", "on")]
        same = key[0] == key[1]
        diffs[clip] = {"same_phases": same, "phases": len(key[0]),
                       "max_ts_shift_s": max((abs(a - b) for a, b in zip(*ts, strict=True)), default=0.0)
                       if same else None}
    result["compare"] = diffs
    scored = ("ok", "recall", "precision", "ends", "false_starts")
    result["unchanged"] = (all(d["same_phases"] for d in diffs.values())
                           and all(result["off"][k] == result["on"][k] for k in scored))
    return result


# ---------------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu, or cuda: the GPU mode (skips without a CUDA provider)")
    ap.add_argument("--model", default=str(SHARED / "models" / "yolox_nano.onnx"))
    ap.add_argument("--seconds", type=float, default=15.0, help="measured seconds per camera trial")
    ap.add_argument("--max-cameras", type=int, default=240)
    ap.add_argument("--start-cameras", type=int, default=None, help="first trial's cameras (default: a third "
                    "of the CPU ceiling)")
    ap.add_argument("--max-trials", type=int, default=6, help="trials per search")
    ap.add_argument("--workers", type=int, default=None, help="inference workers (default: the pipeline's)")
    ap.add_argument("--static-fps", type=float, default=1.0, help="static-object model rate with savings on")
    ap.add_argument("--static-side", type=int, default=64, help="static-object model canvas side with savings on")
    ap.add_argument("--footage", nargs="+", choices=sorted(FOOTAGE), default=["busy", "quiet"])
    ap.add_argument("--dev-events", action="store_true", help="also the dev clips with the savings off and on")
    ap.add_argument("--skip-cameras", action="store_true", help="only --dev-events")
    ap.add_argument("--gpu-batch", type=int, default=16, help="GPU mode: frames per detector call across cameras")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.device.split(":")[0] in ("cuda", "tensorrt", "gpu"):
        providers = cuda_providers()
        if not providers:
            import onnxruntime as ort

            print(f"skipped: no CUDA provider in onnxruntime {ort.__version__} (it offers "
                  f"{', '.join(ort.get_available_providers())}); install onnxruntime-gpu on a box with a GPU")
            return 0
        return gpu_main(args, providers, args.out or ROOT / "var" / "bench" / "cameras_per_box_cuda.json")

    out_path = args.out or ROOT / "var" / "bench" / "cameras_per_box.json"
    workdir = Path(tempfile.mkdtemp(prefix="doorline-cams-"))
    workers = args.workers or EdgeSettings.load(cameras=[]).workers
    detector = load_detector(args.model, threads=1, device="cpu")
    result: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_start": load(),
                                "python": platform.python_version(), "opencv": cv2.__version__},
                    "workers": workers, "seconds_per_trial": args.seconds,
                    "savings_on": savings("on", args.static_fps, args.static_side).model_dump(),
                    "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    if not args.skip_cameras:
        prepared = {kind: footage_searches(kind, args, detector, workers, workdir) for kind in args.footage}
        run_interleaved([x for _, searches in prepared.values() for x in searches.values()])
        for kind, (out, searches) in prepared.items():
            result[kind] = footage_result(out, searches)
    if args.dev_events:
        print("dev clips, savings off and on", flush=True)
        result["dev_events"] = dev_events(args, detector, workers, workdir)
    result["machine"]["load_end"] = load()
    result["finished_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    rows = table(result)
    width = max(len(r[0]) for r in rows)
    print()
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<78}  {target}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2, default=float))
    print(f"\nwritten {out_path}")
    return 0


def table(result: dict) -> list[tuple[str, str, str]]:
    def cpu(m: dict) -> str:
        return (f"; by CPU {m['cpu_cameras']} ({m['cpu_ms_per_camera_s']:.1f} ms per camera-second)"
                if m.get("cpu_cameras") else "; by CPU: no sustained trial")

    rows: list[tuple[str, str, str]] = []
    for kind in ("busy", "quiet"):
        if kind not in result:
            continue
        r = result[kind]
        c = r["ceiling"]
        rows.append((f"{kind}: decode + model alone", f"{c['max_cameras']} cameras{cpu(c)} (from the costs: "
                     f"{r['cpu_ceiling']}; model {r['model']['cpu_ms_per_frame']:.1f} ms CPU)", ""))
        for mode in ("off", "on"):
            m = r[mode]
            by_cpu = f", by CPU {m['cpu_of_ceiling']:.2f} x" if m.get("cpu_of_ceiling") else ""
            rows.append((f"{kind}: full pipeline, savings {mode}",
                         f"{m['max_cameras']} cameras = {m['of_ceiling']:.2f} x the ceiling{by_cpu}{cpu(m)}",
                         f">= 0.75 {'met' if m['of_ceiling'] >= 0.75 else 'NOT met'}" if mode == "on" else ""))
    if "busy" in result and "quiet" in result:
        for mode in ("off", "on"):
            q, b = result["quiet"][mode], result["busy"][mode]
            ratio = q["max_cameras"] / max(b["max_cameras"], 1)
            cpu_ratio = (q["cpu_cameras"] / b["cpu_cameras"]) if q["cpu_cameras"] and b["cpu_cameras"] else None
            result.setdefault("quiet_over_busy", {})[mode] = {"cameras": ratio, "by_cpu": cpu_ratio}
            rows.append((f"quiet / busy cameras, savings {mode}",
                         f"{q['max_cameras']} / {b['max_cameras']} = {ratio:.2f}"
                         + (f" (by CPU {cpu_ratio:.2f})" if cpu_ratio else ""),
                         f">= 2 {'met' if ratio >= 2 else 'NOT met'}" if mode == "on" else ""))
    if "dev_events" in result:
        d = result["dev_events"]
        for mode in ("off", "on"):
            s = d[mode]
            rows.append((f"dev clips, savings {mode}", f"recall {s['recall']}, precision {s['precision']}, ends "
                         f"{s['ends']}, alert max {s['tta_max_s']} s, false starts {s['false_starts']}", ""))
        shifts = [v["max_ts_shift_s"] for v in d["compare"].values() if v["max_ts_shift_s"] is not None]
        rows.append(("dev clips: events with savings on", "same phases in the same zones, same scores"
                     if d["unchanged"] else "CHANGED", f"times moved by at most {max(shifts, default=0):.1f} s"))
    rows.append(("load average (start / end)",
                 f"{result['machine']['load_start']:.1f} / {result['machine']['load_end']:.1f}", ""))
    return rows


# ---------------------------------------------------------------------------------------------- GPU mode
def cuda_providers() -> list[str]:
    """onnxruntime's GPU execution providers on this machine, best first ([] without onnxruntime-gpu / GPU)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    available = ort.get_available_providers()
    return [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in available]


def nvdec_cost(video: Path, frames: int = 300) -> dict:
    """Wall ms per frame decoded by NVDEC through PyAV (>= 14, built with CUDA) and downloaded as BGR; a
    status when PyAV, its hwaccel or the GPU decoder for this codec is missing."""
    try:
        import av
        from av.codec.hwaccel import HWAccel
    except ImportError:
        return {"status": "PyAV with hwaccel not installed: decode stays on the CPU"}
    try:
        with av.open(str(video), hwaccel=HWAccel(device_type="cuda", allow_software_fallback=False)) as box:
            n, t = 0, time.perf_counter()
            for frame in box.decode(video=0):
                frame.to_ndarray(format="bgr24")
                n += 1
                if n >= frames:
                    break
            return {"status": "measured", "frames": n, "ms_per_frame": 1000 * (time.perf_counter() - t) / n}
    except Exception as exc:  # noqa: BLE001 -- no NVDEC for this codec / driver: say so, measure the rest
        return {"status": f"not available: {type(exc).__name__}: {exc}"[:200]}


def batched_model_cost(detector, video: Path, batch: int, rounds: int = 10) -> dict:
    """Wall ms per frame when `batch` frames of different cameras go to the GPU in one call."""
    cap = cv2.VideoCapture(str(video))
    images = [cap.read()[1] for _ in range(batch)]
    cap.release()
    detector.detect(images)  # warm-up (TensorRT builds its engine on the first call)
    t = time.perf_counter()
    for _ in range(rounds):
        detector.detect(images)
    return {"batch": batch, "ms_per_frame": 1000 * (time.perf_counter() - t) / (rounds * batch)}


def gpu_pipeline_cost(video: Path, zones: Path, args, detector, workdir: Path, cameras: int, frames: int,
                      extra: dict) -> dict:
    """The whole pipeline as fast as it goes, every frame analysed, `cameras` copies of the clip so that
    the batches are filled across cameras."""
    s = trial_settings(video, zones, args.model, workdir, cameras, savings("off", 2.0, 96), extra["workers"],
                       device=extra["device"], batch_size=extra["batch"])
    s = s.model_copy(update={"realtime": False, "loop_files": False,
                             "cameras": [c.model_copy(update={"fps": 60.0}) for c in s.cameras]})
    stats = Pipeline(s, detectors={s.model: detector}).run(max_frames=frames)
    n = max(1, stats.frames_analysed)
    return {"frames": n, "ms_per_frame": 1000 * stats.seconds / n, "detect_ms": 1000 * stats.detect_s / n,
            "analyse_ms": 1000 * stats.analyse_s / n}


def gpu_main(args, providers: list[str], out_path: Path) -> int:
    """GPU boxes: the detector on onnxruntime's TensorRT (else CUDA) provider, frames batched across
    cameras (`--gpu-batch`), decode on the CPU (NVDEC through PyAV measured alongside when available);
    decode, model and pipeline per frame, and cameras sustained with the savings off and on."""
    device = "tensorrt" if "TensorrtExecutionProvider" in providers else "cuda"
    batch = args.gpu_batch
    workers = args.workers or 2  # two calls in flight: one batch is prepared while the other runs
    detector = load_detector(args.model, device=device, threads=1, max_batch=batch)
    workdir = Path(tempfile.mkdtemp(prefix="doorline-cams-gpu-"))
    extra = {"device": device, "batch": batch, "workers": workers}
    result: dict = {"device": device, "providers": list(getattr(detector, "providers", [])), "batch": batch,
                    "workers": workers, "batched_model": bool(getattr(detector, "batched", False)),
                    "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    print(f"GPU mode: {detector!r}", flush=True)
    rows = []
    for kind in args.footage:
        video, zones = FOOTAGE[kind]
        fps = native_fps(video)
        dec = decode_cost(video)
        r: dict = {"decode_cpu": dec, "decode_nvdec": nvdec_cost(video),
                   "model_batch_1": batched_model_cost(detector, video, 1),
                   "model_batched": batched_model_cost(detector, video, batch),
                   "pipeline": gpu_pipeline_cost(video, zones, args, detector, workdir, batch, 400, extra)}

        def runner(zones_file: Path, mode: str, video: Path = video, fps: float = fps):
            def run(n: int) -> dict:
                s = trial_settings(video, zones_file, args.model, workdir, n,
                                   savings(mode, args.static_fps, args.static_side), workers, device=device,
                                   batch_size=batch)
                return trial(s, detector, fps, args.seconds)
            return run

        start = args.start_cameras or max(2, int(1000 / (fps * dec["grab_cpu_ms"] + 2 * dec["retrieve_cpu_ms"]) / 2))
        searches = {"ceiling": Search(f"{kind} decode+model", runner(no_zones(video, workdir), "off"), start,
                                      args.max_cameras, args.max_trials),
                    **{mode: Search(f"{kind} savings {mode}", runner(zones, mode), start, args.max_cameras,
                                    args.max_trials) for mode in ("off", "on")}}
        while not all(x.done for x in searches.values()):
            for search in searches.values():
                if not search.done:
                    search.step()
        r.update({name: search.result() for name, search in searches.items()})
        c = max(1, r["ceiling"]["max_cameras"])
        for mode in ("off", "on"):
            r[mode]["of_ceiling"] = r[mode]["max_cameras"] / c
        result[kind] = r
        nv = r["decode_nvdec"]
        rows += [
            (f"{kind}: decode per frame", f"CPU grab {dec['grab_cpu_ms']:.2f} + convert {dec['retrieve_cpu_ms']:.2f} "
             "ms; " + (f"NVDEC {nv['ms_per_frame']:.2f} ms" if nv["status"] == "measured"
                       else f"NVDEC: {nv['status']}")),
            (f"{kind}: model per frame", f"batch 1: {r['model_batch_1']['ms_per_frame']:.2f} ms, batch {batch}: "
             f"{r['model_batched']['ms_per_frame']:.2f} ms"),
            (f"{kind}: pipeline per frame", f"{r['pipeline']['ms_per_frame']:.2f} ms (detect "
             f"{r['pipeline']['detect_ms']:.2f}, analysis {r['pipeline']['analyse_ms']:.2f})"),
            (f"{kind}: cameras sustained", f"decode + model {c}; savings off {r['off']['max_cameras']} "
             f"({r['off']['of_ceiling']:.2f}x), on {r['on']['max_cameras']} ({r['on']['of_ceiling']:.2f}x)"),
        ]
    result["finished_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    width = max(len(a) for a, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2, default=float))
    print(f"\nwritten {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
