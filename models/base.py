"""The detector plug-in interface. A back-end is one module under `models/backends/` that subclasses
`Detector`, sets `type_key`, and is found by `models.registry`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from models.detections import Detections

if TYPE_CHECKING:
    from models.model_card import ModelCard
    from models.options import DetectorOptions


class ModelError(RuntimeError):
    """A model that is missing, unreadable or of a family no back-end decodes. Raised at start-up."""


class Detector(ABC):
    type_key: ClassVar[str]
    # File suffixes this back-end loads when no back-end is named (e.g. (".onnx",)); lower case.
    suffixes: ClassVar[tuple[str, ...]] = ()
    class_names: list[str]
    # class name → role (person, vehicle, goods) from the model card; empty for a model whose card gives none
    class_roles: Mapping[str, str] = MappingProxyType({})

    @classmethod
    def from_file(cls, path: Path, options: DetectorOptions, card: ModelCard | None) -> Detector:
        """Load and check a model at start-up; raise ModelError for anything it cannot decode."""
        raise NotImplementedError(f"{cls.__name__} cannot be loaded from a file")

    @abstractmethod
    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        """BGR uint8 frames (any size) → one Detections per frame, boxes in that frame's pixels."""
