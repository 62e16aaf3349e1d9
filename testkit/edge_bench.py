"""The edge pipeline benchmark's measurements, shared by `scripts/bench/edge_pipeline.py` and any benchmark
that puts the pipeline beside its ceiling: decode alone, the model alone (by several threads at once), and
the whole pipeline with every frame analysed, on a clip and the bench zones (`scripts/bench/edge_zones.yaml`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2

from edge.pipeline import Pipeline
from edge.settings import CameraSettings, EdgeSettings

ROOT = Path(__file__).resolve().parents[1]
ZONES = ROOT / "scripts" / "bench" / "edge_zones.yaml"
GIL_SWITCH_MS: float = EdgeSettings.model_fields["gil_switch_interval_ms"].default  # a bench's --gil-switch-ms


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load() -> float:
    return os.getloadavg()[0]


def decode_only(video: Path, frames: int) -> dict:
    """cv2 read (decode + conversion to BGR) of the first `frames` frames, and grab-only (decode)."""
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    n, t, c = 0, time.perf_counter(), time.process_time()
    while n < frames:
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    s, cpu = time.perf_counter() - t, time.process_time() - c
    cap.release()
    grab_n, t = 0, time.perf_counter()
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    while grab_n < frames and cap.grab():
        grab_n += 1
    grab_s = time.perf_counter() - t
    cap.release()
    return {
        "frames": n,
        "fps": n / s,
        "ms_per_frame": 1000 * s / n,
        "cpu_ms_per_frame": 1000 * cpu / n,
        "grab_only_ms_per_frame": 1000 * grab_s / grab_n,
    }


def model_only(detector, video: Path, frames: int, workers: int = 1) -> dict:
    """detect() alone on decoded frames, by `workers` threads at once (each takes every workers-th frame)."""
    from concurrent.futures import ThreadPoolExecutor

    cap = cv2.VideoCapture(str(video))
    images = [cap.read()[1] for _ in range(min(frames, 100))]
    cap.release()
    for image in images[:3]:
        detector.detect([image])

    def loop(k: int) -> None:
        for i in range(k, frames, workers):
            detector.detect([images[i % len(images)]])

    t, c = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(loop, range(workers)))
    s, cpu = time.perf_counter() - t, time.process_time() - c
    return {
        "frames": frames,
        "workers": workers,
        "threads": detector.options.threads,
        "fps": frames / s,
        "ms_per_frame": 1000 * s / frames,
        "cpu_ms_per_frame": 1000 * cpu / frames,
    }


def settings(
    video: Path,
    model: str,
    workdir: Path,
    *,
    fps: float,
    cameras: int = 1,
    realtime: bool = False,
    loop: bool = False,
    evidence: bool = True,
    workers: int | None = None,
) -> EdgeSettings:
    cams = [
        CameraSettings(id=f"cam-{i:03d}", source=str(video), zones=ZONES, fps=fps) for i in range(cameras)
    ]
    return EdgeSettings.load(
        model=model,
        cameras=cams,
        mqtt_enabled=False,
        realtime=realtime,
        loop_files=loop,
        queue_size=2,
        evidence_dir=workdir / "evidence" if evidence else None,
        events_out=workdir / "events.jsonl",
        analysis_fps=fps,
        batch_size=8,
        inference_workers=workers,
        gil_switch_interval_ms=GIL_SWITCH_MS,
    )


def pipeline_fps(video: Path, model: str, detector, workdir: Path, fps: float, frames: int | None,
                 workers: int | None = None) -> dict:
    """Our whole pipeline, every frame analysed: decode thread, detect, track, zones, rules, evidence."""
    pipe = Pipeline(settings(video, model, workdir, fps=fps, workers=workers), detectors={model: detector})
    c = time.process_time()
    stats = pipe.run(max_frames=frames)
    cpu = time.process_time() - c
    n = stats.frames_analysed
    return {
        "frames": n,
        "fps": n / stats.seconds,
        "ms_per_frame": 1000 * stats.seconds / n,
        "cpu_ms_per_frame": 1000 * cpu / n,
        "workers": pipe.settings.workers,
        "detect_ms": 1000 * stats.detect_s / n,  # latency of one detect call (workers overlap)
        "track_ms": 1000 * stats.track_s / n,
        "zones_rules_ms": 1000 * stats.analyse_s / n,
        "evidence_ms_total": 1000 * stats.evidence_s,
        "events": stats.events,
        "evidence": stats.evidence,
    }
