"""Optional back-end running any model the `ultralytics` package loads (the [train] extra).

Used for PyTorch checkpoints and for cross-checking our own decoders; the package is imported lazily so
Doorline runs without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import Detector, ModelError
from models.detections import Detections
from models.model_card import ModelCard
from models.options import DetectorOptions


def _import_yolo() -> Any:
    from models.offline import offline_ultralytics, restore_pillow

    offline_ultralytics()  # never try to download weights, fonts or assets, nor install anything
    try:
        from ultralytics import YOLO
    except ImportError as exc:
        raise ModelError(
            "the ultralytics back-end needs the ultralytics package: install the [train] extra "
            "(pip install -e '.[train]')"
        ) from exc
    except Exception as exc:  # noqa: BLE001 -- e.g. PyPI torchvision beside a mismatched torch build
        raise ModelError(
            f"ultralytics is installed but does not import ({type(exc).__name__}: {exc}); it needs a "
            "torch and torchvision built for each other"
        ) from exc
    restore_pillow()
    return YOLO


class UltralyticsDetector(Detector):
    type_key: ClassVar[str] = "ultralytics"
    suffixes: ClassVar[tuple[str, ...]] = (".pt",)

    def __init__(self, model: Any, options: DetectorOptions, source: Path) -> None:
        self._model = model
        self.source = source
        self.options = options
        names = model.names
        self.class_names = (
            [str(names[i]) for i in range(len(names))] if isinstance(names, dict) else list(names)
        )
        self._names = np.array(self.class_names)

    @classmethod
    def from_file(cls, path: Path, options: DetectorOptions, card: ModelCard | None) -> UltralyticsDetector:
        if card is not None and card.backend is None:
            raise ModelError(
                f"{path}: its model card says no Doorline back-end loads this {card.family} file "
                f"({card.output.layout})"
            )
        yolo = _import_yolo()
        try:
            model = yolo(str(path), task="detect")
        except Exception as exc:
            raise ModelError(f"{path}: ultralytics cannot load it: {exc}") from exc
        return cls(model, options, path)

    def __repr__(self) -> str:
        return (
            f"UltralyticsDetector({self.source.name}, {self.options.device}, {len(self.class_names)} classes)"
        )

    def _device(self) -> str | None:
        kind, _, index = self.options.device.lower().partition(":")
        if kind == "auto":
            return None
        if kind == "cuda":
            return index or "0"
        return kind

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        if not frames:
            return []
        opt = self.options
        results = self._model.predict(
            list(frames),
            conf=opt.conf,
            iou=opt.iou,
            max_det=opt.max_det,
            device=self._device(),
            verbose=False,
        )
        out = []
        for r in results:
            boxes = r.boxes
            class_id = boxes.cls.cpu().numpy().astype(np.int32)
            out.append(
                Detections(
                    xyxy=boxes.xyxy.cpu().numpy().astype(np.float32),
                    confidence=boxes.conf.cpu().numpy().astype(np.float32),
                    class_id=class_id,
                    data={"class_name": self._names[class_id]},
                )
            )
        return out
