"""Decoders per model family (raw network output → candidate boxes) and class-aware NMS → `Detections`."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.detections import Detections
from models.preprocess import Letterbox

YOLOX_STRIDES = (8, 16, 32)
MAX_DETECTIONS = 300
# Boxes considered by NMS, highest scores first: bounds NMS time when a low threshold lets many through.
MAX_CANDIDATES = 3000


@dataclass(frozen=True)
class Candidates:
    """Boxes before NMS, in network-input pixels."""

    xyxy: np.ndarray  # (n, 4) float32
    score: np.ndarray  # (n,) float32
    class_id: np.ndarray  # (n,) int32


def yolox_grid(width: int, height: int, strides: tuple[int, ...] = YOLOX_STRIDES) -> np.ndarray:
    """(n, 3) float32 rows of (grid_x, grid_y, stride) in the order YOLOX concatenates its heads."""
    parts = []
    for s in strides:
        gy, gx = np.mgrid[0 : height // s, 0 : width // s]
        parts.append(np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, s)], axis=1))
    return np.concatenate(parts).astype(np.float32)


def _top(mask_idx: np.ndarray, score: np.ndarray) -> np.ndarray:
    if len(mask_idx) > MAX_CANDIDATES:
        order = np.argpartition(-score[mask_idx], MAX_CANDIDATES)[:MAX_CANDIDATES]
        return mask_idx[order]
    return mask_idx


def decode_yolox(raw: np.ndarray, grid: np.ndarray, conf: float) -> Candidates:
    """YOLOX raw head (n, 5 + nc): (x, y, log w, log h, objectness, class scores), sigmoid already applied
    to objectness and class scores by the exported graph; score = objectness * best class score."""
    obj = raw[:, 4]
    # score <= objectness, so anchors below the threshold on objectness alone can be dropped first.
    idx = np.flatnonzero(obj >= conf)
    rows = raw[idx]
    cls_scores = rows[:, 5:] * rows[:, 4:5]
    class_id = cls_scores.argmax(axis=1)
    score = cls_scores[np.arange(len(rows)), class_id]
    keep = np.flatnonzero(score >= conf)
    keep = _top(keep, score)
    rows, g = rows[keep], grid[idx[keep]]
    stride = g[:, 2:3]
    xy = (rows[:, 0:2] + g[:, 0:2]) * stride
    half_wh = np.exp(rows[:, 2:4]) * stride * 0.5
    xyxy = np.concatenate([xy - half_wh, xy + half_wh], axis=1).astype(np.float32)
    return Candidates(xyxy, score[keep].astype(np.float32), class_id[keep].astype(np.int32))


def decode_ultralytics(raw: np.ndarray, conf: float, box_scale: float = 1.0) -> Candidates:
    """Ultralytics YOLOv8/YOLO11 head (4 + nc, n): cx, cy, w, h then class scores (no objectness).
    `box_scale` converts normalised boxes (TFLite exports) to input pixels."""
    cls_scores = raw[4:]
    best = cls_scores.max(axis=0)
    keep = _top(np.flatnonzero(best >= conf), best)
    sel = raw[:, keep]
    class_id = cls_scores[:, keep].argmax(axis=0)
    cx, cy, w, h = sel[0] * box_scale, sel[1] * box_scale, sel[2] * box_scale, sel[3] * box_scale
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return Candidates(xyxy, best[keep].astype(np.float32), class_id.astype(np.int32))


def nms(xyxy: np.ndarray, score: np.ndarray, class_id: np.ndarray, iou: float) -> np.ndarray:
    """Class-aware non-maximum suppression; indices kept, highest score first."""
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = xyxy.copy()
    xywh[:, 2:] -= xywh[:, :2]
    keep = cv2.dnn.NMSBoxesBatched(xywh, score, class_id, 0.0, iou)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def to_detections(
    cand: Candidates,
    box: Letterbox,
    class_names: np.ndarray,
    *,
    iou: float,
    max_det: int = MAX_DETECTIONS,
    roles: np.ndarray | None = None,
) -> Detections:
    """NMS, map boxes back to the original frame, attach `data["class_name"]` (and `data["role"]`, the card's
    role of each detection's class, when the model card gives roles)."""
    keep = nms(cand.xyxy, cand.score, cand.class_id, iou)[:max_det]
    if len(keep) == 0:
        det = Detections.empty()
        data = {"class_name": class_names[:0]} | ({"role": roles[:0]} if roles is not None else {})
        return Detections(det.xyxy, det.confidence, det.class_id, data=data)
    xyxy = box.to_original(cand.xyxy[keep])
    valid = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    keep, xyxy = keep[valid], xyxy[valid]
    class_id = cand.class_id[keep]
    return Detections(
        xyxy=xyxy,
        confidence=cand.score[keep],
        class_id=class_id,
        data={"class_name": class_names[class_id]} | ({"role": roles[class_id]} if roles is not None else {}),
    )
