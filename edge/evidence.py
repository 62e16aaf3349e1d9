"""Evidence pictures for an event phase: the annotated frame, a clean copy and crops of the boxes.

In this order, each with its `kind` (wire.schema.EvidenceKind; the phase, start or end, is that of the event
that references it, and is in its id `{event_id}.{seq}-{phase}.{i}`):
- `annotated`: the full frame with the zone and the boxes drawn, and a caption (time UTC, camera, zone,
  shop, violation, phase) in a band added above the picture, so that the caption hides nothing;
- `clean`: the full frame untouched, with the time and camera in a band above it;
- `crop`: each box (largest first) with context around it, at least `crop_min_side` pixels a side where the
  frame allows, so a small object is shown with its surroundings; a caption band (camera, time) is added
  below the crop only when the crop is wide enough to hold it legibly, never over the goods.

Every picture is a JPEG under `max_bytes`: it is scaled to
`max_side`, then re-encoded at lower quality and, if still too big, a smaller size, until it fits.
Each picture becomes a `wire.schema.EvidenceMessage` and, with an evidence directory, a file. A file that
cannot be written (full disk, a file where a folder should be) is logged and counted in `write_errors`; the
picture still goes out as a message, which is what central stores.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.failures import log_some
from wire.schema import MAX_EVIDENCE_BYTES, EvidenceMessage

log = logging.getLogger("doorline.edge.evidence")

ZONE_COLOUR = (0, 200, 255)  # amber, BGR
BOX_COLOUR = (0, 0, 255)  # red
TEXT_COLOUR = (255, 255, 255)
_MIN_QUALITY = 35


@dataclass(frozen=True)
class EvidenceOptions:
    quality: int = 85
    max_side: int = 1280
    max_bytes: int = 300_000
    crops: int = 4  # at most this many crops per phase (largest boxes first)
    crop_pad: float = 0.15  # context around a crop, as a fraction of the box size
    crop_min_side: int = 128  # a crop is at least this wide and high (where the frame is), centred on its box
    clean_copy: bool = True

    def __post_init__(self) -> None:
        if not 10 <= self.quality <= 100:
            raise ValueError("JPEG quality must be within 10..100")
        if not 64 <= self.max_side <= 8192:
            raise ValueError("max_side must be within 64..8192")
        if not 10_000 <= self.max_bytes <= MAX_EVIDENCE_BYTES:
            raise ValueError(f"max_bytes must be within 10000..{MAX_EVIDENCE_BYTES}")


@dataclass
class EvidenceBundle:
    messages: list[EvidenceMessage] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)

    @property
    def annotated_path(self) -> Path | None:
        return self.paths[0] if self.paths else None


def encode_bounded(
    image: np.ndarray, *, quality: int, max_side: int, max_bytes: int
) -> tuple[bytes, int, int]:
    """JPEG bytes no larger than `max_bytes`, plus the encoded width and height."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    q = quality
    while True:
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            img = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        else:
            img = image
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise ValueError("JPEG encoding failed")
        data = buf.tobytes()
        if len(data) <= max_bytes:
            return data, img.shape[1], img.shape[0]
        if q > _MIN_QUALITY:
            q = max(_MIN_QUALITY, q - 15)
        elif min(img.shape[:2]) > 16:
            scale *= 0.7
        else:
            raise ValueError(f"cannot fit the picture under {max_bytes} bytes")


