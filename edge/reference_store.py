"""What each live camera's static-object model has learned of its empty zones, kept on disk across restarts.

The model learns the empty zone during its first seconds. An edge that restarts (power cut, update, crash)
while goods stand in a zone would learn them as the empty street, and neither raise them nor see them in a
recheck until they were moved. So the pipeline saves each live camera's references (`StaticBank.snapshot`:
the reference images and which pixels are known, not the timers) every `interval_s` and when it stops, and
a restarted camera starts from them if they are at most `max_age_s` old and were made for the same frame
size, parameters and zones (else that camera learns afresh, as before). If the first frame shows that the
view itself changed (the zones' surroundings unlike the saved reference: the camera was moved or turned
while the edge was down; `edge.background.sheet._Sheet._view_changed`), the model drops the restore and learns
afresh. Video files never use it: a file run starts from nothing, so running a clip twice gives the same
events.

Age and clocks: the file records the wall time and the monotonic time of the save, with the kernel's boot id.
A restart within the same boot (an update, a crash) measures the age on the monotonic clock, which no NTP step
moves. After a reboot only the wall clock can say, and a box without a real-time clock may boot with a
wrong one: an age below zero (the clock was behind when it saved or is behind now) or beyond `max_age_s`
(it was stepped forward since) makes the camera learn afresh, which is the safe side. The save interval is
measured on the monotonic clock.

One file per camera, `{folder}/{camera_id}.npz`, written to a temporary file and renamed, so a crash while
writing leaves the previous one. A missing, old, damaged or unwritable file is logged and never stops the
edge.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from edge.failures import log_some

log = logging.getLogger("doorline.edge.reference_store")

FORMAT = 1
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    """The kernel's id of this boot ("" where there is none): monotonic times compare only within one boot."""
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""
Snapshot = Mapping[str, Mapping[str, np.ndarray]]  # sheet key -> array name -> array


class ReferenceStore:
    def __init__(self, folder: Path, *, max_age_s: float = 1800.0, interval_s: float = 60.0) -> None:
        self.folder = Path(folder)
        self.max_age_s = max_age_s
        self.interval_s = interval_s
        self._last_save: dict[str, float] = {}
        self.save_errors = 0

    def path(self, camera_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in camera_id)
        return self.folder / f"{safe}.npz"

    def load(
        self, camera_id: str, *, now: float | None = None, monotonic: float | None = None
    ) -> dict[str, dict[str, np.ndarray]] | None:
        """The camera's saved snapshot, or None (none saved, too old, or unreadable: each logged). `now` (unix)
        and `monotonic` default to the clocks."""
        path = self.path(camera_id)
        if not path.exists():
            return None
        now = time.time() if now is None else now
        monotonic = time.monotonic() if monotonic is None else monotonic
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != FORMAT or meta.get("camera_id") != camera_id:
                    raise ValueError(f"not a format {FORMAT} reference of camera {camera_id!r}")
                boot = boot_id()
                if boot and meta.get("boot_id") == boot and "saved_monotonic" in meta:
                    age = monotonic - float(meta["saved_monotonic"])  # same boot: immune to clock steps
                else:
                    age = now - float(meta["saved_unix"])
                    if age < 0:
                        log.info("camera %s: saved zone reference is %.0f s in the future by the wall clock (it "
                                 "was set back, or was wrong at boot); learning afresh", camera_id, -age)
                        return None
                if not 0 <= age <= self.max_age_s:
                    log.info("camera %s: saved zone reference is %.0f s old (limit %.0f s); learning afresh",
                             camera_id, age, self.max_age_s)
                    return None
                snapshot: dict[str, dict[str, np.ndarray]] = {}
                for i, (key, names) in enumerate(meta["sheets"].items()):
                    snapshot[key] = {name: data[f"s{i}_{name}"] for name in names}
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("camera %s: saved zone reference %s unreadable (%s); learning afresh", camera_id, path, exc)
            return None
        log.info("camera %s: starting from the zone reference saved %.0f s ago", camera_id, age)
        return snapshot

    def due(self, camera_id: str, now: float) -> bool:
        """Whether the camera's next save is due; `now` is monotonic seconds."""
        last = self._last_save.get(camera_id)
        if last is None:  # the first save comes one interval after the camera started
            self._last_save[camera_id] = now
            return False
        return now - last >= self.interval_s

    def save(
        self, camera_id: str, snapshot: Snapshot, *, now: float | None = None, monotonic: float | None = None
    ) -> bool:
        now = time.time() if now is None else now
        monotonic = time.monotonic() if monotonic is None else monotonic
        self._last_save[camera_id] = monotonic
        meta = {"format": FORMAT, "camera_id": camera_id, "saved_unix": now, "saved_monotonic": monotonic,
                "boot_id": boot_id(),
                "sheets": {key: sorted(arrays) for key, arrays in snapshot.items()}}
        arrays = {f"s{i}_{name}": np.asarray(arrays[name])
                  for i, (key, arrays) in enumerate(snapshot.items()) for name in meta["sheets"][key]}
        path = self.path(camera_id)
        tmp = path.with_name(path.name + ".tmp")
        try:
            buf = io.BytesIO()
            np.savez(buf, meta=np.array(json.dumps(meta)), **arrays)
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(buf.getvalue())
            os.replace(tmp, path)
        except OSError as exc:
            self.save_errors += 1
            log_some(log, self.save_errors, "camera %s: zone reference not saved to %s (%d so far): %s",
                     camera_id, path, self.save_errors, exc)
            return False
        return True
