"""drone-vendors tiles flown as nadir frames over a drawn footprint layer: which shops get a street-vendor event.

Each tile (one copy of each source tile of `--split`, `models.splits`) is shown for `--frames-per-tile` frames of
one drone video with a DJI SRT flight record looking straight down (pitch -90) from `--height` metres with a
focal length that gives `--gsd` metres a pixel (the tiles are orthophoto chips; their real ground sampling is
not in the dataset, 5 cm is assumed); tile k lies 100 m east of tile k-1, so no two tiles share ground. The
footprint layer is a grid of `--plot` metre square plots over every tile (our drawing; written to
`OUT_DIR/footprints.geojson`, and `--footprints` runs an edited copy instead). The video runs through the edge
pipeline (`edge.pipeline.Pipeline`, drone camera with footprints) with the model named by `--model`, found like
any model (`models.registry`): each goods-like detection is projected to the ground and grouped per plot.

Ground truth: the plots that hold a labelled vendor box's centre (nadir: the box centre is its ground point).
Reported per plot (`OUT_DIR/assignments.json`) and in total: plots with a vendor and an event, with a vendor
and none, with an event and no vendor.

`--model auto` (the default) takes the first registered model whose card lists the dataset's class
(`vendedor_ambulante`); with none registered it says so and exits 0 (no figure). A COCO model such as
yolox_nano.onnx runs too (its goods classes, e.g. umbrella, stand in), but COCO has no street vendor and the
figure then says little.

    .venv/bin/python scripts/drone_vendor_tiles.py --model auto --split val --tiles 40 --out var/drone-vendors
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import cv2
import numpy as np

from models.registry import default_models_dirs
from models.variants import KINDS
from zones.geo import LocalProjection
from zones.projection import CameraPose, Intrinsics, ground_points

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "drone-vendors" / "train"
VENDOR_CLASS = "vendedor_ambulante"
VARIANT_SUFFIXES = tuple(f"-{kind}" for kind in KINDS)  # `<stem>-fp16.onnx`, written by doorline-models variants
ORIGIN = (4.30, -74.80)  # arbitrary (the tiles carry no geo): somewhere in Cundinamarca, where they were taken
SPACING_M = 100.0
_DIAGONAL_35MM = math.hypot(36.0, 24.0)


def vendor_model(dirs: list[Path] | None = None) -> Path | None:
    """The first registered model (a card beside it or in models/cards) whose classes include the vendor class;
    a full-precision model before its fp16 and int8 variants."""
    from models.base import ModelError
    from models.model_card import card_for

    for folder in dirs or default_models_dirs():
        found = sorted(folder.glob("*.onnx"), key=lambda p: (p.stem.endswith(VARIANT_SUFFIXES), p.name)) \
            if folder.is_dir() else []
        for path in found:
            try:
                card = card_for(path)
            except ModelError:
                continue
            if card is not None and VENDOR_CLASS in card.class_names():
                return path
    return None


def goods_classes(model: str) -> list[str]:
    """The model's classes the drone counts as goods: its card's `goods` roles, else the vendor class if it has
    it, else COCO's goods group."""
    from models.classes import GOODS
    from models.model_card import card_for
    from models.registry import resolve_model_path

    card = card_for(resolve_model_path(model))
    if card is not None and card.roles:
        return sorted(c for c, role in card.roles.items() if role == "goods")
    if card is not None and VENDOR_CLASS in card.class_names():
        return [VENDOR_CLASS]
    return sorted(GOODS)


def tiles(split: str, count: int, data: Path = DATA) -> list[Path]:
    """One copy of each source tile of the split (augmented copies of a tile are the same ground), at most count."""
    from models.splits import select_split, tile_key

    seen, out = set(), []
    for path in select_split((data / "images").glob("*.jpg"), split):
        if tile_key(path) not in seen:
            seen.add(tile_key(path))
            out.append(path)
    return out[:count]


