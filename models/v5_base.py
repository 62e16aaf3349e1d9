"""The official YOLOv5n v6.1 checkpoint (`../shared/models/yolov5n.pt`) as an ultralytics base, offline.

`ultralytics` cannot open that file itself: it renames `yolov5n.pt` to `yolov5nu.pt` and tries to download
the converted model. The file is a pickle of the `yolov5` repository's classes (`models.yolo.Model`,
`models.common.C3`, ... — a `models` package that is not ours). Here it is unpickled with those classes
replaced by empty `torch.nn.Module` stand-ins (only the tensors are kept, no code of that repository runs),
and its COCO-trained weights are copied into ultralytics' own YOLOv5n (`yolov5n.yaml`: the same backbone
and neck, an anchor-free head) by name and shape. The head starts fresh; backbone and neck start from COCO,
which is what a frozen-backbone fine-tune on a few hundred images needs.

Only a file whose sha256 matches its model card is unpickled (`models/cards/yolov5n.yaml`, `pickle: true`)."""

from __future__ import annotations

import pickle
import types
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.base import ModelError
from models.model_card import card_for, sha256_of

# never "yolov5n.pt": ultralytics rewrites any such name to the "u" model and tries to download it
CONVERTED_PREFIX = "doorline-v5-coco-"


def is_v5_checkpoint(path: Path) -> bool:
    """A PyTorch zip checkpoint pickled from the yolov5 repository (its classes live in `models.yolo`)."""
    try:
        with zipfile.ZipFile(path) as z:
            pkl = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
            return pkl is not None and b"models.yolo" in z.read(pkl)
    except (OSError, zipfile.BadZipFile):
        return False


def _stand_in_unpickler() -> types.ModuleType:
    import torch

    stand_ins: dict[str, type] = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module.startswith(("models.", "utils.")):  # the yolov5 repository's classes: tensors only
                key = f"{module}.{name}"
                if key not in stand_ins:
                    stand_ins[key] = type(name, (torch.nn.Module,), {"forward": None})
                return stand_ins[key]
            return super().find_class(module, name)

    mod = types.ModuleType("v5_stand_in_pickle")
    mod.Unpickler = Unpickler  # type: ignore[attr-defined]
    mod.load = pickle.load  # type: ignore[attr-defined]
    mod.__dict__["dump"] = pickle.dump
    return mod


def v5_state_dict(path: Path) -> dict[str, Any]:
    """The checkpoint's tensors (float32), keyed as in the yolov5 model (`model.0.conv.weight`, ...)."""
    import torch

    card = card_for(path)  # ModelError on a pickle whose sha256 is not the card's
    if card is None or not card.pickle or card.family != "yolov5":
        raise ModelError(f"{path}: no yolov5 model card names this file; refusing to unpickle it")
    ckpt = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_stand_in_unpickler())
    model = ckpt.get("ema") or ckpt["model"]
    return {k: v.float() for k, v in model.state_dict().items()}


def convert(path: Path, out_dir: Path, scale_yaml: str = "yolov5n.yaml") -> tuple[Path, int, int]:
    """An ultralytics checkpoint (`out_dir/doorline-v5-coco-<sha8>.pt`) with the v5 weights copied in; returns
    (path, tensors copied, tensors in the model). Cached by the source's sha256."""
    import torch
    from ultralytics.nn.tasks import DetectionModel  # type: ignore[import-not-found]

    from models.offline import restore_pillow

    restore_pillow()

    digest = sha256_of(path)
    out = Path(out_dir) / f"{CONVERTED_PREFIX}{digest[:8]}.pt"
    model = DetectionModel(scale_yaml, nc=80, verbose=False)
    target = model.state_dict()
    source = v5_state_dict(path)
    take = {k: v for k, v in source.items() if k in target and tuple(v.shape) == tuple(target[k].shape)}
    if len(take) < len(target) // 2:
        raise ModelError(f"{path}: only {len(take)} of {len(target)} tensors fit {scale_yaml}; not a YOLOv5n")
    if not out.is_file():
        model.load_state_dict(take, strict=False)
        out.parent.mkdir(parents=True, exist_ok=True)
        from models.classes import COCO80

        model.names = dict(enumerate(COCO80))
        tmp = out.with_suffix(".tmp")
        torch.save(
            {
                "model": model.half(),
                "train_args": {},
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "source": f"{path.name} sha256 {digest}, backbone+neck copied into ultralytics {scale_yaml}",
            },
            tmp,
        )
        tmp.replace(out)
    return out, len(take), len(target)
