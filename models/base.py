"""The detector plug-in interface. A back-end is one module under `models/backends/` that subclasses
`Detector`, sets `type_key`, and is found by `models.registry`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from models.detections import Detections


class ModelError(RuntimeError):
    """A model that is missing, unreadable or of a family no back-end decodes. Raised at start-up."""


class Detector(ABC):
    type_key: ClassVar[str]
    class_names: list[str]

    @abstractmethod
    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        """BGR uint8 frames (any size) → one Detections per frame, boxes in that frame's pixels."""