def vendor_boxes(image: Path) -> np.ndarray:
    """(n, 4) xyxy pixels of the tile's labelled vendors (YOLO txt)."""
    label = image.parent.parent / "labels" / f"{image.stem}.txt"
    rows = np.loadtxt(label, ndmin=2) if label.is_file() and label.stat().st_size else np.zeros((0, 5))
    h, w = cv2.imread(str(image)).shape[:2]
    return np.column_stack([(rows[:, 1] - rows[:, 3] / 2) * w, (rows[:, 2] - rows[:, 4] / 2) * h,
                            (rows[:, 1] + rows[:, 3] / 2) * w, (rows[:, 2] + rows[:, 4] / 2) * h])


class Flight:
    """Where each tile lies on the ground and how the nadir camera sees it."""

    def __init__(self, n_tiles: int, size: int = 640, gsd_m: float = 0.05, height_m: float = 40.0) -> None:
        self.proj = LocalProjection(*ORIGIN)
        self.size, self.gsd, self.height = size, gsd_m, height_m
        self.cam = Intrinsics(height_m / gsd_m, height_m / gsd_m, size / 2, size / 2, size, size)
        self.n = n_tiles

    def pose(self, k: int) -> CameraPose:
        lat, lon = self.proj.to_latlon([[k * SPACING_M, 0.0]])[0]
        return CameraPose(float(lat), float(lon), self.height, 0.0, -90.0)

    @property
    def focal35_mm(self) -> float:
        return self.cam.fx * _DIAGONAL_35MM / math.hypot(self.size, self.size)

    def plots(self, plot_m: float) -> dict[str, list[tuple[float, float]]]:
        """A grid of square plots over each tile's ground (lat, lon rings)."""
        half = self.size * self.gsd / 2
        steps = int(math.ceil(2 * half / plot_m))
        out = {}
        for k in range(self.n):
            x0, y0 = k * SPACING_M - half, -half
            for i in range(steps):
                for j in range(steps):
                    xa, ya = x0 + j * plot_m, y0 + i * plot_m
                    ring = [[xa, ya], [xa + plot_m, ya], [xa + plot_m, ya + plot_m], [xa, ya + plot_m], [xa, ya]]
                    out[f"t{k:03d}-r{i}c{j}"] = [tuple(p) for p in self.proj.to_latlon(ring)]
        return out

    def srt(self, path: Path, frames_per_tile: int, fps: float) -> None:
        def stamp(t: float) -> str:
            return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{int(t % 60):02d},{round((t % 1) * 1000):03d}"

        cues = []
        for i in range(self.n * frames_per_tile):
            p = self.pose(i // frames_per_tile)
            cues.append(f"{i + 1}\n{stamp(i / fps)} --> {stamp((i + 1) / fps)}\n<font size=\"28\">FrameCnt: {i + 1}, "
                        f"DiffTime: {round(1000 / fps)}ms\n[iso: 100] [focal_len: {self.focal35_mm:.4f}] "
                        f"[latitude: {p.lat:.8f}] [longitude: {p.lon:.8f}] [rel_alt: {p.height_m:.3f} abs_alt: "
                        f"{p.height_m + 2600:.3f}] [gb_yaw: 0.0 gb_pitch: -90.0 gb_roll: 0.0] </font>\n")
        path.write_text("\n".join(cues), encoding="utf-8")


def geojson(rings: dict[str, list[tuple[float, float]]]) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"shop_id": shop, "drawn": "drone_vendor_tiles grid"},
         "geometry": {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in ring]]}}
        for shop, ring in rings.items()]}


