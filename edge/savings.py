"""The pipeline's side of the savings (`edge.settings.SavingsSettings`): which frames of a batch go to the
detector (`edge.motion`), what a frame the detector skipped is analysed with, and the static-object model's
rate and canvas.

A frame the gate lets through is detected as always. A frame it holds back is analysed with its camera's
last detections, as if the detector had returned the same boxes again (nothing moved, so it would have):
the tracker, the movers' masks of the static-object model and the rules see what they saw on the last
detected frame, and every timer still runs on the frame's own stream time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from edge.analyzer import SceneAnalyzer
from edge.background import StaticModelParams
from edge.motion import MotionGate, MotionParams
from edge.settings import SavingsSettings
from edge.sources import Frame
from models.detections import Detections
from wire.schema import CROSS_DOOR_TRADING


class GatedCamera(Protocol):
    """What the gate needs of `edge.pipeline.Camera`."""

    gate: MotionGate | None
    last_detections: Detections | None
    analyzer: SceneAnalyzer


def motion_gate(savings: SavingsSettings, kind: str) -> MotionGate | None:
    """A fixed camera's gate when the motion gate is on; a drone's view moves all the time: never gated."""
    if not savings.motion_gate or kind == "drone":
        return None
    return MotionGate(MotionParams(width=savings.motion_width, pixel_threshold=savings.motion_pixel_threshold,
                                   min_changed_px=savings.motion_min_changed_px,
                                   detect_every_s=savings.detect_every_s, hangover_s=savings.motion_hangover_s))


def static_params(savings: SavingsSettings) -> StaticModelParams:
    return StaticModelParams(max_fps=savings.static_model_fps, max_side=savings.static_model_max_side)


def boxes_needed(analyzer: SceneAnalyzer) -> bool:
    """Cross-door trading is being timed or runs in one of the camera's zones: that rule reads the
    detector's boxes on every frame, so its camera is never gated meanwhile."""
    return any(t.holding for (_, violation), t in analyzer.trackers.items() if violation == CROSS_DOOR_TRADING)


def zone_boxes(analyzer: SceneAnalyzer, frame_size: tuple[int, int]) -> np.ndarray:
    """(n, 4) xyxy bounding boxes of the camera's zones in frames of `frame_size`."""
    polygons = [analyzer.polygon(zid, frame_size) for zid in analyzer.zones]
    return np.array([[*p.min(axis=0), *p.max(axis=0)] for p in polygons], np.float64).reshape(-1, 4)


def to_detect(batch: Sequence[tuple[GatedCamera, Frame]], needed: Sequence[bool]) -> list[int]:
    """Indices of the frames of `batch` the detector must see. `needed[i]`: frame i's camera needs fresh
    boxes whatever its gate says (a recheck waiting). Called in stream order, once per frame."""
    wanted = []
    for i, (camera, frame) in enumerate(batch):
        gate = camera.gate
        if gate is not None and gate.watching != (camera.analyzer, frame.size):  # new zones or a new frame size
            gate.watch(zone_boxes(camera.analyzer, frame.size), (camera.analyzer, frame.size))
        # a camera's first frame is fresh to its gate, so it is detected; the frames after it may be skipped while
        # its detections are still in flight: they are analysed after it, in stream order
        if gate is None or gate.wants(frame.image, frame.ts, needed=needed[i] or boxes_needed(camera.analyzer)):
            wanted.append(i)
    return wanted


def with_skipped(n: int, wanted: Sequence[int], found: Sequence[Detections]) -> list[Detections | None]:
    """The detections of a batch of `n` frames, None for those the detector did not see."""
    out: list[Detections | None] = [None] * n
    for i, dets in zip(wanted, found, strict=True):
        out[i] = dets
    return out


def detections_for(camera: GatedCamera, found: Detections | None) -> Detections:
    """What one frame is analysed with: its own detections (kept as the camera's last), else the last ones."""
    if found is not None:
        camera.last_detections = found
        return found
    if camera.last_detections is None:  # its first detected batch failed (the detector raised): no boxes
        return Detections.empty()
    return camera.last_detections
