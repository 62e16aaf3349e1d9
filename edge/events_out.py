"""The `--events-out` file: every event phase the pipeline publishes, as one JSON line (the format
`../shared/checks/score-events` and `models.event_scoring` read)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TextIO

from edge.failures import log_some
from wire.schema import EventMessage

log = logging.getLogger("edge.pipeline")


def event_line(msg: EventMessage, video_ts: float | None, paths: list[Path]) -> dict:
    return {
        "event_id": msg.event_id,
        "message_id": msg.message_id,
        "seq": msg.seq,
        "site_id": msg.site_id,
        "camera_id": msg.camera_id,
        "zone_id": msg.zone_id,
        "shop_id": msg.shop_id,
        "violation": msg.violation,
        "phase": msg.phase,
        "end_reason": msg.end_reason,
        "ts": round(video_ts, 3) if video_ts is not None else msg.ts,
        "unix_ts": msg.ts,
        "video_ts": None if video_ts is None else round(video_ts, 3),
        "score": round(msg.score, 4),
        "boxes": msg.boxes,
        "evidence": str(paths[0]) if paths else None,
        "evidence_files": [str(p) for p in paths],
        "geo": None if msg.geo is None else msg.geo.model_dump(),
        "model": msg.model,
    }


class EventsOut:
    """The open file (started afresh unless `append`); lines that cannot be written (a full disk) are
    counted in `write_errors` and logged, never raised: the event is still published."""

    def __init__(self, path: Path, *, append: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = path.open("a" if append else "w", encoding="utf-8")
        self.write_errors = 0

    def write(self, msg: EventMessage, video_ts: float | None, paths: list[Path]) -> None:
        if self._file is None:
            return
        try:
            self._file.write(json.dumps(event_line(msg, video_ts, paths)) + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk must not stop the analysis
            self.write_errors += 1
            log_some(log, self.write_errors, "events-out line for %s not written (%d so far): %s",
                     msg.event_id, self.write_errors, exc)

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as exc:  # what a full disk refused earlier is tried once more, and fails again
            log.error("events-out file not closed cleanly: %s", exc)
        self._file = None
