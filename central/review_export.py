"""`doorline-models export-reviews`: operator verdicts as a YOLO dataset that `doorline-models train` and
`eval` read.

- a confirmed episode: its start phase's clean frame, with the boxes the edge reported as YOLO labels, class
  = the violation (`cross_door_trading`, `piled_goods`); the detector model that saw it is in the card;
- a dismissed episode: the same frame with an empty label file (a negative), and the dismissal's reason;
- `card.json` / `card.md`: for every image, where it came from (site, camera, zone, shop, case, event,
  evidence sha256, model), the verdict, who gave it and when, and the time of the frame;
- `data.yaml`; with `--split-by-camera`, `train/` and `val/` hold whole cameras (a camera's look never
  crosses the split: the held-out figure is then about cameras the model has not seen).

The clean frame carries a caption band above the picture (edge.evidence.with_caption, one line); it is cut
off here, and the boxes (frame pixels) are scaled by the factor the edge shrank the picture by (see
`strip_caption`), so they land on the picture. A frame with no band that fits is skipped and listed in the
card, never guessed."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from central.db import make_engine, make_session_factory
from central.domain.verdicts import CONFIRMED, ReviewedEpisode, reviewed_episodes
from central.evidence_store import EvidenceStore, EvidenceStoreError, make_store
from central.settings import CentralSettings
from models.splits import in_validation
from wire.schema import VIOLATIONS

CLASS_NAMES: tuple[str, ...] = VIOLATIONS
BAND_GREY = 32  # the caption band's background (edge.evidence.caption_band)


class ExportError(ValueError):
    """Bad arguments or an unreadable database; one line saying why."""


def caption_band_height(width: int, lines: int = 1) -> int:
    """Height of edge.evidence.caption_band for a frame `width` pixels wide (kept in step by the export test,
    which makes its pictures with the edge's own code)."""
    scale = max(0.4, min(1.2, width / 1400))
    return (int(26 * scale) + 6) * lines + 8


def strip_caption(jpeg: bytes) -> tuple[np.ndarray, float] | None:
    """(the picture under the one-line caption band, the scale the edge encoded the frame at), or None when
    no band fits. The edge shrinks a frame wider than its `max_side` (or too heavy) after adding the band,
    so the band's height in the JPEG (its band-grey rows, judged on the right fifth, which the caption text
    does not reach) tells the frame's own width W: the JPEG's width if the band has its unscaled height,
    else the middle of the widths whose band, scaled by width / W, has that height (within about 2 %
    for a 1920 px frame sent at 1280: measured 1.1 % on a 1920 px square frame)."""
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        return None
    h, w = img.shape[:2]
    right = img[:, int(w * 0.8) :].astype(np.int16)
    grey = np.abs(right - BAND_GREY).mean(axis=(1, 2)) <= 10
    band = int(np.argmin(grey)) if not grey.all() else h
    if band < 4 or band >= h - 1:
        return None
    if caption_band_height(w) == band:
        return img[band:], 1.0
    widths = [fw for fw in range(w + 1, 8 * w + 1) if round(caption_band_height(fw) * w / fw) == band]
    if not widths:
        return None
    return img[band:], w / widths[len(widths) // 2]


def yolo_lines(boxes: list[list[float]], cls: int, width: int, height: int) -> list[str]:
    out = []
    for x1, y1, x2, y2 in boxes:
        x1, x2 = sorted((min(max(x1, 0.0), width), min(max(x2, 0.0), width)))
        y1, y2 = sorted((min(max(y1, 0.0), height), min(max(y2, 0.0), height)))
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        cx, cy, w, h = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height
        out.append(f"{cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return out


def _side(r: ReviewedEpisode, split_by_camera: bool, val_cameras: set[str] | None) -> str:
    if not split_by_camera:
        return ""
    key = f"{r.site_id}/{r.camera_id}"
    if val_cameras is not None:
        return "val" if r.camera_id in val_cameras or key in val_cameras else "train"
    return "val" if in_validation(key, 0.2) else "train"


def export_reviews(
    session_factory: Any,
    store: EvidenceStore,
    out: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    split_by_camera: bool = False,
    val_cameras: set[str] | None = None,
) -> dict[str, Any]:
    """Write the dataset; returns the card (also written as card.json and card.md)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with session_factory() as session:
        episodes = reviewed_episodes(session, since, until)
        items: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        for r in episodes:
            clean = next((e for e in r.evidence if e.kind == "clean" and e.stored), None)
            base = {"event_id": r.event_id, "case_id": r.case_id, "camera_id": r.camera_id}
            if clean is None:
                skipped.append({**base, "why": "no clean frame stored for the start phase"})
                continue
            try:
                picture = strip_caption(store.get(clean.sha256))
            except EvidenceStoreError as exc:
                skipped.append({**base, "why": f"evidence {clean.sha256[:12]}… unreadable: {exc}"})
                continue
            if picture is None:
                skipped.append({**base, "why": "clean frame without the expected caption band"})
                continue
            picture, scale = picture
            side = _side(r, split_by_camera, val_cameras)
            folder = out / side if side else out
            h, w = picture.shape[:2]
            labels = (
                yolo_lines([[v * scale for v in b] for b in r.boxes], CLASS_NAMES.index(r.violation), w, h)
                if r.verdict == CONFIRMED
                else []
            )
            if r.verdict == CONFIRMED and not labels:
                skipped.append({**base, "why": "confirmed, but no box inside the picture"})
                continue
            stem = r.event_id
            (folder / "images").mkdir(parents=True, exist_ok=True)
            (folder / "labels").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / "images" / f"{stem}.jpg"), picture, [cv2.IMWRITE_JPEG_QUALITY, 95])
            (folder / "labels" / f"{stem}.txt").write_text("".join(line + "\n" for line in labels))
            items.append({
                "image": str(Path(side, "images", f"{stem}.jpg")) if side else f"images/{stem}.jpg",
                "split": side or "all",
                "verdict": r.verdict,
                "reason": r.reason,
                "verdict_by": r.verdict_by,
                "verdict_at": r.verdict_at.isoformat(),
                "frame_at": r.first_ts.isoformat(),
                "site_id": r.site_id,
                "camera_id": r.camera_id,
                "zone_id": r.zone_id,
                "shop_id": r.shop_id,
                "case_id": r.case_id,
                "event_id": r.event_id,
                "violation": r.violation,
                "model": r.model,
                "evidence_sha256": clean.sha256,
                "boxes": len(labels),
                "size": [w, h],
                "frame_scale": round(scale, 4),
            })
    sides = sorted({i["split"] for i in items}) or ["all"]
    data = {"path": str(out.resolve()), "nc": len(CLASS_NAMES), "names": list(CLASS_NAMES)}
    if split_by_camera:
        data |= {"train": "train/images", "val": "val/images"}
    else:
        data |= {"train": "images", "val": "images"}
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    card = {
        "what": "Doorline operator verdicts exported as a YOLO dataset",
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "classes": list(CLASS_NAMES),
        "class_rule": "a confirmed episode's boxes take its violation as class; a dismissed one is a negative",
        "split": "by camera (whole cameras in val)" if split_by_camera else "none",
        "counts": {
            "images": len(items),
            "positives": sum(1 for i in items if i["verdict"] == CONFIRMED),
            "negatives": sum(1 for i in items if i["verdict"] != CONFIRMED),
            "boxes": sum(i["boxes"] for i in items),
            "by_split": dict(Counter(i["split"] for i in items)),
            "by_model": dict(Counter(i["model"] for i in items)),
            "skipped": len(skipped),
        },
        "sides": sides,
        "images": items,
        "skipped": skipped,
    }
    (out / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False))
    (out / "card.md").write_text(_card_markdown(card))
    return card


def _card_markdown(card: dict[str, Any]) -> str:
    c = card["counts"]
    lines = [
        "# Dataset card: operator verdicts",
        "",
        f"Exported {card['exported_at']} (verdicts since {card['since'] or 'the start'}"
        f"{', until ' + card['until'] if card['until'] else ''}). Classes: {', '.join(card['classes'])}.",
        f"{card['class_rule']}. Split: {card['split']}.",
        "",
        f"{c['images']} images: {c['positives']} confirmed ({c['boxes']} boxes), {c['negatives']} dismissed "
        f"(negatives); {c['skipped']} skipped.",
        "",
        "| image | verdict | reason | by | verdict at | frame at | site / camera / zone | shop | case | model |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i in card["images"]:
        lines.append(
            f"| {i['image']} | {i['verdict']} | {i['reason'] or ''} | {i['verdict_by'] or ''} | {i['verdict_at']} | "
            f"{i['frame_at']} | {i['site_id']} / {i['camera_id']} / {i['zone_id'] or '-'} | {i['shop_id']} | "
            f"{i['case_id']} | {i['model']} |"
        )
    if card["skipped"]:
        lines += ["", "## Skipped", ""] + [f"- {s['event_id']} ({s['camera_id']}): {s['why']}" for s in card["skipped"]]
    return "\n".join(lines) + "\n"


def _day_or_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a date (2026-12-01) or an ISO time") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", required=True, type=_day_or_time, help="verdicts from this date / time (UTC)")
    p.add_argument("--until", type=_day_or_time, default=None, help="verdicts before this date / time (UTC)")
    p.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    p.add_argument("--database-url", default=None, help="central's database (default $DOORLINE_DATABASE_URL)")
    p.add_argument("--evidence-dir", type=Path, default=None, help="evidence store folder (default: settings)")
    p.add_argument("--split-by-camera", action="store_true", help="train/ and val/ hold whole cameras")
    p.add_argument("--val-camera", action="append", default=None,
                   help="a camera (or site/camera) for val/ (repeatable); default: 1 in 5 cameras by hash")


def run(args: argparse.Namespace) -> int:
    url = args.database_url or os.environ.get("DOORLINE_DATABASE_URL")
    if not url:
        print("error: no database: pass --database-url or set DOORLINE_DATABASE_URL", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {"database_url": url}
    if args.evidence_dir is not None:
        overrides["evidence_dir"] = args.evidence_dir
    try:
        settings = CentralSettings(**overrides)
    except ValueError as exc:
        print(f"error: bad settings: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        card = export_reviews(
            make_session_factory(engine), make_store(settings), args.out, since=args.since, until=args.until,
            split_by_camera=args.split_by_camera or bool(args.val_camera),
            val_cameras=set(args.val_camera) if args.val_camera else None,
        )
    except Exception as exc:  # noqa: BLE001  (a database error is one line for the operator, not a traceback)
        print(f"error: export failed: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    c = card["counts"]
    print(f"{args.out}: {c['images']} images ({c['positives']} confirmed, {c['negatives']} dismissed, "
          f"{c['boxes']} boxes), {c['skipped']} skipped; card.md, data.yaml")
    return 0


