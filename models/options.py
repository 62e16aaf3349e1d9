"""Run-time options every detector back-end accepts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectorOptions:
    """`conf`: minimum score kept; `iou`: NMS overlap above which the weaker same-class box is dropped;
    `device`: "auto" (best available), "cpu", "cuda[:N]" or "tensorrt[:N]"; `threads`: CPU threads per
    inference (the edge box shares its cores with decoding and analysis); `max_batch`: frames per call
    when the model has a dynamic batch dimension; `max_det`: detections kept per frame."""

    conf: float = 0.25
    iou: float = 0.45
    device: str = "auto"
    threads: int = 2
    max_batch: int = 8
    max_det: int = 300

    def __post_init__(self) -> None:
        if not 0.0 <= self.conf <= 1.0:
            raise ValueError(f"conf must be within 0..1, got {self.conf}")
        if not 0.0 < self.iou <= 1.0:
            raise ValueError(f"iou must be within (0, 1], got {self.iou}")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.max_batch < 1 or self.max_det < 1:
            raise ValueError("max_batch and max_det must be >= 1")
