"""Run the dev-events clips end to end and score them with ../shared/checks/score-events.

    .venv/bin/python scripts/score_dev_events.py [--fps 4] [--clips clip_00 clip_01] [--out var/dev-events]

Decodes each clip with OpenCV, analyses every (10 / fps)-th frame: person detector
(`models.registry.load_detector`, or a built-in YOLOX-nano ONNX decoder when the registry is not there),
then `edge.analyzer.SceneAnalyzer`, and writes the events as JSON lines in the edge CLI's
`--events-out` format (event_id, camera_id, zone_id, shop_id, violation, phase, ts, score, boxes).
Detections are cached per clip and rate under var/cache/ so re-runs only redo the zone analysis.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.analyzer import SceneAnalyzer  # noqa: E402
from models.detections import Detections  # noqa: E402
from zones.io import load_zones  # noqa: E402

SHARED = ROOT.parent / "shared"
COCO_FIRST = ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck"]


class _YoloxNano:
    """Minimal YOLOX-nano decoder (see ../shared/models/MODELS.md) used until models.registry exists."""

    def __init__(self, path: Path, conf: float = 0.3, iou: float = 0.45) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        self.sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inp = self.sess.get_inputs()[0].name
        self.conf, self.iou, self.size = conf, iou, 416
        grids, strides = [], []
        for s in (8, 16, 32):
            n = self.size // s
            yy, xx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            grids.append(np.stack([xx, yy], -1).reshape(-1, 2))
            strides.append(np.full((n * n, 1), s))
        self.grid = np.concatenate(grids).astype(np.float32)
        self.stride = np.concatenate(strides).astype(np.float32)

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        out = []
        for f in frames:
            h, w = f.shape[:2]
            r = min(self.size / h, self.size / w)
            img = np.full((self.size, self.size, 3), 114, np.uint8)
            img[: round(h * r), : round(w * r)] = cv2.resize(f, (round(w * r), round(h * r)))
            x = img.transpose(2, 0, 1)[None].astype(np.float32)
            p = self.sess.run(None, {self.inp: x})[0][0]
            xy = (p[:, :2] + self.grid) * self.stride
            wh = np.exp(p[:, 2:4]) * self.stride
            scores = p[:, 4:5] * p[:, 5:]
            cls = scores.argmax(1)
            sc = scores[np.arange(len(cls)), cls]
            keep = sc >= self.conf
            xy, wh, cls, sc = xy[keep], wh[keep], cls[keep], sc[keep]
            boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1) / r
            idx = cv2.dnn.NMSBoxesBatched(
                [list(map(float, b)) for b in np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)],
                sc.tolist(), cls.tolist(), self.conf, self.iou) if len(sc) else []
            idx = np.asarray(idx, np.int64).reshape(-1)
            names = np.array([COCO_FIRST[c] if c < len(COCO_FIRST) else f"coco{c}" for c in cls[idx]])
            out.append(Detections(boxes[idx].astype(np.float32), sc[idx].astype(np.float32),
                                  cls[idx].astype(np.int32), data={"class_name": names}))
        return out


def load_detector(path: Path):  # noqa: ANN201
    try:
        from models.registry import load_detector as registry_load  # type: ignore[import-not-found]
    except ImportError:
        return _YoloxNano(path)
    return registry_load(path, conf=0.3)


def detect_clip(video: Path, fps: float, model: Path, cache: Path,
                fresh: bool = False) -> list[tuple[float, Detections]]:
    """(ts, detections) per sampled frame, cached as .npz (`fresh` ignores and rewrites the cache)."""
    if cache.exists() and not fresh:
        z = np.load(cache, allow_pickle=False)
        out = []
        for i, ts in enumerate(z["ts"]):
            m = z["frame"] == i
            out.append((float(ts), Detections(z["xyxy"][m], z["conf"][m], z["cls"][m],
                                              data={"class_name": z["name"][m]})))
        return out
    det = load_detector(model)
    res: list[tuple[float, Detections]] = []
    for ts, frame in iter_frames(video, fps, desc=f"detect {video.name}"):
        res.append((ts, det.detect([frame])[0]))
    cache.parent.mkdir(parents=True, exist_ok=True)
    rows = [(i, d) for i, (_, d) in enumerate(res)]
    np.savez(cache, ts=np.array([t for t, _ in res]),
             frame=np.concatenate([np.full(len(d), i) for i, d in rows] or [np.zeros(0, int)]),
             xyxy=np.concatenate([d.xyxy for _, d in rows]).reshape(-1, 4).astype(np.float32),
             conf=np.concatenate([d.confidence for _, d in rows]).astype(np.float32),
             cls=np.concatenate([d.class_id for _, d in rows]).astype(np.int32),
             name=np.concatenate([np.asarray(d.data.get("class_name", np.array([], str)), str)
                                  for _, d in rows]))
    return res


def iter_frames(video: Path, fps: float, desc: str = ""):  # noqa: ANN201
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise SystemExit(f"cannot open {video}")
    src_fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    step = 1.0 / fps
    next_ts = 0.0
    i = 0
    with tqdm(total=total, desc=desc, unit="f", leave=False) as bar:
        while True:
            ok = cap.grab()
            if not ok:
                break
            ts = i / src_fps
            i += 1
            bar.update(1)
            if ts + 1e-6 < next_ts:
                continue
            next_ts += step
            ok, frame = cap.retrieve()
            if ok:
                yield ts, frame
    cap.release()


def event_record(camera_id: str, ev) -> dict:  # noqa: ANN001
    return {"event_id": ev.event_id, "seq": ev.seq, "camera_id": camera_id, "zone_id": ev.zone_id,
            "shop_id": ev.shop_id, "violation": ev.violation, "phase": ev.phase, "ts": round(ev.ts, 3),
            "score": round(ev.score, 4), "boxes": np.round(ev.boxes, 1).tolist()}


def run_clip(clip_json: Path, fps: float, model: Path, out_dir: Path, debug: bool = False,
             fresh: bool = False) -> Path:
    cz = load_zones(clip_json)
    meta = json.loads(clip_json.read_text())
    video = clip_json.parent / meta["video"] if "video" in meta else clip_json.with_suffix(".mp4")
    cache = ROOT / "var" / "cache" / f"{video.stem}_{fps:g}fps_{model.stem}.npz"
    dets = detect_clip(video, fps, model, cache, fresh)
    analyzer = SceneAnalyzer(cz)
    out = out_dir / f"{clip_json.stem}.events.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    trace = []
    with out.open("w") as fh:
        for (ts, frame), (ts2, d) in zip(iter_frames(video, fps, desc=f"zones {clip_json.stem}"), dets,
                                         strict=False):
            assert abs(ts - ts2) < 1e-6
            for ev in analyzer.update(frame, ts, d):
                fh.write(json.dumps(event_record(cz.camera_id, ev)) + "\n")
            if debug:
                trace.append([ts] + [analyzer.last_static[z.zone_id].coverage for z in cz.zones]
                             + [analyzer.last_static[z.zone_id].gain[1] for z in cz.zones])
    if debug:
        np.save(out_dir / f"{clip_json.stem}.trace.npy", np.array(trace))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fps", type=float, default=4.0, help="analysis frames per second")
    ap.add_argument("--clips", nargs="*", default=None, help="clip stems (default: every clip_*.json)")
    ap.add_argument("--data", type=Path, default=SHARED / "data" / "dev-events")
    ap.add_argument("--model", type=Path, default=SHARED / "models" / "yolox_nano.onnx")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "dev-events")
    ap.add_argument("--debug", action="store_true", help="also save per-frame coverage traces")
    ap.add_argument("--fresh", action="store_true", help="run the detector again (ignore var/cache)")
    args = ap.parse_args(argv)
    clips = ([args.data / f"{c}.json" for c in args.clips] if args.clips
             else sorted(args.data.glob("clip_*.json")))
    pairs: list[str] = []
    for clip in clips:
        t0 = time.perf_counter()
        events = run_clip(clip, args.fps, args.model, args.out, args.debug, args.fresh)
        print(f"{clip.stem}: {events} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        pairs += [str(clip), str(events)]
    return subprocess.call([sys.executable, str(SHARED / "checks" / "score-events"), *pairs])


if __name__ == "__main__":
    raise SystemExit(main())
