"""Soak the edge worker (issue 19; not run in CI): a live camera for --minutes, with its zones reloaded every
--reload-every seconds, a stream that stalls for --stall-for seconds every --stall-every seconds and comes
back, and a detector that raises at --detector-error-at seconds (and every --detector-error-every seconds
after, if set). Prints the worker's RSS over time and, at the end, the episodes started, ended and still
open, the reconnects, skipped batches and reloads.

    .venv/bin/python scripts/soak_edge.py --minutes 30            # the issue's soak
    .venv/bin/python scripts/soak_edge.py --minutes 3 --reload-every 20 --stall-every 60 --stall-for 12

The camera is a real MJPEG-over-HTTP server on loopback, run in a child process (so the worker's RSS is the
worker's alone), playing PETS2009 (`$DOORLINE_SHARED/data/pets2009/vtest.avi`) in a loop with a real
rubbish-bag photo set down in the shop zone for 60 s of every 150 s, so episodes start and end all along.
Messages go to an in-memory sink that keeps only counts (a broker is not what is soaked here).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SHARED = Path(os.environ.get("DOORLINE_SHARED", REPO.parent / "shared"))
BAG_CYCLE_S, BAG_ON_S, BAG_OFF_S = 150.0, 30.0, 90.0  # bag in the zone from 30 to 90 s of every 150 s
ZONES = {
    "camera_id": "soak-cam",
    "frame_size": [768, 576],
    "rules": {"min_dwell_s": 10, "clear_s": 5, "static_after_s": 2, "cooldown_s": 2},
    "zones": [
        {"zone_id": "z-bag", "shop_id": "shop-1", "polygon": [[20, 262], [165, 262], [165, 322], [20, 322]],
         "violations": ["piled_goods"]},
        {"zone_id": "z-road", "shop_id": "shop-2", "polygon": [[300, 200], [500, 200], [500, 300], [300, 300]]},
    ],
}


# ---------------------------------------------------------------------------------------------- the camera
def serve(port_file: Path, fps: float, stall_every: float, stall_for: float) -> None:
    """Child process: an MJPEG camera on 127.0.0.1 that goes silent (connection open, nothing sent) for
    `stall_for` s every `stall_every` s."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import cv2

    cap = cv2.VideoCapture(str(SHARED / "data" / "pets2009" / "vtest.avi"))
    bag = cv2.imread(str(sorted((SHARED / "data" / "sidewalk-bags" / "valid" / "images").glob("*.jpg"))[0]))
    bag = cv2.resize(bag[160:480, 160:480], (90, 45))
    plain, with_bag = [], []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        plain.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
        frame[270:315, 45:135] = bag
        with_bag.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    cap.release()
    t0 = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            try:
                while True:
                    now = time.monotonic() - t0
                    if stall_every > 0 and now % stall_every >= stall_every - stall_for:
                        time.sleep(0.05)  # stalled: the connection stays open, nothing comes
                        continue
                    i = int(now * fps)
                    frames = with_bag if BAG_ON_S <= now % BAG_CYCLE_S < BAG_OFF_S else plain
                    jpeg = frames[i % len(frames)]
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                     % len(jpeg) + jpeg + b"\r\n")
                    time.sleep(1 / fps)
            except (BrokenPipeError, ConnectionResetError):
                pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port_file.write_text(str(httpd.server_address[1]))
    httpd.serve_forever()


