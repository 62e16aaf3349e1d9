"""The view a live camera's zones were drawn for (its reference frame), kept per PTZ preset and across restarts.

Realignment (`edge.realign`) compares a moved camera's view with the view its zones fit. That reference was
only held in memory: an edge restarted after its camera was bumped took the bumped view as the new reference,
and its zones, now off the shop fronts, raised events on the wrong shops without a word. So the reference is
saved under the edge's state folder (`reference_dir`, beside the learned empty zones of
`edge.reference_store`) each time it is taken (the first frame of a camera, a reload of its zones) and loaded
at start; the first frame after a restart is compared with it (`moved_while_down`), and a move proposes
realigned zones exactly as the running view check does.

A PTZ camera turned to another preset sees another street: its zones and its reference are that preset's. So
everything is kept under `view_key(camera_id, preset)` (`cam-3@door-west`), and a camera set to preset B is
never compared with preset A's view.

A saved reference belongs to the zones it was taken for (a fingerprint of their document): zones redrawn while
the edge was down make a stale reference, and it is dropped (the first frame is then the reference). Only a
confident move holds a camera at start: when the views cannot be compared (night against a daytime reference,
too few features), the start is logged and the running view check goes on watching. Video files never use
it: a file run starts from nothing, so running a clip twice gives the same events.

One file per key, `{folder}/{key}.view.npz` (the PNG of the frame and a JSON header), written to a temporary
file and renamed. A missing, damaged or unwritable file is logged and never stops the edge.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import zipfile
from pathlib import Path

import cv2
import numpy as np

from edge.failures import log_some
from edge.realign import estimate, zone_points
from zones.io import zones_document
from zones.model import CameraZones

log = logging.getLogger("doorline.edge.view_reference")

FORMAT = 1


def view_key(camera_id: str, preset: str | None) -> str:
    """What a camera's references are kept under: its id, and its PTZ preset when it has one."""
    return f"{camera_id}@{preset}" if preset else camera_id


def zones_fingerprint(zones: CameraZones) -> str:
    """Which zones a reference was taken for (their document, points to 0.1 px)."""
    return hashlib.sha256(json.dumps(zones_document(zones), sort_keys=True).encode()).hexdigest()[:16]


class ViewReferences:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.save_errors = 0

    def path(self, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in key)
        return self.folder / f"{safe}.view.npz"

    def load(self, key: str, zones: CameraZones) -> np.ndarray | None:
        """The saved reference frame of `key` taken for these `zones`, or None (none, other zones, unreadable)."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != FORMAT or meta.get("key") != key:
                    raise ValueError(f"not a format {FORMAT} view reference of {key!r}")
                image = cv2.imdecode(np.asarray(data["png"], np.uint8), cv2.IMREAD_COLOR)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("camera %s: saved view reference %s unreadable (%s); its first frame is the reference",
                        key, path, exc)
            return None
        if image is None or list(image.shape[:2]) != meta.get("shape"):
            log.warning("camera %s: saved view reference %s damaged; its first frame is the reference", key, path)
            return None
        if meta.get("zones") != zones_fingerprint(zones):
            log.info("camera %s: its zones changed since the view reference was saved (redrawn while the edge "
                     "was down); its first frame is the reference", key)
            return None
        log.info("camera %s: comparing its first frame with the view its zones were drawn for (%s)", key, path)
        return image

    def save(self, key: str, zones: CameraZones, image: np.ndarray) -> bool:
        ok, png = cv2.imencode(".png", image)
        meta = {"format": FORMAT, "key": key, "zones": zones_fingerprint(zones), "shape": list(image.shape[:2])}
        path = self.path(key)
        tmp = path.with_name(path.name + ".tmp")
        try:
            if not ok:
                raise OSError("the frame could not be encoded")
            buf = io.BytesIO()
            np.savez(buf, meta=np.array(json.dumps(meta)), png=png.ravel())
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(buf.getvalue())
            os.replace(tmp, path)
        except OSError as exc:
            self.save_errors += 1
            log_some(log, self.save_errors, "camera %s: view reference not saved to %s (%d so far): %s",
                     key, path, self.save_errors, exc)
            return False
        return True


def moved_while_down(key: str, zones: CameraZones, reference: np.ndarray, image: np.ndarray) -> bool:
    """Whether the first frame after a restart shows the camera confidently moved from its saved reference."""
    h, w = image.shape[:2]
    result = estimate(reference, image, probe=zone_points(zones, (w, h)))
    if result.usable and result.moved:
        log.warning("camera %s: %s since the edge last ran (%d features agree)", key, result.reason, result.inliers)
        return True
    if not result.usable:
        log.info("camera %s: its view could not be compared with the saved reference (%s); the view check "
                 "goes on watching", key, result.reason)
    return False