def caption_band(width: int, lines: list[str], *, min_scale: float = 0.4) -> np.ndarray:
    """A dark band `width` pixels wide holding `lines` (time, camera, zone…), to stack onto a picture."""
    scale = max(min_scale, min(1.2, width / 1400))
    line_h = int(26 * scale) + 6
    band = np.full((line_h * len(lines) + 8, width, 3), 32, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(
            band,
            text,
            (6, line_h * (i + 1)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            TEXT_COLOUR,
            max(1, round(scale * 2)),
            cv2.LINE_AA,
        )
    return band


def with_caption(image: np.ndarray, lines: list[str], *, below: bool = False) -> np.ndarray:
    """`image` with a caption band added above (or below) it; the picture's own pixels are not touched."""
    band = caption_band(image.shape[1], lines)
    return np.vstack([image, band] if below else [band, image])


def draw_zone(image: np.ndarray, polygon: np.ndarray | None, boxes: np.ndarray, label: str = "") -> np.ndarray:
    """A copy with the zone polygon outlined (and lightly filled) and the offending boxes in red. A drone's
    sighting has a shop but no zone in the picture: `polygon` None draws the boxes alone."""
    out = image.copy()
    thick = max(2, round(max(out.shape[:2]) / 500))
    if polygon is not None and len(polygon):
        pts = np.round(polygon).astype(np.int32).reshape(-1, 1, 2)
        overlay = out.copy()
        cv2.fillPoly(overlay, [pts], ZONE_COLOUR)
        cv2.addWeighted(overlay, 0.2, out, 0.8, 0, dst=out)
        cv2.polylines(out, [pts], True, ZONE_COLOUR, thick, cv2.LINE_AA)
        if label:
            x, y = pts[:, 0, 0].min(), pts[:, 0, 1].min()
            cv2.putText(out, label, (int(x), max(12, int(y) - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, ZONE_COLOUR, 1,
                        cv2.LINE_AA)
    for x1, y1, x2, y2 in np.round(np.asarray(boxes, np.float32).reshape(-1, 4)).astype(np.int32):
        cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), BOX_COLOUR, thick)
    return out
    pts = np.round(polygon).astype(np.int32).reshape(-1, 1, 2)
    overlay = out.copy()
    cv2.fillPoly(overlay, [pts], ZONE_COLOUR)
    cv2.addWeighted(overlay, 0.2, out, 0.8, 0, dst=out)
    thick = max(2, round(max(out.shape[:2]) / 500))
    cv2.polylines(out, [pts], True, ZONE_COLOUR, thick, cv2.LINE_AA)
    if label:
        x, y = pts[:, 0, 0].min(), pts[:, 0, 1].min()
        cv2.putText(
            out,
            label,
            (int(x), max(12, int(y) - 6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            ZONE_COLOUR,
            1,
            cv2.LINE_AA,
        )
    for x1, y1, x2, y2 in np.round(boxes).astype(np.int32):
        cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), BOX_COLOUR, thick)
    return out


def _span(lo: float, hi: float, pad: float, min_side: int, limit: int) -> tuple[int, int]:
    """[a, b) around [lo, hi] with `pad` each side, widened to `min_side` about its centre and shifted to stay
    within [0, limit)."""
    a, b = np.floor(lo - pad), np.ceil(hi + pad)
    if b - a < min_side:
        centre = (lo + hi) / 2
        a, b = np.floor(centre - min_side / 2), np.floor(centre - min_side / 2) + min_side
    if a < 0:
        a, b = 0, b - a
    if b > limit:
        a, b = a - (b - limit), limit
    return int(max(0, a)), int(min(limit, b))


def crop_regions(
    shape: tuple[int, ...], boxes: np.ndarray, *, limit: int, pad: float, min_side: int = 0
) -> list[tuple[int, int, int, int]]:
    """(x1, y1, x2, y2) of the crops of the `limit` largest boxes, in a frame of `shape` (h, w, ...)."""
    if len(boxes) == 0 or limit == 0:
        return []
    h, w = shape[:2]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    regions = []
    for i in np.argsort(-areas)[:limit]:
        x1, y1, x2, y2 = (float(v) for v in boxes[i])
        xa, xb = _span(x1, x2, (x2 - x1) * pad, min_side, w)
        ya, yb = _span(y1, y2, (y2 - y1) * pad, min_side, h)
        if xb - xa >= 4 and yb - ya >= 4:
            regions.append((xa, ya, xb, yb))
    return regions


def crop_boxes(
    image: np.ndarray, boxes: np.ndarray, *, limit: int, pad: float, min_side: int = 0
) -> list[np.ndarray]:
    return [image[ya:yb, xa:xb] for xa, ya, xb, yb in crop_regions(image.shape, boxes, limit=limit, pad=pad,
                                                                     min_side=min_side)]


CROP_CAPTION_MIN_WIDTH = 160  # narrower crops carry no caption (it would be unreadable); the full frames have it


class EvidenceWriter:
    """Makes the evidence of one event phase (or of a recheck). `out_dir=None` writes no files."""

    def __init__(
        self, *, site_id: str, options: EvidenceOptions | None = None, out_dir: Path | None = None
    ) -> None:
        self.site_id = site_id
        self.options = options or EvidenceOptions()
        self.out_dir = out_dir
        self.write_errors = 0
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)

    def make(
        self,
        frame: np.ndarray,
        *,
        camera_id: str,
        event_id: str,
        unix_ts: float,
        polygon: np.ndarray | None,
        boxes: np.ndarray,
        title: str,
        name: str,
        video_ts: float | None = None,
    ) -> EvidenceBundle:
        """`title` (e.g. "dz-1 piled_goods start") goes in the caption; `name` is a short tag of the phase
        (e.g. "0-start"), used in evidence ids (`{event_id}.{name}.{i}`) and file names."""
        o = self.options
        when = dt.datetime.fromtimestamp(unix_ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if video_ts is not None:
            when += f"  (video {video_ts:.1f} s)"
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        pictures = self.pictures(frame, polygon=polygon, boxes=boxes, caption=[f"{when}  camera {camera_id}", title],
                                 crop_caption=[camera_id[:19], when[:19]])
        bundle = EvidenceBundle()
        day = dt.datetime.fromtimestamp(unix_ts, dt.UTC).strftime("%Y%m%d")
        for i, (kind, picture) in enumerate(pictures):
            jpeg, w, h = encode_bounded(
                picture, quality=o.quality, max_side=o.max_side, max_bytes=o.max_bytes
            )
            msg = EvidenceMessage.from_jpeg(
                jpeg,
                width=w,
                height=h,
                site_id=self.site_id,
                camera_id=camera_id,
                evidence_id=f"{event_id}.{name}.{i}",
                event_id=event_id,
                kind=kind,
            )
            bundle.messages.append(msg)
            if self.out_dir is not None:
                folder = self.out_dir / _safe(camera_id) / day
                path = folder / f"{_safe(event_id)}_{_safe(name)}_{i:02d}_{kind}.jpg"
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(jpeg)
                except OSError as exc:
                    self.write_errors += 1
                    log_some(log, self.write_errors, "evidence file %s not written (%d so far; the message is "
                             "still sent): %s", path, self.write_errors, exc)
                else:
                    bundle.paths.append(path)
        return bundle

    def pictures(
        self, frame: np.ndarray, *, polygon: np.ndarray | None, boxes: np.ndarray, caption: list[str],
        crop_caption: list[str],
    ) -> list[tuple[str, np.ndarray]]:
        """(kind, picture) before encoding: annotated, clean (if wanted), crops (see the module docstring)."""
        o = self.options
        annotated = with_caption(draw_zone(frame, polygon, boxes), caption)
        pictures: list[tuple[str, np.ndarray]] = [("annotated", annotated)]
        if o.clean_copy:
            pictures.append(("clean", with_caption(frame, caption[:1])))
        for crop in crop_boxes(frame, boxes, limit=o.crops, pad=o.crop_pad, min_side=o.crop_min_side):
            if crop.shape[1] >= CROP_CAPTION_MIN_WIDTH:
                crop = with_caption(crop, crop_caption, below=True)
            pictures.append(("crop", crop))
        return pictures


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