# ---------------------------------------------------------------------------------------------- the worker
class CountingSink:
    """Keeps counts and the open episodes, not the messages (their pictures would grow the RSS)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.open: dict[str, str] = {}  # event_id -> zone
        self.recheck_results: Counter[str] = Counter()
        self.statuses: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()

    def publish(self, msg) -> None:
        with self._lock:
            self.counts[msg.type] += 1
            if msg.type == "event":
                self.counts[f"event:{msg.phase}"] += 1
                if msg.phase == "start":
                    self.open[msg.event_id] = msg.zone_id
                elif msg.phase == "end":
                    self.open.pop(msg.event_id, None)
            elif msg.type == "recheck_result":
                self.recheck_results[msg.result] += 1

    def set_status(self, state: str, **kw) -> None:
        with self._lock:
            self.statuses.append((time.monotonic(), state, kw.get("detail") or ""))
            del self.statuses[:-50]

    depth = 0

    def publish_many(self, msgs) -> None:
        for msg in msgs:
            self.publish(msg)

    def on_command(self, callback) -> None:
        self.command_callback = callback


class ForcedErrors:
    """The real detector, raising at `first_s` after start and every `every_s` after (0: once)."""

    def __init__(self, real, first_s: float, every_s: float) -> None:
        self.real, self.next_at, self.every_s = real, time.monotonic() + first_s, every_s
        self.raised = 0

    def detect(self, frames):
        now = time.monotonic()
        if self.next_at is not None and now >= self.next_at:
            self.raised += 1
            self.next_at = now + self.every_s if self.every_s > 0 else None
            raise RuntimeError("forced detector error (soak)")
        return self.real.detect(frames)

    def __getattr__(self, name):
        return getattr(self.real, name)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--reload-every", type=float, default=60.0, help="seconds between zone reloads")
    ap.add_argument("--alternate-zones", action="store_true",
                    help="every other reload drops the goods zone (tests reloads that remove a zone with an open "
                         "episode)")
    ap.add_argument("--stall-every", type=float, default=300.0, help="the stream stalls once per this many seconds")
    ap.add_argument("--stall-for", type=float, default=20.0)
    ap.add_argument("--detector-error-at", type=float, default=120.0)
    ap.add_argument("--detector-error-every", type=float, default=0.0)
    ap.add_argument("--sample-every", type=float, default=30.0, help="seconds between RSS samples")
    ap.add_argument("--fps", type=float, default=2.0, help="analysis frames per second")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # child process: the camera
    ap.add_argument("--serve-fps", type=float, default=10.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.serve_fps, args.stall_every, args.stall_for)
        return 0

    import yaml

    from edge.pipeline import Pipeline
    from edge.settings import CameraSettings, EdgeSettings
    from models.registry import load_detector
    from wire.schema import CommandMessage

    work = Path(tempfile.mkdtemp(prefix="doorline-soak-"))
    port_file = work / "port"
    camera = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file), "--stall-every",
                               str(args.stall_every), "--stall-for", str(args.stall_for)])
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or camera.poll() is not None:
                raise SystemExit("the soak camera did not start")
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port_file.read_text()}/stream.mjpg"
        zones = work / "zones.yaml"
        zones.write_text(yaml.safe_dump(ZONES))
        settings = EdgeSettings.load(
            model="yolox_nano.onnx", models_dir=SHARED / "models", site_id="soak", analysis_fps=args.fps,
            mqtt_enabled=False, reference_dir=None, stall_timeout_s=5.0, backoff_max_s=5.0, status_interval_s=5.0,
            cameras=[CameraSettings(id="soak-cam", source=url, zones=zones)],
        )
        detector = ForcedErrors(load_detector("yolox_nano.onnx", models_dir=SHARED / "models", threads=1),
                                args.detector_error_at, args.detector_error_every)
        sink = CountingSink()
        pipeline = Pipeline(settings, detectors={settings.model: detector}, publisher=sink)
        pipeline.start()
        seconds = args.minutes * 60
        t0 = time.monotonic()
        samples: list[tuple[float, float]] = [(0.0, rss_mb())]
        reloads = 0
        done = threading.Event()

        def control() -> None:
            nonlocal reloads
            next_reload, next_sample = args.reload_every, args.sample_every
            while not done.wait(0.5):
                now = time.monotonic() - t0
                if now >= next_reload:
                    next_reload += args.reload_every
                    reloads += 1
                    layout = dict(ZONES)
                    if args.alternate_zones and reloads % 2:
                        layout["zones"] = [z for z in ZONES["zones"] if z["zone_id"] != "z-bag"]
                    zones.write_text(yaml.safe_dump(layout))
                    pipeline.submit_command(CommandMessage(site_id="soak", camera_id="soak-cam", cmd="reload_zones"))
                if now >= next_sample:
                    next_sample += args.sample_every
                    samples.append((round(now, 1), rss_mb()))
                    s = pipeline.stats
                    print(f"[soak] {now:7.1f} s  RSS {samples[-1][1]:7.1f} MB  analysed {s.frames_analysed}  "
                          f"events {s.events}  open {len(sink.open)}  detector errors {s.detector_errors}  "
                          f"camera {pipeline.cameras['soak-cam'].source.describe()}", flush=True)

        ctl = threading.Thread(target=control, daemon=True)
        ctl.start()
        stats = pipeline.run(max_seconds=seconds)
        done.set()
        ctl.join(2)
        samples.append((round(time.monotonic() - t0, 1), rss_mb()))
    finally:
        camera.terminate()
        camera.wait(10)
    src = stats.per_camera.get("soak-cam", {})
    # RSS growth: the last third of the run against the first third (after warm-up), so one-off allocations
    # (model, first frames) do not count as a leak
    third = max(1, len(samples) // 3)
    early = max(r for _, r in samples[1 : third + 1]) if len(samples) > 2 else samples[0][1]
    late = max(r for _, r in samples[-third:])
    figures = {
        "minutes": round((time.monotonic() - t0) / 60, 2),
        "rss_mb": samples,
        "rss_early_mb": round(early, 1),
        "rss_late_mb": round(late, 1),
        "frames_analysed": stats.frames_analysed,
        "batches": stats.batches,
        "detector_errors": stats.detector_errors,
        "forced_detector_errors": detector.raised,
        "reloads": reloads,
        "reconnects": src.get("reconnects"),
        "reader_errors": src.get("reader_errors"),
        "dropped_frames": src.get("dropped"),
        "history_len": len(pipeline.cameras["soak-cam"].source.history),
        "episodes_started": sink.counts["event:start"],
        "episodes_ended": sink.counts["event:end"],
        "episodes_open_at_end": len(sink.open),
        "open_zones": sorted(set(sink.open.values())),
        "evidence_messages": sink.counts["evidence"],
        "last_status": sink.statuses[-1][1:] if sink.statuses else None,
    }
    print(json.dumps(figures, indent=1))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
