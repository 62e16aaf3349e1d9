"""Make labelled cross-door trading / piled goods clips the way ../shared/data/dev-events was made.

    .venv/bin/python scripts/synth_trading_clips.py --out var/trading-7 --count 6 --seed 7 --score
    .venv/bin/python scripts/synth_trading_clips.py --out var/trading-7 --rescore --with-dev

Each clip is PETS2009 footage (forward, backward, forward; 150 s by default at 10 fps, H.264, 2 s GOP) with
the dev clips' camera conditions (light drift, an exposure step, up to 2.5 px of shake) and six shop zones,
each with a door line along its top edge (the façade; the zone below it is the street side) and both
violations enabled. Pasted into them, under the footage's real pedestrians:
- people cut out of the same footage (a detected person's box, its pixels where the frame differs from the
  footage's median background), scaled to the height a person has at that row of the scene;
- goods: rubbish-bag photographs from ../shared/data/sidewalk-bags (which the detector does not name) and
  bicycles, tricycles and motorbikes cut out of ../shared/data/visdrone-street, kept only where the detector
  names the pasted vehicle one (`bicycle`, `motorcycle`, `car`, `truck`).
Each zone gets one of these (truth kinds raise the named violation, the others must raise nothing):
- `tended` → cross_door_trading: 2–3 goods set down side by side in the zone and a vendor standing by them
  (in the zone or in the doorway just behind the door line), who steps inside once for 5–10 s;
- `stall` → cross_door_trading: a parked vehicle in the zone with goods set down beside it;
- `pile` → piled_goods: 1–2 bags set down and left alone;
- `behind`: goods and their vendor just behind the door line (outside the zone);
- `passers`: 6–10 people carrying a bag walk across the zone, each 2–4 s in it;
- `brief`: 2–3 people walk in, stop for 5–12 s and walk on (once beside a pile, whose truth stays piled);
- `standing`: a person with a handbag stands in the zone for 50–90 s;
- `parked`: a vehicle (one the detector names a vehicle) alone, parked in the zone for the rest of the clip;
- `litter`: a small scrap (about 1 % of the zone) left in the zone.
Every clip has one `tended` zone; the kinds of the other five are drawn. The truth's `kind` and the
`negatives` (zone, kind, times) say what each zone holds. Score with `models.violation_scoring`
(`--score`: runs the edge worker on every clip first). Clips are written under `--out` only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from synth_event_clips import (
    FPS,
    SHARED,
    SIZE,
    bag_library,
    conditions,
    cut_out,
    load_footage,
    median_background,
    play_order,
    random_zones,
    shake_path,
)
from tqdm import tqdm

from testkit.scenes import Actor, Sprite, composite, cut_library, detect, height_at, scaled, with_bag

ROOT = Path(__file__).resolve().parents[1]
RULES = {"min_dwell_s": 30.0, "clear_s": 10.0}
TRUTH_KINDS = {"tended": "cross_door_trading", "stall": "cross_door_trading", "pile": "piled_goods"}
NEGATIVE_KINDS = ("behind", "passers", "brief", "standing", "parked", "litter")


def box_library(root: Path, classes: set[int]) -> list[Sprite]:
    """Rectangular cut-outs (soft edges) of labelled objects of `classes` in a YOLO-labelled image folder."""
    out = []
    for label in sorted((root / "labels_yolo").glob("*.txt")):
        img = cv2.imread(str(root / "images" / (label.stem + ".jpg")))
        if img is None:
            continue
        h, w = img.shape[:2]
        for line in label.read_text().split("\n"):
            parts = line.split()
            if len(parts) != 5 or int(parts[0]) not in classes:
                continue
            cx, cy, bw, bh = (float(v) for v in parts[1:])
            x1, y1 = int((cx - bw / 2) * w), int((cy - bh / 2) * h)
            x2, y2 = int((cx + bw / 2) * w), int((cy + bh / 2) * h)
            if min(x2 - x1, y2 - y1) < 24:
                continue
            fg = np.ones((y2 - y1, x2 - x1), np.float32)
            out.append(Sprite(img[y1:y2, x1:x2].copy(), cv2.GaussianBlur(fg, (5, 5), 0) * fg))
    return out


def recognised(detector: object, background: np.ndarray, sprite: Sprite, foot: tuple[int, int],
               classes: set[str], min_conf: float) -> bool:
    """Whether the detector names `sprite`, pasted on the empty scene at `foot`, one of `classes`."""
    frame = background.copy()
    actor = Actor(sprite, [(0.0, *foot), (1.0, *foot)])
    composite(frame, actor, 0.0, np.zeros_like(background))
    x1, y1, x2, y2 = actor.box_at(0.0)
    xyxy, conf, names = detect(detector, frame)
    for b, c, n in zip(xyxy, conf, names, strict=True):
        inter = max(0.0, min(b[2], x2) - max(b[0], x1)) * max(0.0, min(b[3], y2) - max(b[1], y1))
        if n in classes and c >= min_conf and inter >= 0.5 * (x2 - x1) * (y2 - y1):
            return True
    return False


class Scene:
    """The zones of one clip and what is pasted into them."""

    def __init__(self, rng: np.random.Generator, libs: dict, duration: float) -> None:
        self.rng, self.libs, self.duration = rng, libs, duration
        self.zones = random_zones(rng, n=6)
        for z in self.zones:
            p = z["polygon"]
            z["door_line"] = [p[0], p[1]]  # the top edge: the façade
            z["violations"] = ["piled_goods", "cross_door_trading"]
        self.actors: list[Actor] = []
        self.truth: list[dict] = []
        self.negatives: list[dict] = []

    # ------------------------------------------------------------------ helpers
    def geometry(self, z: dict) -> tuple[float, float, float, float]:
        p = np.array(z["polygon"], float)
        return p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()

    def person(self, foot_y: float, bag: bool = False) -> Sprite:
        sprite, _ = self.libs["people"][int(self.rng.integers(len(self.libs["people"])))]
        s = scaled(sprite, self.libs["height"](foot_y))
        return with_bag(s, self.bag(), float(self.rng.uniform(0.2, 0.3))) if bag else s

    def bag(self) -> Sprite:
        image, box = self.libs["bags"][int(self.rng.integers(len(self.libs["bags"])))]
        return Sprite(*cut_out(image, box, self.rng))

    def goods(self, z: dict, n: int, x0: float, width: float, foot_y: float) -> list[Sprite]:
        """`n` bags side by side from x0, each about `width`/n wide, at most 0.6 of a person's height."""
        out = []
        ph = self.libs["height"](foot_y)
        for _ in range(n):
            b = self.bag()
            h = min(ph * float(self.rng.uniform(0.35, 0.6)), width / n * b.alpha.shape[0] / b.alpha.shape[1])
            out.append(scaled(b, h))
        return out

    def still(self, sprite: Sprite, x: float, y: float, on: float, off: float, front: bool = False,
              gaps: tuple[tuple[float, float], ...] = ()) -> Actor:
        a = Actor(sprite, [(on, x, y), (off, x, y)], gaps, front)
        self.actors.append(a)
        return a

    def walk(self, sprite: Sprite, t0: float, path: list[tuple[float, float]], stops: dict[int, float] | None = None
             ) -> tuple[float, float]:
        """Walk `path` at about 0.8 of a person's height per second, standing `stops[i]` s at point i."""
        keys, t = [], t0
        speed = 0.8 * sprite.alpha.shape[0]
        for i, (x, y) in enumerate(path):
            if keys:
                px, py = keys[-1][1:]
                t += float(np.hypot(x - px, y - py)) / speed
            keys.append((t, x, y))
            if stops and i in stops:
                t += stops[i]
                keys.append((t, x, y))
        self.actors.append(Actor(sprite, keys, front=True))
        return keys[0][0], keys[-1][0]

    def display(self, z: dict, on: float, off: float, behind: bool = False) -> tuple[float, float]:
        """Goods side by side, in the zone (or just behind its door line), and their vendor beside them; the
        vendor steps inside once for 5–10 s. Returns the goods' (left, right) x."""
        x0, y0, x1, y1 = self.geometry(z)
        foot = y0 - 3 if behind else float(self.rng.uniform(y0 + 0.55 * (y1 - y0), y1 - 3))
        vendor = self.person(foot)
        vw = vendor.alpha.shape[1]
        span = (x1 - x0) * float(self.rng.uniform(0.4, 0.6))
        left = x0 + 6 + float(self.rng.uniform(0, max(x1 - x0 - span - vw - 18, 1)))
        gx = left
        for g in self.goods(z, int(self.rng.integers(2, 4)), left, span, foot):
            self.still(g, gx + g.alpha.shape[1] / 2, foot, on, off)
            gx += g.alpha.shape[1] + 2
        vx = gx + 4 + vw / 2
        v_foot = y0 - 2 if (not behind and self.rng.random() < 0.35) else foot  # in the doorway at times
        away = float(self.rng.uniform(on + 0.4 * (off - on), on + 0.7 * (off - on)))
        self.still(vendor, vx, v_foot, on, off, front=True, gaps=((away, away + float(self.rng.uniform(5, 10))),))
        return left, gx

    # ------------------------------------------------------------------ kinds
    def tended(self, z: dict, on: float, off: float) -> None:
        self.display(z, on, off)

    def vehicle(self, z: dict, foot: float, room: float) -> tuple[Sprite, float] | None:
        """A vehicle the detector names one, parked at the zone's left with `room` (share of the zone's
        width) free on its right; None when none of six tries fits."""
        x0, y0, x1, y1 = self.geometry(z)
        ph = self.libs["height"](foot)
        vehicles = self.libs["vehicles"]
        for _ in range(6):
            v = scaled(vehicles[int(self.rng.integers(len(vehicles)))], ph * float(self.rng.uniform(0.7, 1.0)))
            vx = x0 + 6 + v.alpha.shape[1] / 2
            if vx + v.alpha.shape[1] / 2 + room * (x1 - x0) > x1:
                continue
            if recognised(self.libs["detector"], self.libs["background"], v, (int(vx), int(foot)),
                          self.libs["vehicle_classes"], 0.35):
                return v, vx
        return None

    def stall(self, z: dict, on: float, off: float) -> bool:
        x0, y0, x1, y1 = self.geometry(z)
        foot = float(self.rng.uniform(y0 + 0.6 * (y1 - y0), y1 - 3))
        found = self.vehicle(z, foot, 0.3)
        if found is None:
            return False
        v, vx = found
        self.still(v, vx, foot, on, off)
        gx = vx + v.alpha.shape[1] / 2 + 3
        for g in self.goods(z, 2, gx, 0.25 * (x1 - x0), foot):
            self.still(g, gx + g.alpha.shape[1] / 2, foot, on + 2, off)
            gx += g.alpha.shape[1] + 2
        return True

    def pile(self, z: dict, on: float, off: float) -> None:
        x0, y0, x1, y1 = self.geometry(z)
        foot = float(self.rng.uniform(y0 + 0.5 * (y1 - y0), y1 - 3))
        left = x0 + 6 + float(self.rng.uniform(0, 0.4 * (x1 - x0)))
        for g in self.goods(z, int(self.rng.integers(1, 3)), left, (x1 - x0) * 0.4, foot):
            self.still(g, left + g.alpha.shape[1] / 2, foot, on, off)
            left += g.alpha.shape[1] + 2
        if self.rng.random() < 0.5:  # someone stops beside the pile for a moment: still a pile
            self.brief(z, float(self.rng.uniform(on + 5, max(on + 6, off - 20))), count=1)

    def behind(self, z: dict, on: float, off: float) -> None:
        self.display(z, on, off, behind=True)

    def passers(self, z: dict, on: float, off: float) -> None:
        x0, y0, x1, y1 = self.geometry(z)
        t = on
        while t < off:
            y = float(self.rng.uniform(y0 + 0.3 * (y1 - y0), y1 - 2))
            p = self.person(y, bag=True)
            a, b = (x0 - p.alpha.shape[1], x1 + p.alpha.shape[1])
            path = [(a, y), (b, y + float(self.rng.uniform(-8, 8)))]
            self.walk(p, t, path if self.rng.random() < 0.5 else path[::-1])
            t += float(self.rng.uniform(4, 9))

    def brief(self, z: dict, on: float, count: int | None = None) -> None:
        x0, y0, x1, y1 = self.geometry(z)
        t = on
        for _ in range(count or int(self.rng.integers(2, 4))):
            y = float(self.rng.uniform(y0 + 0.4 * (y1 - y0), y1 - 2))
            p = self.person(y, bag=self.rng.random() < 0.5)
            stop = float(self.rng.uniform(x0 + 0.3 * (x1 - x0), x1 - 0.3 * (x1 - x0)))
            w = p.alpha.shape[1]
            path = [(x0 - w, y), (stop, y), (x1 + w, y)]
            stops = {1: float(self.rng.uniform(5, 12))}
            _, end = self.walk(p, t, path if self.rng.random() < 0.5 else path[::-1], stops)
            t = end + float(self.rng.uniform(5, 15))

    def standing(self, z: dict, on: float, off: float) -> None:
        x0, y0, x1, y1 = self.geometry(z)
        y = float(self.rng.uniform(y0 + 0.5 * (y1 - y0), y1 - 3))
        p = self.person(y, bag=True)
        w = p.alpha.shape[1]
        lo, hi = (x0 + w, x1 - w) if x1 - x0 > 2 * w else (x0 + w / 2, max(x1 - w / 2, x0 + w / 2 + 1))
        self.still(p, float(self.rng.uniform(lo, hi)), y, on,
                   min(off, on + float(self.rng.uniform(50, 90))), front=True)

    def parked(self, z: dict, on: float, off: float) -> bool:
        x0, y0, x1, y1 = self.geometry(z)
        foot = float(self.rng.uniform(y0 + 0.6 * (y1 - y0), y1 - 3))
        found = self.vehicle(z, foot, 0.0)
        if found is not None:
            self.still(found[0], found[1], foot, on, off)
        return found is not None

    def litter(self, z: dict, on: float, off: float) -> None:
        x0, y0, x1, y1 = self.geometry(z)
        side = float(np.sqrt(0.01 * (x1 - x0) * (y1 - y0)))
        b = scaled(self.bag(), side)
        self.still(b, float(self.rng.uniform(x0 + side, x1 - side)), float(self.rng.uniform(y0 + side + 2, y1 - 2)),
                   on, off)


