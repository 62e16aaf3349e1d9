"""The edge worker's heartbeat: each camera's source state polled (a stall is logged even with no frames),
rechecks past their time answered `unknown`, and every `status_interval_s` (or at once when something
changed) one status to central: online / degraded / offline, the analysed rate, cameras in trouble, views
that moved, zones refused, detector failures. `Heartbeat` is a part of `edge.pipeline.Pipeline`."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from edge.sources import SourceState

if TYPE_CHECKING:
    from edge.pipeline import Pipeline

log = logging.getLogger(__name__)


class Heartbeat:
    """The status half of the pipeline (mixed into `Pipeline`, whose state it reads)."""

    def status(self: Pipeline) -> dict:
        now = time.perf_counter()
        dt = max(1e-6, now - self._last_status) if self._last_status else 0.0
        fps = (self.stats.frames_analysed - self._status_analysed) / dt if dt else 0.0
        states = {cid: c.state for cid, c in self.cameras.items()}
        troubles = {cid: c.source.describe() for cid, c in self.cameras.items()
                    if not c.failed and ((c.source.live and states[cid] != "live") or c.source.attempts)}
        depth = 0
        if self.publisher is not None:
            depth = int(self.publisher.depth)
        return {
            "fps": round(fps, 2),
            "source_states": states,
            "spool_depth": depth,
            "analysed": self.stats.frames_analysed,
            "events": self.stats.events,
            "cameras": troubles,  # camera id -> "reconnecting, attempt 3: <last error>" for cameras in trouble
            "detector_errors": self.stats.detector_errors,
        }

    def _heartbeat(self: Pipeline, force: bool = False) -> None:
        # Source states are polled here too, so a stall is noticed (and logged) even with no frames.
        for camera in self.cameras.values():
            state = SourceState(camera.state)
            if state is not camera.last_state:
                camera.last_state = state
                if state in (SourceState.STALLED, SourceState.RECONNECTING, SourceState.FAILED) and not camera.failed:
                    log.warning("camera %s: %s %s", camera.settings.id, state.value, camera.detail,
                                extra={"camera_id": camera.settings.id})
        if self.rechecks.timeout_s and any(self.rechecks.pending(cid) for cid in self.cameras):
            why = {cid: c.failed or c.held or c.source.describe() for cid, c in self.cameras.items()}
            for verdict in self.rechecks.expire(why.__getitem__):
                self._answer_recheck(self.cameras[verdict.command.camera_id], verdict)
        now = time.perf_counter()
        if not force and not self._status_due and now - self._last_status < self.settings.status_interval_s:
            return
        self._status_due = False
        status = self.status()
        self._last_status, self._status_analysed = now, self.stats.frames_analysed
        if self.publisher is not None:
            states = status["source_states"]
            bad = [s for s in states.values() if s in ("stalled", "reconnecting", "failed", "connecting")]
            moved = {cid: c.view_changed_at for cid, c in self.cameras.items() if c.view_changed_at is not None}
            refused = {cid: c.zones_refused for cid, c in self.cameras.items() if c.zones_refused}
            state = ("offline" if force and self._stop.is_set()
                     else ("degraded" if bad or moved or refused else "online"))
            summary = ", ".join(f"{cid}={st}" for cid, st in states.items())[:200]
            detail = "; ".join(
                [f"{cid}: {text}" for cid, text in status["cameras"].items()]
                + [f"{cid}: the view changed at {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(at))} UTC, check "
                   "that its zones still fit, then reload them"
                   + (f" ({self.cameras[cid].held})" if self.cameras[cid].held else "")
                   for cid, at in moved.items()]
                + [f"{cid}: {text}" for cid, text in refused.items()]
                + ([f"detector failed on {status['detector_errors']} batches (skipped)"]
                   if status["detector_errors"] else [])
            )
            failed = "; ".join(f"{cid}: {c.failed}" for cid, c in self.cameras.items() if c.failed)
            detail = "; ".join(d for d in (failed, detail) if d)[:1000]
            try:
                proposals = {cid: c.proposal for cid, c in self.cameras.items() if c.proposal is not None}
                self.publisher.set_status(state, fps=status["fps"], source_state=summary, detail=detail,
                                          proposals=proposals)
            except Exception as exc:  # noqa: BLE001 -- a status failure must not stop the analysis
                log.warning("status not published: %s", exc)
