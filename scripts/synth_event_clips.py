"""Make new piled-goods event clips the way ../shared/data/dev-events was made, to test on unseen layouts.

    .venv/bin/python scripts/synth_event_clips.py --out var/synth --count 4 --seed 1
    .venv/bin/python scripts/synth_event_clips.py --out var/synth --count 4 --seed 1 --score
    .venv/bin/python scripts/synth_event_clips.py --out var/synth --rescore   # after an edge change
    make accuracy   # the dev clips and 8 made ones (--seed 2), made once under var/synth-2, then rescored

Each clip is the PETS2009 footage played forward, backward and forward (238 s at 10 fps, H.264 with a
2 s GOP), with bag photographs from ../shared/data/sidewalk-bags/valid pasted into random shop zones at
random times. Pedestrians stay in front of the bags: a pixel that differs from the footage's median
background is a person and is drawn over the bag. The camera conditions follow dev-events/README.md:
slow light drift (±12 %), one exposure step (±15–22 % for 15–40 s) and up to 2.5 px of shake.

`--kind` adds the layouts the dev clips under-represent (any of them together; each draws from its own
generator, so clips made without it keep their zones, objects and timings, JSON for JSON):
- `far`: small zones (50–110 × 16–30 px) in the far part of the scene (rows 100–240 of PETS2009);
- `dull`: objects recoloured to nearly the ground's colour under them (8–20 grey levels off, 50–90 % of
  their texture's contrast);
- `straddle`: objects set across a zone's edge, 40–70 % of their area inside (still a pile in the zone);
- `crowd`: 2–3 objects in each event zone, set down and taken away at different times (the truth is the
  zone's union of them), and 1–2 neighbours' objects standing just outside the zone's edge, from about
  when the first is set down to the clip's end (they are in no zone, so they must raise nothing).
- `spill`: 1–2 neighbours' objects per event zone that reach 2–6 px into it across its edge (at most 15 % of
  the object), set down 5–30 s after the zone's own object and left to the clip's end: they belong to the
  next shop (most of each stands outside), so the zone must still end when its own object goes.

Each `clip_NN.json` uses the dev-events layout (zones, rules, truth, short, negatives, conditions), so
`doorline-edge run --zones clip_NN.json` and `../shared/checks/score-events` read it unchanged. `--score`
runs the edge worker on every clip and prints the scorer's totals. Clips are written under `--out` only;
nothing from ../shared is copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DOORLINE_SHARED", ROOT.parent / "shared"))
FPS = 10.0
SIZE = (768, 576)
FULL_S = 238.3  # dev-events' length; timings below are drawn for it and scaled to a shorter --seconds
RULES = {"min_dwell_s": 30.0, "clear_s": 10.0}
KINDS = ("far", "dull", "straddle", "crowd", "spill")
FAR_ROWS = (100, 240)  # PETS2009's far paving and road, where a zone is small in pixels


@dataclass
class Placement:
    zone_id: str
    on: float
    off: float
    x: int  # top-left of the pasted object in frame pixels
    y: int
    rgb: np.ndarray  # h×w×3 uint8
    alpha: np.ndarray  # h×w float32 in [0, 1]

    @property
    def box(self) -> list[int]:
        """x1, y1, x2, y2 frame px (before shake)."""
        h, w = self.alpha.shape
        return [self.x, self.y, self.x + w, self.y + h]


def load_footage(path: Path, max_frames: int | None = None) -> list[bytes]:
    """The source frames, JPEG-encoded in memory (the raw clip would take 1 GB)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SystemExit(f"cannot open {path}")
    frames: list[bytes] = []
    while max_frames is None or len(frames) < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 97])[1].tobytes())
    return frames


def play_order(n: int) -> list[int]:
    """Forward, backward, forward: the dev clips' 2383 frames from vtest's 795."""
    fwd = list(range(n))
    return fwd + fwd[-2::-1] + fwd[1:]