def make_clip(index: int, seed: int, footage: list[bytes], libs: dict, out: Path, seconds: float) -> Path:
    import av  # the `dev` extra; only this tool writes H.264

    rng = np.random.default_rng([seed, index, 20])
    order = play_order(len(footage))[: int(round(seconds * FPS))]
    duration = round(len(order) / FPS, 1)
    scene = Scene(rng, libs, duration)
    kinds = ["tended"] + [str(k) for k in rng.choice(["tended", "stall", "pile", *NEGATIVE_KINDS], 5)]
    for z, kind in zip(scene.zones, kinds, strict=True):
        on = round(float(rng.uniform(8, 35)), 1)
        stays = bool(rng.random() < 0.25)
        off = duration if stays else round(min(on + float(rng.uniform(55, 90)), duration - 25), 1)
        if kind == "stall" and not scene.stall(z, on, off):
            kind = "pile"  # no vehicle the detector names fits this zone
        if kind in ("tended", "pile"):
            getattr(scene, kind)(z, on, off)
        if kind in TRUTH_KINDS:
            scene.truth.append({"zone_id": z["zone_id"], "violation": TRUTH_KINDS[kind], "on": on, "off": off,
                                "stays_to_end": stays, "kind": kind})
            continue
        off = duration if kind in ("parked", "litter") else off
        if kind == "parked" and not scene.parked(z, on, off):
            kind = "passers"  # no vehicle the detector names fits this zone
        if kind == "brief":
            scene.brief(z, on)
        elif kind != "parked":
            getattr(scene, kind)(z, on, off)
        scene.negatives.append({"zone_id": z["zone_id"], "kind": kind, "on": on, "off": off})
    cond = conditions(rng, duration / 238.3)
    shake = shake_path(rng, len(order), cond["shake_px_max"])
    background = libs["background"]
    name = f"clip_{index:02d}"
    video = out / f"{name}.mp4"
    container = av.open(str(video), "w")
    stream = container.add_stream("libx264", rate=int(FPS))
    stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
    stream.gop_size = int(2 * FPS)
    stream.options = {"crf": "23", "preset": "veryfast", "keyint_min": str(int(2 * FPS)), "sc_threshold": "0"}
    period, phase = cond["light_drift_period_s"], cond["light_drift_phase"]
    e_start, e_len, e_factor = cond["exposure_step"]
    layers = [a for a in scene.actors if not a.front] + [a for a in scene.actors if a.front]
    for n, src in enumerate(tqdm(order, desc=name, unit="frame", leave=False)):
        t = n / FPS
        frame = cv2.imdecode(np.frombuffer(footage[src], np.uint8), cv2.IMREAD_COLOR)
        for a in layers:
            composite(frame, a, t, background)
        gain = 1 + 0.12 * np.sin(2 * np.pi * t / period + phase)
        if e_start <= t < e_start + e_len:
            gain *= e_factor
        frame = cv2.convertScaleAbs(frame, alpha=gain)
        m = np.float32([[1, 0, shake[n, 0]], [0, 1, shake[n, 1]]])
        frame = cv2.warpAffine(frame, m, SIZE, borderMode=cv2.BORDER_REFLECT)
        container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
    container.mux(stream.encode())
    container.close()
    meta = {"fps": FPS, "size": list(SIZE), "duration_s": duration, "rules": RULES, "zones": scene.zones,
            "truth": sorted(scene.truth, key=lambda r: r["on"]), "short": [],
            "negatives": scene.negatives, "video": video.name,
            "conditions": {**cond, "made_by": f"scripts/synth_trading_clips.py --seed {seed} (clip {index})"}}
    (out / f"{name}.json").write_text(json.dumps(meta, indent=1))
    return out / f"{name}.json"


