"""Model cards (models/cards/*.yaml): what a known weights file is, how to feed it, and its sha256.

Policy when a card names a file (matched by file name):
- sha256 matches → the card is used (its family is authoritative for decoding);
- sha256 differs → the card is ignored with a warning and the file is decoded from its own metadata and
  output shape (a re-exported model may reuse a name); for pickled checkpoints (`pickle: true`) a
  mismatch is a ModelError, because unpickling an unknown file can run arbitrary code.

Cards live in models/cards/ (the known third-party files) or beside the model as `<stem>.card.yaml` (models
trained or registered with `doorline-models train` / `register`, kept in the models folder, never in git);
the same policy applies to both.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.base import ModelError

log = logging.getLogger(__name__)

CARDS_DIR = Path(__file__).resolve().parent / "cards"
Family = Literal["yolox", "ultralytics", "yolov5"]
Role = Literal["person", "vehicle", "goods"]
CARD_SUFFIX = ".card.yaml"


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shape: list[int]
    layout: Literal["NCHW", "NHWC"]
    dtype: Literal["float32", "int8", "uint8"]
    color: Literal["bgr", "rgb"]
    normalise: bool = Field(description="divide pixel values by 255")
    letterbox: Literal["top_left", "center"]
    pad_value: int = Field(114, ge=0, le=255)


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shape: list[int] | None
    layout: str


class ModelCard(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    family: Family
    backend: str | None
    description: str = ""
    classes: Literal["coco80"] | list[str] = "coco80"
    input: InputSpec
    output: OutputSpec
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int | None = Field(None, ge=0)
    licence: str
    source: str
    pickle: bool = False
    # class → the group the rules treat it as (models.classes groups); empty for COCO models (the defaults)
    roles: dict[str, Role] = Field(default_factory=dict)
    training: dict[str, Any] | None = Field(None, description="data, base checkpoint and settings it was trained with")
    evaluation: dict[str, Any] | None = Field(None, description="eval figures measured when it was registered")
    registered_at: str | None = None

    def class_names(self) -> list[str]:
        from models.classes import COCO80

        return list(COCO80) if self.classes == "coco80" else list(self.classes)


def load_card(path: Path) -> ModelCard:
    try:
        return ModelCard.model_validate(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ModelError(f"model card {path} is invalid: {exc}") from exc


@lru_cache(maxsize=4)
def load_cards(cards_dir: Path = CARDS_DIR) -> dict[str, ModelCard]:
    """Every card in `cards_dir`, keyed by the weights file name."""
    cards = [load_card(p) for p in sorted(cards_dir.glob("*.yaml"))]
    return {c.file: c for c in cards}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sidecar_path(model: Path) -> Path:
    """Where the card of a registered model lives: beside it, `<stem>.card.yaml`."""
    return model.with_name(model.stem + CARD_SUFFIX)


def card_for(path: Path, cards_dir: Path = CARDS_DIR) -> ModelCard | None:
    """The card for `path` if one names its file and the sha256 matches (see the module policy): its
    sidecar card first, then the cards in `cards_dir`."""
    sidecar = sidecar_path(path)
    card = None
    if sidecar.is_file():
        card = load_card(sidecar)
        if card.file != path.name:
            raise ModelError(f"{sidecar} describes {card.file!r}, not {path.name!r}")
    if card is None:
        card = load_cards(cards_dir).get(path.name)
    if card is None:
        return None
    digest = sha256_of(path)
    if digest == card.sha256:
        return card
    if card.pickle:
        raise ModelError(
            f"{path}: sha256 {digest} does not match the model card ({card.sha256}); refusing to load a "
            "pickled checkpoint that is not the known file"
        )
    log.warning(
        "%s: sha256 %s differs from the model card for %s; decoding from the file's own metadata",
        path,
        digest,
        card.file,
    )
    return None