def run(model: str, images: list[Path], out: Path, *, plot_m: float = 6.0, gsd_m: float = 0.05,
        frames_per_tile: int = 3, fps: float = 4.0, min_confidence: float = 0.25,
        footprints: Path | None = None, classes: list[str] | None = None) -> dict:
    """Fly the tiles through the edge pipeline with `model`; per-plot truth and events."""
    from edge.drone import ShopFootprints
    from edge.pipeline import Pipeline
    from edge.settings import CameraSettings, EdgeSettings
    from testkit.sink import SinkStandIn
    from wire.schema import EventMessage

    out.mkdir(parents=True, exist_ok=True)
    flight = Flight(len(images), gsd_m=gsd_m)
    layer = footprints or out / "footprints.geojson"
    if footprints is None:
        layer.write_text(json.dumps(geojson(flight.plots(plot_m))), encoding="utf-8")
    shops = ShopFootprints.load(layer)
    video = out / "DJI_0001.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps, (flight.size, flight.size))
    truth: dict[str, int] = {}
    for k, image in enumerate(images):
        frame = cv2.resize(cv2.imread(str(image)), (flight.size, flight.size))
        for _ in range(frames_per_tile):
            writer.write(frame)
        boxes = vendor_boxes(image) * (flight.size / cv2.imread(str(image)).shape[1])
        centres = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])
        for shop in shops.match(ground_points(centres, flight.pose(k), flight.cam), 1e-6) if len(centres) else []:
            if shop is not None:
                truth[shop] = truth.get(shop, 0) + 1
    writer.release()
    flight.srt(out / "DJI_0001.SRT", frames_per_tile, fps)
    goods = classes or goods_classes(model)
    settings = EdgeSettings.load(
        model=model, conf=min_confidence, site_id="drone-vendors", analysis_fps=fps, mqtt_enabled=False,
        reference_dir=None, evidence_dir=out / "evidence", rules={"goods_classes": goods,
                                                                  "min_confidence": min_confidence},
        cameras=[CameraSettings(id="drone-vendors", kind="drone", source=str(video), telemetry=out / "DJI_0001.SRT",
                                footprints=layer)])
    sink = SinkStandIn()
    Pipeline(settings, publisher=sink).run()
    events: dict[str, int] = {}
    for e in sink.messages:
        if isinstance(e, EventMessage) and e.phase == "start":
            events[e.shop_id] = events.get(e.shop_id, 0) + 1
    plots = sorted(set(truth) | set(events))
    report = {
        "model": model, "goods_classes": goods, "tiles": [p.name for p in images], "plot_m": plot_m, "gsd_m": gsd_m,
        "labelled_vendors": int(sum(truth.values())), "plots_with_vendor": len(truth),
        "plots_with_event": len(events), "hit": len(set(truth) & set(events)),
        "missed": len(set(truth) - set(events)), "false": len(set(events) - set(truth)),
        "assignments": [{"shop_id": s, "vendors": truth.get(s, 0), "events": events.get(s, 0)} for s in plots],
    }
    (out / "assignments.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="auto", help="a model name or path, or auto: the registered vendor model")
    ap.add_argument("--split", default="val", choices=["all", "train", "val"])
    ap.add_argument("--tiles", type=int, default=40)
    ap.add_argument("--plot", type=float, default=6.0, help="plot (shop) size of the drawn grid, metres")
    ap.add_argument("--gsd", type=float, default=0.05, help="assumed ground sampling distance, metres a pixel")
    ap.add_argument("--min-confidence", type=float, default=0.25)
    ap.add_argument("--classes", default="", help="goods classes (comma list); default from the model card")
    ap.add_argument("--footprints", type=Path, default=None, help="a footprint layer to use instead of the grid")
    ap.add_argument("--out", type=Path, default=Path("var/drone-vendors"))
    args = ap.parse_args()
    model = args.model
    if model == "auto":
        found = vendor_model()
        if found is None:
            print(f"no registered model lists {VENDOR_CLASS!r} (doorline-models register ...): no figure")
            return
        model = str(found)
    images = tiles(args.split, args.tiles)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] or None
    r = run(model, images, args.out, plot_m=args.plot, gsd_m=args.gsd, min_confidence=args.min_confidence,
            footprints=args.footprints, classes=classes)
    print(f"| model | tiles | vendors | plots with a vendor | with an event | hit | missed | event, no vendor |\n"
          f"|---|---:|---:|---:|---:|---:|---:|---:|\n| {Path(r['model']).name} | {len(images)} | "
          f"{r['labelled_vendors']} | {r['plots_with_vendor']} | {r['plots_with_event']} | {r['hit']} | "
          f"{r['missed']} | {r['false']} |")
    print(f"per plot: {args.out / 'assignments.json'}")


if __name__ == "__main__":
    main()
