"""Ultralytics with no network: set before the package is first imported (it reads the environment then).

- `YOLO_OFFLINE=1`: no hub calls, no asset downloads, no online checks.
- `YOLO_CONFIG_DIR`: a settings folder of our own (settings `sync: false`, no telemetry) holding `Arial.ttf`
  and `Arial.Unicode.ttf` as links to a font already on the machine, so the plotting code's font check finds
  them instead of downloading them.
- `YOLO_AUTOINSTALL=false`: a missing requirement is an error, never a `pip install` at run time.
- `restore_pillow()` after the import: ultralytics replaces `PIL.Image.open` for the whole process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def _local_font() -> Path | None:
    for cand in FONT_CANDIDATES:
        if Path(cand).is_file():
            return Path(cand)
    try:
        import matplotlib  # the [charts] extra ships DejaVu fonts

        found = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return found if found.is_file() else None
    except ImportError:
        return None


def offline_ultralytics(config_dir: Path | None = None) -> Path:
    """Prepare the environment; returns the folder holding the settings and fonts. Idempotent; an explicit
    YOLO_CONFIG_DIR set by the caller is kept. Once ultralytics is imported its folder is fixed: the fonts
    are linked into that one."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("YOLO_VERBOSE", "false")
    folder = Path(os.environ.get("YOLO_CONFIG_DIR") or config_dir or Path.home() / ".config" / "doorline-ultralytics")
    os.environ["YOLO_CONFIG_DIR"] = str(folder)
    imported = sys.modules.get("ultralytics.utils")
    fonts = Path(imported.USER_CONFIG_DIR) if imported is not None else folder / "Ultralytics"
    fonts.mkdir(parents=True, exist_ok=True)
    font = _local_font()
    for name in FONT_NAMES:
        dst = fonts / name
        if font is not None and not dst.exists():
            try:
                dst.symlink_to(font)
            except FileExistsError:
                pass
    return fonts


def quiet_settings() -> None:
    """After import: no telemetry, no hub sync (kept in the settings file of our own folder)."""
    from ultralytics.utils import SETTINGS  # type: ignore[import-not-found]

    wanted = {"sync": False, "hub": False} if "hub" in SETTINGS else {"sync": False}
    if any(SETTINGS.get(k) != v for k, v in wanted.items()):
        SETTINGS.update(wanted)


def restore_pillow() -> None:
    """Put Pillow's own `Image.open` back after ultralytics is imported. Its replacement, on a file Pillow
    cannot identify, tries to install and import pi-heif; offline that raises ImportError instead of Pillow's
    UnidentifiedImageError, so everything else in the process that checks a file by decoding it (uploaded
    photos) would fail the wrong way. Doorline reads no HEIF; ultralytics opens JPEG and PNG with Pillow's own."""
    from PIL import Image

    patches = sys.modules.get("ultralytics.utils.patches")
    original = getattr(patches, "_image_open", None)
    if original is not None and Image.open is getattr(patches, "image_open", None):
        Image.open = original