def libraries(footage: list[bytes], model: Path, bags: Path) -> dict:
    from models.registry import load_detector

    detector = load_detector(model, conf=0.25)
    background = median_background(footage)
    frames = [cv2.imdecode(np.frombuffer(footage[i], np.uint8), cv2.IMREAD_COLOR)
              for i in np.linspace(0, len(footage) - 1, 40).astype(int)]
    people = cut_library(detector, frames, background, {"person"}, min_h=40)
    if len(people) < 5:
        raise SystemExit(f"only {len(people)} people cut out of the footage")
    vehicles = box_library(SHARED / "data" / "visdrone-street", {2, 6, 7, 9})  # bicycle, tricycles, motor
    return {"detector": detector, "background": background, "people": people, "height": height_at(people),
            "bags": bag_library(bags), "vehicles": vehicles,
            "vehicle_classes": {"bicycle", "motorcycle", "car", "truck"}}


def score(clips: list[Path], model: Path, out: Path) -> int:
    """Run `doorline-edge run` on every clip (both violations on), then score per violation."""
    edge = ROOT / ".venv" / "bin" / "doorline-edge"
    args = []
    for clip in tqdm(clips, desc="edge", unit="clip"):
        doc = json.loads(clip.read_text())
        for z in doc["zones"]:
            z.setdefault("violations", ["piled_goods", "cross_door_trading"])
        both = out / f"{clip.parent.name}_{clip.stem}.both.json"
        both.write_text(json.dumps(doc))
        events = out / f"{clip.parent.name}_{clip.stem}.events.jsonl"
        subprocess.run([str(edge), "run", "--source", str(clip.with_suffix(".mp4")), "--zones", str(both),
                        "--model", str(model), "--events-out", str(events), "--no-mqtt"],
                       check=True, stdout=subprocess.DEVNULL)
        args += [str(both), str(events)]
    return subprocess.run([sys.executable, "-m", "models.violation_scoring", *args], cwd=ROOT).returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "trading")
    ap.add_argument("--count", type=int, default=6)
    ap.add_argument("--first", type=int, default=0, help="make clips first..count-1 only (the others exist)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=150.0)
    ap.add_argument("--footage", type=Path, default=SHARED / "data" / "pets2009" / "vtest.avi")
    ap.add_argument("--bags", type=Path, default=SHARED / "data" / "sidewalk-bags" / "valid")
    ap.add_argument("--model", type=Path, default=SHARED / "models" / "yolox_nano.onnx")
    ap.add_argument("--score", action="store_true", help="run the edge worker on the clips and score them")
    ap.add_argument("--rescore", action="store_true", help="score the clips already under --out; make none")
    ap.add_argument("--with-dev", action="store_true", help="also score ../shared/data/dev-events, both rules on")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.rescore:
        clips = sorted(a.out.glob("clip_*.json"))
    else:
        footage = load_footage(a.footage)
        libs = libraries(footage, a.model, a.bags)
        for i in tqdm(range(a.first, a.count), desc="clips"):
            make_clip(i, a.seed, footage, libs, a.out, a.seconds)
        clips = [a.out / f"clip_{i:02d}.json" for i in range(a.count)]
    if a.with_dev:
        clips = sorted((SHARED / "data" / "dev-events").glob("clip_*.json")) + list(clips)
    return score(clips, a.model, a.out) if a.score or a.rescore else 0


if __name__ == "__main__":
    raise SystemExit(main())
