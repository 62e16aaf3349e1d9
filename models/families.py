"""Model families: how each is fed and decoded, and how a family is recognised from a loaded model."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from models.base import ModelError
from models.classes import COCO80
from models.detections import Detections
from models.model_card import ModelCard
from models.postprocess import (
    YOLOX_STRIDES,
    Candidates,
    decode_ultralytics,
    decode_yolox,
    to_detections,
    yolox_grid,
)
from models.preprocess import Letterbox

FamilyName = Literal["yolox", "ultralytics"]


@dataclass(frozen=True)
class FamilySpec:
    """Everything the shared pre/post-processing needs to run one model."""

    family: FamilyName
    width: int  # network input, pixels
    height: int
    class_names: np.ndarray  # (nc,) str
    rgb: bool
    normalise: bool
    center: bool
    pad_value: int = 114
    box_scale: float = 1.0  # normalised output boxes (TFLite exports) → input pixels
    grid: np.ndarray | None = field(default=None, repr=False)
    roles: np.ndarray | None = field(default=None, repr=False)  # (nc,) str per class from the card, "" if none

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def role_map(self) -> dict[str, str]:
        """Class name → role, for the classes the card gives one."""
        if self.roles is None:
            return {}
        return {str(n): str(r) for n, r in zip(self.class_names, self.roles, strict=True) if r}

    def decode(self, raw: np.ndarray, conf: float) -> Candidates:
        """`raw`: one frame's output without the batch dimension."""
        if self.family == "yolox":
            assert self.grid is not None  # set by make_spec
            return decode_yolox(raw, self.grid, conf)
        return decode_ultralytics(raw, conf, self.box_scale)

    def finish(self, cand: Candidates, box: Letterbox, iou: float, max_det: int) -> Detections:
        return to_detections(cand, box, self.class_names, iou=iou, max_det=max_det, roles=self.roles)


def anchor_count(width: int, height: int, strides: tuple[int, ...] = YOLOX_STRIDES) -> int:
    return sum((height // s) * (width // s) for s in strides)


def names_from_metadata(meta: dict[str, str]) -> list[str] | None:
    """Ultralytics exports store names as a Python dict literal: "{0: 'person', ...}"."""
    raw = meta.get("names")
    if raw is None:
        return None
    try:
        names = ast.literal_eval(raw) if isinstance(raw, str) else raw
    except (ValueError, SyntaxError):
        return None
    if isinstance(names, dict):
        try:
            return [str(names[i]) for i in range(len(names))]
        except KeyError:
            return None
    if isinstance(names, list):
        return [str(n) for n in names]
    return None


def identify(
    source: str,
    input_wh: tuple[int, int],
    out_shape: tuple[int, ...],
    meta: dict[str, str],
    card: ModelCard | None,
) -> tuple[FamilyName, int]:
    """(family, number of classes) from the output shape of one frame (batch dimension removed),
    checked against the metadata and the model card. Raises ModelError if no decoder fits."""
    w, h = input_wh
    anchors = anchor_count(w, h)
    if len(out_shape) != 2:
        raise ModelError(f"{source}: output shape {out_shape} (per frame) is not a known detector head")
    a, b = out_shape
    ultra_meta = meta.get("author", "").lower().startswith("ultralytics") or meta.get("task") == "detect"
    hint = card.family if card else ("ultralytics" if ultra_meta else None)
    if b == anchors and a > 4 and hint in (None, "ultralytics"):
        return "ultralytics", a - 4
    if a == anchors and b > 5 and hint in (None, "yolox"):
        return "yolox", b - 5
    raise ModelError(
        f"{source}: output shape {out_shape} fits no known family for input {w}x{h} "
        f"(expected YOLOX [{anchors}, 5+nc] or Ultralytics [4+nc, {anchors}]"
        + (f", model card says {card.family}" if card else "")
        + ")"
    )


def class_names_for(source: str, nc: int, meta: dict[str, str], card: ModelCard | None) -> np.ndarray:
    names = names_from_metadata(meta) or (card.class_names() if card else None)
    if names is None and nc == len(COCO80):
        names = list(COCO80)
    if names is None:
        raise ModelError(
            f"{source}: the model has {nc} classes but no class names (no 'names' metadata); "
            "add a model card in models/cards/ naming them"
        )
    if len(names) != nc:
        raise ModelError(f"{source}: {len(names)} class names but the output has {nc} classes")
    return np.array(names)


def make_spec(
    family: FamilyName,
    input_wh: tuple[int, int],
    class_names: np.ndarray,
    card: ModelCard | None,
    *,
    box_scale: float = 1.0,
) -> FamilySpec:
    w, h = input_wh
    if family == "yolox":
        spec = FamilySpec(
            "yolox", w, h, class_names, rgb=False, normalise=False, center=False, grid=yolox_grid(w, h)
        )
    else:
        spec = FamilySpec(
            "ultralytics", w, h, class_names, rgb=True, normalise=True, center=True, box_scale=box_scale
        )
    if card is not None:  # a matching card may state the preprocessing explicitly
        spec = FamilySpec(
            spec.family,
            w,
            h,
            class_names,
            rgb=card.input.color == "rgb",
            normalise=card.input.normalise,
            center=card.input.letterbox == "center",
            pad_value=card.input.pad_value,
            box_scale=box_scale,
            grid=spec.grid,
            roles=class_roles(class_names, card.roles) if card.roles else None,
        )
    return spec


def class_roles(class_names: np.ndarray, roles: dict[str, str]) -> np.ndarray:
    """The card's class → role map as one role per class id ("" for a class without one): the rules take a
    fine-tuned model's classes (e.g. `rubbish_bag: goods`) from it, whatever the class is called."""
    return np.array([roles.get(str(n), "") for n in class_names], dtype=object).astype(str)