def median_background(frames: list[bytes], samples: int = 60) -> np.ndarray:
    idx = np.linspace(0, len(frames) - 1, samples).astype(int)
    stack = np.stack([cv2.imdecode(np.frombuffer(frames[i], np.uint8), cv2.IMREAD_COLOR) for i in idx])
    return np.median(stack, axis=0).astype(np.uint8)


def bag_library(root: Path) -> list[tuple[Path, np.ndarray]]:
    """(image, box in pixels) for every labelled bag in the validation split."""
    out = []
    for label in sorted((root / "labels").glob("*.txt")):
        image = root / "images" / (label.stem + ".jpg")
        if not image.exists():
            continue
        for line in label.read_text().split("\n"):
            parts = line.split()
            if len(parts) != 5:
                continue
            cx, cy, w, h = map(float, parts[1:])
            if w * h < 0.01:  # too small to be a useful cut-out
                continue
            out.append((image, np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])))
    if not out:
        raise SystemExit(f"no labelled bags under {root}")
    return out


def cut_out(image: Path, box: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A bag's pixels and alpha: GrabCut inside its box (soft edge), or a plain rectangle crop."""
    img = cv2.imread(str(image))
    h, w = img.shape[:2]
    x0, y0, x1, y1 = (box * [w, h, w, h]).round().astype(int).clip(0, [w, h, w, h])
    crop = img[y0:y1, x0:x1]
    if rng.random() < 0.35:
        alpha = np.ones(crop.shape[:2], np.float32)
    else:
        pad = 6
        x0p, y0p, x1p, y1p = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)
        region = img[y0p:y1p, x0p:x1p]
        mask = np.zeros(region.shape[:2], np.uint8)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        rect = (x0 - x0p, y0 - y0p, x1 - x0, y1 - y0)
        cv2.grabCut(region, mask, rect, bgd, fgd, 3, cv2.GC_INIT_WITH_RECT)
        fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
        fg = fg[y0 - y0p:y1 - y0p, x0 - x0p:x1 - x0p]
        if fg.mean() < 0.3:  # GrabCut lost the bag: fall back to an ellipse
            fg = np.zeros(crop.shape[:2], np.float32)
            cv2.ellipse(fg, (crop.shape[1] // 2, crop.shape[0] // 2),
                        (crop.shape[1] // 2, crop.shape[0] // 2), 0, 0, 360, 1.0, -1)
        alpha = cv2.GaussianBlur(fg, (5, 5), 0)
    return crop, alpha


def random_zones(rng: np.random.Generator, n: int = 5, far: bool = False) -> list[dict]:
    """n non-overlapping quadrilaterals of dev-events' sizes (120–260 × 40–80 px), slightly skewed; `far`:
    small ones (50–110 × 16–30 px) in the far rows `FAR_ROWS`."""
    zones: list[dict] = []
    taken = np.zeros(SIZE[::-1], np.uint8)
    while len(zones) < n:
        if far:
            w, h = int(rng.integers(50, 111)), int(rng.integers(16, 31))
            x, y = int(rng.integers(10, SIZE[0] - w - 10)), int(rng.integers(FAR_ROWS[0], FAR_ROWS[1] - h))
            s1, s2 = (int(v) for v in rng.integers(-6, 7, 2))
        else:
            w, h = int(rng.integers(120, 261)), int(rng.integers(40, 81))
            x, y = int(rng.integers(10, SIZE[0] - w - 10)), int(rng.integers(95, SIZE[1] - h - 40))
            s1, s2 = (int(v) for v in rng.integers(-15, 16, 2))
        poly = np.array([[x + max(s1, 0), y], [x + w + min(s2, 0), y], [x + w, y + h], [x, y + h]])
        probe = np.zeros_like(taken)
        cv2.fillPoly(probe, [poly.astype(np.int32)], 1)
        if (cv2.dilate(probe, np.ones((21, 21), np.uint8)) & taken).any():
            continue
        taken |= probe
        zones.append({"zone_id": f"sz-{len(zones) + 1}", "shop_id": f"shop-sz-{len(zones) + 1}",
                      "polygon": poly.tolist()})
    return zones


def place(zone: dict, crop: np.ndarray, alpha: np.ndarray, rng: np.random.Generator,
          on: float, off: float, width: tuple[float, float] = (0.3, 0.6)) -> Placement:
    """Scale a cut-out to `width` (fractions) of the zone's width and 25–70 % of its height, in the zone."""
    poly = np.array(zone["polygon"])
    zx0, zy0 = poly.min(0)
    zx1, zy1 = poly.max(0)
    zw, zh = zx1 - zx0, zy1 - zy0
    w = max(int(zw * rng.uniform(*width)), 12)
    h = int(np.clip(w * crop.shape[0] / crop.shape[1], zh * 0.25, zh * 0.7))
    rgb = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
    a = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    x = int(rng.integers(zx0 + 4, max(zx1 - w - 4, zx0 + 5)))
    bottom = int(rng.integers(zy0 + h + 2, zy1 - 2)) if zy1 - 2 > zy0 + h + 2 else zy1 - 2
    return Placement(zone["zone_id"], on, off, x, bottom - h, rgb, a)


def zone_mask(zone: dict) -> np.ndarray:
    mask = np.zeros(SIZE[::-1], np.uint8)
    cv2.fillPoly(mask, [np.array(zone["polygon"], np.int32)], 1)
    return mask


def inside_share(p: Placement, mask: np.ndarray) -> float:
    """The share of `p`'s opaque area that lies in `mask`."""
    h, w = p.alpha.shape
    return float((p.alpha * mask[p.y:p.y + h, p.x:p.x + w]).sum() / max(p.alpha.sum(), 1e-6))


def moved(p: Placement, x: int, y: int) -> Placement:
    h, w = p.alpha.shape
    x, y = int(np.clip(x, 2, SIZE[0] - w - 2)), int(np.clip(y, 2, SIZE[1] - h - 2))
    return Placement(p.zone_id, p.on, p.off, x, y, p.rgb, p.alpha)


def straddle(p: Placement, zone: dict, others: np.ndarray, rng: np.random.Generator,
             share: tuple[float, float] = (0.4, 0.7)) -> Placement:
    """Move `p` across one of its zone's edges so that `share` of it stays inside and none of it touches
    another zone (`others`, dilated); `p` unchanged when no such spot is drawn in 200 tries."""
    poly = np.array(zone["polygon"])
    zx0, zy0 = poly.min(0)
    zx1, zy1 = poly.max(0)
    h, w = p.alpha.shape
    mask = zone_mask(zone)
    for _ in range(200):
        side = int(rng.integers(4))
        f = rng.uniform(*share)  # the fraction of the object's extent across the edge that stays inside
        if side in (0, 1):  # left, right
            x = int(zx0 - w * (1 - f)) if side == 0 else int(zx1 - w * f)
            y = int(rng.integers(zy0, max(zy1 - h, zy0 + 1)))
        else:  # top, bottom
            x = int(rng.integers(zx0, max(zx1 - w, zx0 + 1)))
            y = int(zy0 - h * (1 - f)) if side == 2 else int(zy1 - h * f)
        q = moved(p, x, y)
        if not share[0] - 0.05 <= inside_share(q, mask) <= share[1] + 0.05:
            continue
        if others[q.y:q.y + h, q.x:q.x + w].any():
            continue
        return q
    return p


def outside_neighbour(zone: dict, crop: np.ndarray, alpha: np.ndarray, taken: np.ndarray,
                      rng: np.random.Generator, on: float, off: float, width: tuple[float, float],
                      gaps: tuple[int, int] = (0, 5)) -> Placement | None:
    """A neighbour's object standing just outside `zone` (`gaps`: from 0 to 4 px from its edge, left, right,
    above or below; a negative gap reaches that far into the zone), touching nothing `taken` (other zones,
    dilated, and other placed objects); None when none fits."""
    p = place(zone, crop, alpha, rng, on, off, width)
    poly = np.array(zone["polygon"])
    zx0, zy0 = poly.min(0)
    zx1, zy1 = poly.max(0)
    h, w = p.alpha.shape
    for _ in range(200):
        side, gap = int(rng.integers(4)), int(rng.integers(*gaps))
        if gap < 0:  # reaching in: at most 15 % of the object, so that most of it stands outside
            gap = -min(-gap, max(1, int(0.15 * (w if side < 2 else h))))
        if side == 0:
            x, y = zx0 - w - gap, int(rng.integers(zy0, max(zy1 - h, zy0 + 1)))
        elif side == 1:
            x, y = zx1 + gap, int(rng.integers(zy0, max(zy1 - h, zy0 + 1)))
        elif side == 2:
            x, y = int(rng.integers(zx0, max(zx1 - w, zx0 + 1))), zy0 - h - gap
        else:
            x, y = int(rng.integers(zx0, max(zx1 - w, zx0 + 1))), zy1 + gap
        q = moved(p, x, y)
        if (q.x, q.y) != (x, y) or taken[q.y:q.y + h, q.x:q.x + w].any():
            continue
        return q  # its zone_id names the zone it stands next to, not one it is in
    return None


def dull(p: Placement, background: np.ndarray, rng: np.random.Generator,
         delta: tuple[float, float] = (8.0, 20.0), contrast: tuple[float, float] = (0.5, 0.9)) -> Placement:
    """`p` recoloured to nearly the ground's colour under it: its mean `delta` grey levels off the ground's
    (either sign) and its texture at `contrast` of its own."""
    h, w = p.alpha.shape
    ground = background[p.y:p.y + h, p.x:p.x + w].reshape(-1, 3).astype(np.float32).mean(0)
    rgb = p.rgb.astype(np.float32)
    weight = p.alpha[..., None] / max(float(p.alpha.sum()), 1e-6)
    mean = (rgb * weight).sum((0, 1))
    off = float(rng.uniform(*delta)) * float(rng.choice([-1.0, 1.0]))
    out = ground + off + (rgb - mean) * float(rng.uniform(*contrast))
    return Placement(p.zone_id, p.on, p.off, p.x, p.y, np.clip(out, 0, 255).astype(np.uint8), p.alpha)


def conditions(rng: np.random.Generator, k: float) -> dict:
    """Light drift, the exposure step and shake; `k` scales the times to the clip's length."""
    start = float(rng.uniform(60, FULL_S - 60)) * k
    factor = float(rng.choice([rng.uniform(0.78, 0.85), rng.uniform(1.15, 1.22)]))
    return {"light_drift_period_s": round(float(rng.uniform(50, 65)) * k, 1),
            "light_drift_phase": round(float(rng.uniform(0, 2 * np.pi)), 2),
            "exposure_step": [round(start, 1), round(float(rng.uniform(15, 40)) * k, 1), round(factor, 2)],
            "shake_px_max": 2.5}


def shake_path(rng: np.random.Generator, n: int, amp: float) -> np.ndarray:
    """Per-frame (dx, dy): a slow sway plus jitter, never beyond `amp` pixels."""
    t = np.arange(n) / FPS
    f = rng.uniform(0.2, 0.8, 2)
    p = rng.uniform(0, 2 * np.pi, 2)
    sway = np.stack([np.sin(2 * np.pi * f[0] * t + p[0]), np.sin(2 * np.pi * f[1] * t + p[1])], 1)
    jitter = rng.normal(0, 0.35, (n, 2))
    return np.clip(sway * amp * 0.7 + jitter, -amp, amp)


def composite(frame: np.ndarray, p: Placement, background: np.ndarray) -> None:
    """Paste `p` into `frame` in place, under the people: pixels that differ from the footage's background."""
    h, w = p.alpha.shape
    region = frame[p.y:p.y + h, p.x:p.x + w]
    people = cv2.absdiff(region, background[p.y:p.y + h, p.x:p.x + w]).max(2) > 35
    people = cv2.dilate(cv2.morphologyEx(people.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)),
                        np.ones((3, 3), np.uint8))
    a = (p.alpha * (1 - people))[..., None]
    region[:] = (region * (1 - a) + p.rgb * a).astype(np.uint8)


def make_clip(index: int, seed: int, footage: list[bytes], background: np.ndarray,
              bags: list[tuple[Path, np.ndarray]], out: Path, seconds: float = FULL_S,
              width: tuple[float, float] = (0.3, 0.6), short_s: tuple[float, float] = (8.0, 15.0),
              repeat: float = 0.0, kinds: frozenset[str] = frozenset()) -> Path:
    """Write `clip_{index}.mp4` and its `.json` under `out`; returns the JSON's path. `width`: bag width as
    fractions of the zone's; `short_s`: how long the short (never an event) object stays, in seconds;
    `repeat`: the chance that a zone whose bag is taken away gets another one 20–40 s later; `kinds`: any of
    `KINDS` (see the module's docstring)."""
    if not kinds <= set(KINDS):
        raise ValueError(f"unknown kinds {sorted(kinds - set(KINDS))}; known: {', '.join(KINDS)}")
    rng = np.random.default_rng(seed * 1000 + index)
    kr = np.random.default_rng([seed, index, 2])  # the kinds' own draws: clips made without them stay the same
    order = play_order(len(footage))[: int(round(seconds * FPS))]
    duration = round(len(order) / FPS, 1)
    k = duration / FULL_S
    zones = random_zones(rng, far="far" in kinds)
    masks = {z["zone_id"]: zone_mask(z) for z in zones}
    grown = {i: cv2.dilate(m, np.ones((9, 9), np.uint8)) for i, m in masks.items()}
    neighbours: list[Placement] = []
    roles = rng.permutation(len(zones))
    n_truth = int(rng.choice([2, 3], p=[0.7, 0.3]))
    truth_z, short_z = roles[:n_truth], roles[n_truth]
    negatives = [zones[i]["zone_id"] for i in roles[n_truth + 1:]]
    placements: list[Placement] = []
    truth = []

    def set_down(zone: dict, on: float, off: float, r: np.random.Generator) -> Placement:
        image, box = bags[int(r.integers(len(bags)))]
        p = place(zone, *cut_out(image, box, r), r, on, off, width)
        if "straddle" in kinds:
            others = sum((m for i, m in grown.items() if i != zone["zone_id"]), np.zeros_like(masks[zone["zone_id"]]))
            p = straddle(p, zone, others, kr)
        if "dull" in kinds:
            p = dull(p, background, kr)
        placements.append(p)
        return p

    def neighbour(zone: dict, on: float, spill: bool = False) -> None:
        image, box = bags[int(kr.integers(len(bags)))]
        taken = sum((m for i, m in grown.items() if i != zone["zone_id"]), np.zeros_like(masks[zone["zone_id"]]))
        if not spill:
            taken = taken + masks[zone["zone_id"]]
        for q in (*placements, *neighbours):
            x1, y1, x2, y2 = q.box
            taken[y1:y2, x1:x2] = 1
        n = outside_neighbour(zone, *cut_out(image, box, kr), taken, kr, on, duration, width,
                              gaps=(-6, -1) if spill else (0, 5))
        if n is not None:
            neighbours.append(dull(n, background, kr) if "dull" in kinds else n)

    def truth_bag(zone: dict, on: float, off: float, stays: bool, r: np.random.Generator) -> None:
        if "spill" in kinds:  # drawn first: a zone's own objects then keep clear of the spilled ones
            for _ in range(int(kr.integers(1, 3))):
                neighbour(zone, round(on + float(kr.uniform(5, 30)) * k, 1), spill=True)
        if "crowd" not in kinds:
            p = set_down(zone, on, off, r)
            truth.append({"zone_id": zone["zone_id"], "violation": "piled_goods", "on": on, "off": off,
                          "stays_to_end": stays, "box": p.box})
            return
        # several objects, set down and taken away at different times; the truth is their union
        n = int(kr.integers(2, 4))
        ons = [on] + [round(on + float(kr.uniform(0, 15)) * k, 1) for _ in range(n - 1)]
        offs = [round(off - float(kr.uniform(5, 25)) * k, 1) for _ in range(n)]
        offs[int(kr.integers(n))] = off
        boxes = [set_down(zone, a, max(b, a + 5 * k), r).box for a, b in zip(ons, offs, strict=True)]
        for _ in range(int(kr.integers(1, 3))):
            neighbour(zone, round(max(1.0, on + float(kr.uniform(-20, 10)) * k), 1))
        b = np.array(boxes)
        truth.append({"zone_id": zone["zone_id"], "violation": "piled_goods", "on": on, "off": off,
                      "stays_to_end": stays, "box": [*b[:, :2].min(0).tolist(), *b[:, 2:].max(0).tolist()]})

    for i in truth_z:
        on = round(float(rng.uniform(10, 60)) * k, 1)
        stays = bool(rng.random() < 0.3)
        off = duration if stays else round(min(on + float(rng.uniform(70, 130)) * k, duration - 30 * k), 1)
        truth_bag(zones[i], on, off, stays, rng)
    s_on = round(float(rng.uniform(40, 150)) * k, 1)
    s_off = round(s_on + float(rng.uniform(*short_s)) * k, 1)
    short = set_down(zones[short_z], s_on, s_off, rng)
    cond = conditions(rng, k)
    shake = shake_path(rng, len(order), cond["shake_px_max"])
    if repeat > 0:  # its own generator, so that clips made without --repeat stay the same
        again = np.random.default_rng([seed, index, 1])
        for i, first in zip(truth_z, list(truth), strict=True):
            on = round(first["off"] + float(again.uniform(20, 40)) * k, 1)
            if first["stays_to_end"] or again.random() >= repeat or on + 45 * k > duration:
                continue
            off = round(min(on + float(again.uniform(40, 90)) * k, duration - 30 * k), 1)
            if off - on < 35 * k:
                continue
            truth_bag(zones[i], on, off, False, again)

    import av  # the `dev` extra; only this tool writes H.264

    name = f"clip_{index:02d}"
    video = out / f"{name}.mp4"
    container = av.open(str(video), "w")
    stream = container.add_stream("libx264", rate=int(FPS))
    stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
    stream.gop_size = int(2 * FPS)
    stream.options = {"crf": "23", "preset": "veryfast", "keyint_min": str(int(2 * FPS)),
                      "sc_threshold": "0"}
    period, phase = cond["light_drift_period_s"], cond["light_drift_phase"]
    e_start, e_len, e_factor = cond["exposure_step"]
    for n, src in enumerate(tqdm(order, desc=name, unit="frame", leave=False)):
        t = n / FPS
        frame = cv2.imdecode(np.frombuffer(footage[src], np.uint8), cv2.IMREAD_COLOR)
        for p in (*neighbours, *placements):
            if p.on <= t < p.off:
                composite(frame, p, background)
        gain = 1 + 0.12 * np.sin(2 * np.pi * t / period + phase)
        if e_start <= t < e_start + e_len:
            gain *= e_factor
        frame = cv2.convertScaleAbs(frame, alpha=gain)
        m = np.float32([[1, 0, shake[n, 0]], [0, 1, shake[n, 1]]])
        frame = cv2.warpAffine(frame, m, SIZE, borderMode=cv2.BORDER_REFLECT)
        pkt = stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24"))
        container.mux(pkt)
    container.mux(stream.encode())
    container.close()
    meta = {"fps": FPS, "size": list(SIZE), "duration_s": duration, "rules": RULES, "zones": zones,
            "truth": sorted(truth, key=lambda r: r["on"]),
            "short": [{"zone_id": zones[short_z]["zone_id"], "on": s_on, "off": s_off,
                       "box": short.box}],
            "negatives": negatives, "video": video.name,
            # provenance under `conditions`, so the file keeps dev-events' top-level keys exactly
            "conditions": {**cond, "made_by": f"scripts/synth_event_clips.py --seed {seed}"
                           + (f" --kind {' '.join(sorted(kinds))}" if kinds else "") + f" (clip {index})",
                           **({"kinds": sorted(kinds)} if kinds else {}),
                           **({"neighbours": [{"near_zone": n.zone_id, "on": n.on, "off": n.off, "box": n.box}
                                              for n in neighbours]} if neighbours else {})}}
    (out / f"{name}.json").write_text(json.dumps(meta, indent=1))
    return out / f"{name}.json"


def score(clips: list[Path], model: Path, out: Path) -> int:
    """Run `doorline-edge run` on every clip, then ../shared/checks/score-events on them all."""
    edge = ROOT / ".venv" / "bin" / "doorline-edge"
    args = []
    for clip in tqdm(clips, desc="edge", unit="clip"):
        events = out / (f"{clip.stem}.events.jsonl" if clip.parent == out
                        else f"{clip.parent.name}_{clip.stem}.events.jsonl")
        subprocess.run([str(edge), "run", "--source", str(clip.with_suffix(".mp4")), "--zones", str(clip),
                        "--model", str(model), "--events-out", str(events), "--no-mqtt"],
                       check=True, stdout=subprocess.DEVNULL)
        args += [str(clip), str(events)]
    return subprocess.run([sys.executable, str(SHARED / "checks" / "score-events"), *args]).returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "synth")
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=FULL_S, help="clip length (timings scale with it)")
    ap.add_argument("--width", type=float, nargs=2, default=(0.3, 0.6), metavar=("MIN", "MAX"),
                    help="bag width as fractions of the zone's width")
    ap.add_argument("--short-s", type=float, nargs=2, default=(8.0, 15.0), metavar=("MIN", "MAX"),
                    help="how long the short object stays (dev-events: 8-15 s; must stay under the dwell)")
    ap.add_argument("--repeat", type=float, default=0.0,
                    help="chance that a zone whose bag is taken away gets another one 20-40 s later")
    ap.add_argument("--kind", nargs="+", choices=KINDS, default=[],
                    help="layouts the dev clips under-represent (see the module's docstring); any together")
    ap.add_argument("--footage", type=Path, default=SHARED / "data" / "pets2009" / "vtest.avi")
    ap.add_argument("--bags", type=Path, default=SHARED / "data" / "sidewalk-bags" / "valid")
    ap.add_argument("--model", type=Path, default=SHARED / "models" / "yolox_nano.onnx")
    ap.add_argument("--score", action="store_true", help="run the edge worker on the clips and score them")
    ap.add_argument("--rescore", action="store_true", help="score the clips already under --out; make none")
    ap.add_argument("--with-dev", action="store_true",
                    help="score ../shared/data/dev-events' clips too (with --score or --rescore)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.rescore:
        clips = sorted(a.out.glob("clip_*.json"))
    else:
        footage = load_footage(a.footage)
        background = median_background(footage)
        bags = bag_library(a.bags)
        clips = [make_clip(i, a.seed, footage, background, bags, a.out, a.seconds, tuple(a.width),
                           tuple(a.short_s), a.repeat, frozenset(a.kind))
                 for i in tqdm(range(a.count), desc="clips", unit="clip")]
    if a.with_dev:
        clips = sorted((SHARED / "data" / "dev-events").glob("clip_*.json")) + list(clips)
    return score(clips, a.model, a.out) if a.score or a.rescore else 0


if __name__ == "__main__":
    raise SystemExit(main())
