"""How many labelled tricycles on a Chinese shop pavement land on the right shop (VisDrone, docs/DRONES.md).

The frame has no flight record: the camera pose is fitted from the street (`scripts/visdrone_street.py`, ground
control in `scripts/data/visdrone_street_plan.yaml`, our drawing), and the shops are plots we drew along the
pavement. Ground truth: the plot that holds the labelled box's ground contact point (bottom centre) through the
fitted pose. Projecting the same labels through the same pose would agree by construction, so the rows measure
what differs from that:

- `labels, flight-record errors`: the labelled boxes through the fitted pose perturbed by a DJI-grade record's
  errors (GPS 1.5 m, height 1 m, gimbal 1 deg, 1 sigma; `zones.projection.PoseError`), `--draws` draws: what a
  flight with a real record would give;
- `labels, pose refitted (2 px)`: the pose refitted with the ground control's pixels jittered by 2 px: how firmly
  the street pins the pose down;
- `detector via the pipeline`: the frame as a short drone video with an SRT flight record of the fitted pose,
  run through the edge pipeline (`edge.pipeline.Pipeline`, drone camera, footprints) with a real detector; each
  labelled tricycle is matched to the detection whose centre lies in its box (best IoU), and that detection's
  shop is the one of the event whose boxes hold it. COCO has no tricycle: the detector's `--classes` (default
  `car`) stand in, at `--min-confidence`. Detected-and-right / detected / labelled are reported.

Each row is given for shop fronts `--widths` wide (the drawn plan: 6 m). Prints a table, writes JSON.

    .venv/bin/python scripts/visdrone_shops.py [--model yolov8n_int8.onnx] [--out var/visdrone_shops.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from visdrone_street import DATA, Fit, Plan, fit_pose, footprints, kerb_x, labelled_tricycles, save_geojson, shop_plots

from zones.projection import PoseError, contact_pixel, ground_points


def on_pavement(plan: Plan, fit: Fit, plots: dict) -> tuple[np.ndarray, list[str]]:
    """The labelled tricycles whose ground point lies on a drawn plot (the pavement), and that plot (truth)."""
    boxes = labelled_tricycles(plan.frame)
    shops = footprints(plots, plan.projection)
    truth = shops.match(ground_points(contact_pixel(boxes, fit.pose), fit.pose, fit.cam), tolerance_m=1e-6)
    keep = np.array([t is not None for t in truth], bool)
    return boxes[keep], [t for t in truth if t is not None]


def share_right(pred: list[str | None], truth: list[str]) -> float:
    return float(np.mean([p == t for p, t in zip(pred, truth, strict=True)])) if truth else float("nan")


def with_record_errors(plan: Plan, fit: Fit, plots: dict, boxes: np.ndarray, truth: list[str], draws: int,
                       rng: np.random.Generator, error: PoseError = PoseError()) -> list[float]:
    """Share on the right shop per draw of a flight record's errors (the product's 2 m matching tolerance)."""
    shops, proj = footprints(plots, plan.projection), plan.projection
    under = proj.to_xy([[fit.pose.lat, fit.pose.lon]])[0]
    shares = []
    for _ in range(draws):
        lat, lon = proj.to_latlon([under + rng.normal(0, error.position_m, 2)])[0]
        pose = replace(fit.pose, lat=float(lat), lon=float(lon),
                       height_m=fit.pose.height_m + rng.normal(0, error.height_m),
                       yaw_deg=fit.pose.yaw_deg + rng.normal(0, error.angle_deg),
                       pitch_deg=fit.pose.pitch_deg + rng.normal(0, error.angle_deg),
                       roll_deg=fit.pose.roll_deg + rng.normal(0, error.angle_deg))
        pred = shops.match(ground_points(contact_pixel(boxes, pose), pose, fit.cam))
        shares.append(share_right(pred, truth))
    return shares


def with_refitted_pose(plan: Plan, plots: dict, boxes: np.ndarray, truth: list[str], draws: int,
                       noise_px: float, rng: np.random.Generator) -> list[float]:
    shops = footprints(plots, plan.projection)
    shares = []
    for _ in range(draws):
        fit = fit_pose(plan, pixel_noise=noise_px, rng=rng)
        shares.append(share_right(shops.match(ground_points(contact_pixel(boxes, fit.pose), fit.pose, fit.cam)),
                                  truth))
    return shares


def _srt(path: Path, fit: Fit, frames: int, fps: float) -> None:
    p, stamp = fit.pose, (lambda t: f"00:00:{int(t):02d},{round((t % 1) * 1000):03d}")
    cues = [f"{k + 1}\n{stamp(k / fps)} --> {stamp((k + 1) / fps)}\n<font size=\"28\">FrameCnt: {k + 1}, "
            f"DiffTime: {round(1000 / fps)}ms\n[iso: 100] [focal_len: {fit.focal35_mm:.4f}] [latitude: {p.lat:.8f}] "
            f"[longitude: {p.lon:.8f}] [rel_alt: {p.height_m:.3f} abs_alt: {p.height_m + 20:.3f}] "
            f"[gb_yaw: {p.yaw_deg:.3f} gb_pitch: {p.pitch_deg:.3f} gb_roll: {p.roll_deg:.3f}] </font>\n"
            for k in range(frames)]
    path.write_text("\n".join(cues), encoding="utf-8")


def detector_flight(plan: Plan, fit: Fit, plots: dict, model: str, classes: list[str], min_confidence: float,
                    workdir: Path, frames: int = 6, fps: float = 4.0) -> dict:
    """The frame flown through the edge pipeline as a drone video with its SRT record; per labelled tricycle on
    the pavement: matched detection, the shop its event went to, and the truth."""
    from edge.pipeline import Pipeline  # the pipeline and its models only where they are used
    from edge.settings import CameraSettings, EdgeSettings
    from models.registry import load_detector
    from testkit.sink import SinkStandIn
    from wire.schema import EventMessage

    image = cv2.imread(str(DATA / "images" / f"{plan.frame}.jpg"))
    video = workdir / "DJI_0001.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps, plan.size)
    for _ in range(frames):
        writer.write(image)
    writer.release()
    _srt(workdir / "DJI_0001.SRT", fit, frames, fps)
    geojson = save_geojson(workdir / "shops.geojson", plots, plan.projection)
    settings = EdgeSettings.load(
        model=model, conf=min_confidence, site_id="visdrone", analysis_fps=fps, mqtt_enabled=False, reference_dir=None,
        evidence_dir=workdir / "evidence", rules={"goods_classes": classes, "min_confidence": min_confidence},
        cameras=[CameraSettings(id="drone-vd", kind="drone", source=str(video), telemetry=workdir / "DJI_0001.SRT",
                                footprints=geojson)])
    sink = SinkStandIn()
    Pipeline(settings, publisher=sink).run()
    box_shop: list[tuple[np.ndarray, str]] = []
    for e in sink.messages:
        if isinstance(e, EventMessage) and e.phase == "start":
            box_shop += [(np.array(b), e.shop_id) for b in e.boxes]
    cap = cv2.VideoCapture(str(video))  # what the pipeline saw (the video's JPEGs), for the detections
    seen = cap.read()[1]
    cap.release()
    dets = load_detector(model, conf=min_confidence).detect([seen])[0]
    names = dets.data["class_name"]
    dets = dets[np.isin(names, classes) & (dets.confidence >= min_confidence)]
    boxes, truth = on_pavement(plan, fit, plots)
    rows = []
    for box, want in zip(boxes, truth, strict=True):
        d = _best(dets.xyxy, box)
        shop = None
        if d is not None:
            shop = next((s for b, s in box_shop if np.abs(b - dets.xyxy[d]).max() < 1.0), None)
        rows.append({"box": box.round(1).tolist(), "truth": want, "detected": d is not None, "shop": shop})
    return {"rows": rows, "events": len({s for _, s in box_shop}), "detections": len(dets)}


def _best(dets: np.ndarray, box: np.ndarray) -> int | None:
    """The detection whose centre lies in `box`, of the largest IoU; None if none."""
    if not len(dets):
        return None
    c = (dets[:, :2] + dets[:, 2:]) / 2
    inside = (c[:, 0] >= box[0]) & (c[:, 0] <= box[2]) & (c[:, 1] >= box[1]) & (c[:, 1] <= box[3])
    if not inside.any():
        return None
    lo, hi = np.maximum(dets[:, :2], box[:2]), np.minimum(dets[:, 2:], box[2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    iou = inter / (np.prod(dets[:, 2:] - dets[:, :2], axis=1) + np.prod(box[2:] - box[:2]) - inter)
    return int(np.flatnonzero(inside)[np.argmax(iou[inside])])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plan", type=Path, default=None)
    ap.add_argument("--model", default="yolov8n_int8.onnx")
    ap.add_argument("--classes", default="car", help="detector classes standing in for tricycles (comma list)")
    ap.add_argument("--min-confidence", type=float, default=0.1)
    ap.add_argument("--widths", default="4,6,8", help="shop front widths (m)")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--refits", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("var/visdrone_shops.json"))
    args = ap.parse_args()
    plan = Plan.load(args.plan) if args.plan else Plan.load()
    fit = fit_pose(plan)
    kerb = kerb_x(plan, fit)
    p = fit.pose
    print(f"fitted pose: height {p.height_m:.1f} m, pitch {p.pitch_deg:.1f} deg, yaw {p.yaw_deg:.1f} deg, roll "
          f"{p.roll_deg:.1f} deg, focal {fit.cam.fx:.0f} px ({fit.focal35_mm:.1f} mm equiv.); control points rms "
          f"{fit.points_rms_px:.1f} px (max {fit.points_max_px:.1f}), lane line rms {fit.lines_rms_px:.1f} px; "
          f"kerb at x = {kerb:.1f} m")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    rng = np.random.default_rng(args.seed)
    report = {"frame": plan.frame, "pose": {"height_m": p.height_m, "pitch_deg": p.pitch_deg, "yaw_deg": p.yaw_deg,
              "roll_deg": p.roll_deg, "focal_px": fit.cam.fx, "focal35_mm": fit.focal35_mm},
              "fit": {"points_rms_px": fit.points_rms_px, "points_max_px": fit.points_max_px,
                      "lines_rms_px": fit.lines_rms_px, "kerb_x_m": kerb},
              "model": args.model, "classes": classes, "min_confidence": args.min_confidence, "widths": {}}
    head = (f"| shop front | labelled on the pavement | labels, record errors: right (mean, p5-p95) | "
            f"labels, pose refitted (2 px) | {args.model} via the pipeline: right / detected / labelled |")
    lines = [head, "|---:|---:|---:|---:|---:|"]
    for width in [float(w) for w in args.widths.split(",")]:
        plots = shop_plots(plan, kerb, width)
        boxes, truth = on_pavement(plan, fit, plots)
        rec = with_record_errors(plan, fit, plots, boxes, truth, args.draws, rng)
        refit = with_refitted_pose(plan, plots, boxes, truth, args.refits, 2.0, rng)
        with tempfile.TemporaryDirectory() as tmp:
            flight = detector_flight(plan, fit, plots, args.model, classes, args.min_confidence, Path(tmp))
        rows = flight["rows"]
        right = sum(r["shop"] == r["truth"] for r in rows)
        found = sum(r["detected"] for r in rows)
        report["widths"][str(width)] = {
            "labelled_on_pavement": len(boxes), "truth": truth,
            "record_errors": {"mean": float(np.mean(rec)), "p5": float(np.percentile(rec, 5)),
                              "p95": float(np.percentile(rec, 95)), "draws": args.draws},
            "refit_2px": {"mean": float(np.mean(refit)), "min": float(np.min(refit)), "draws": args.refits},
            "detector": {"right": right, "detected": found, "labelled": len(rows), "rows": rows,
                         "events": flight["events"], "detections": flight["detections"]}}
        lines.append(f"| {width:.0f} m | {len(boxes)} | {np.mean(rec):.0%} ({np.percentile(rec, 5):.0%}–"
                     f"{np.percentile(rec, 95):.0%}) | {np.mean(refit):.0%} (worst {np.min(refit):.0%}) | "
                     f"{right} / {found} / {len(rows)} |")
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
