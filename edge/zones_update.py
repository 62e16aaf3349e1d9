"""Zones that central sends (a reload_zones command carrying a document): checked against the camera's frames,
then written over the camera's zones file atomically, the previous file kept beside it as `<name>.bak`."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from zones.fit import check_fit
from zones.io import parse_zones
from zones.model import CameraZones


class ZonesRefused(ValueError):
    """A zones document from central that the camera cannot use; the message says why."""


def check_document(document: dict[str, Any], camera_id: str, frame_size: tuple[int, int] | None) -> CameraZones:
    """The document as CameraZones, or ZonesRefused: not valid zones (zones.io), another camera's, or not
    fitting frames of `frame_size` (zones.fit; unchecked before the camera's first frame)."""
    try:
        zones = parse_zones(document, f"zones from central for {camera_id}")
        if zones.camera_id != camera_id:
            raise ZonesRefused(f"the document is for camera {zones.camera_id!r}, not {camera_id!r}")
        if frame_size is not None:
            check_fit(zones, frame_size)
    except ZonesRefused:
        raise
    except ValueError as exc:  # ZoneFileError, ZoneFitError
        raise ZonesRefused(str(exc)) from exc
    return zones


def write_zones(path: Path, document: dict[str, Any]) -> Path | None:
    """Write `document` as the zones file `path` (JSON, atomically: a reader sees the old file or the new one);
    the old file is kept as `path.bak`, whose path is returned (None when there was no old file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        backup = None
        if path.exists():
            backup = path.with_name(path.name + ".bak")
            shutil.copy2(path, backup)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return backup
