"""Recheck commands: judge one zone again on the next few sampled frames of its camera.

Central sends a `recheck` when a shop's self-rectification window has passed. The answer must come from
fresh frames, so a job collects `SceneAnalyzer.assess(zone_id)` over the next `frames` analysed frames of
that camera and votes: `present` when at least half of them saw the violation, `clear` when more than
half were clear (one stray detection does not keep a case open), otherwise `unknown` (e.g. the zone's
background is not learned yet, or a crowd hid it).

A job its camera cannot finish within `timeout_s` (the camera is down, so no frames come) is answered
`unknown` with the reason (`expire`), so central hears back and the job does not wait forever; a camera
holds at most `max_jobs` jobs (past it the oldest is answered `unknown` at once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from wire.schema import CommandMessage

log = logging.getLogger(__name__)

_NO_BOXES = np.zeros((0, 4), np.float32)


@dataclass
class RecheckVerdict:
    command: CommandMessage
    result: str  # "present" | "clear" | "unknown"
    score: float
    boxes: np.ndarray
    frame: np.ndarray | None
    ts: float | None
    detail: str


@dataclass
class _Job:
    command: CommandMessage
    frames_left: int
    deadline: float  # monotonic seconds
    votes: list[str] = field(default_factory=list)
    best: tuple[float, np.ndarray, np.ndarray, float] | None = None  # score, boxes, frame, ts
    last: tuple[np.ndarray, float] | None = None


class Rechecks:
    def __init__(
        self,
        frames: int = 4,
        *,
        timeout_s: float = 120.0,
        max_jobs: int = 64,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if frames < 1:
            raise ValueError("a recheck needs at least one frame")
        self.frames = frames
        self.timeout_s = timeout_s
        self.max_jobs = max_jobs
        self._monotonic = monotonic
        self._jobs: dict[str, list[_Job]] = {}

    def add(self, command: CommandMessage) -> list[RecheckVerdict]:
        """Queue a job; returns the `unknown` verdicts of jobs pushed out by the per-camera cap."""
        jobs = self._jobs.setdefault(command.camera_id, [])
        jobs.append(_Job(command, self.frames, self._monotonic() + self.timeout_s))
        pushed = []
        while len(jobs) > self.max_jobs:
            job = jobs.pop(0)
            log.warning("camera %s: more than %d rechecks waiting; the oldest (%s) is answered unknown",
                        command.camera_id, self.max_jobs, job.command.command_id)
            pushed.append(self._unavailable(job, f"more than {self.max_jobs} rechecks waiting for this camera"))
        return pushed

    def expire(self, why: Callable[[str], str] = lambda camera_id: "no frames") -> list[RecheckVerdict]:
        """`unknown` verdicts for jobs past their deadline, removed; `why(camera_id)` says what the camera is
        doing (e.g. "reconnecting, attempt 4: connection refused")."""
        now = self._monotonic()
        done = []
        for camera_id, jobs in self._jobs.items():
            for job in [j for j in jobs if j.deadline <= now]:
                jobs.remove(job)
                done.append(self._unavailable(
                    job, f"camera {camera_id} judged {len(job.votes)} of {self.frames} frames in "
                         f"{self.timeout_s:g} s ({why(camera_id)}): camera unavailable"))
        return done

    @staticmethod
    def _unavailable(job: _Job, detail: str) -> RecheckVerdict:
        frame, ts = job.last if job.last is not None else (None, None)
        return RecheckVerdict(job.command, "unknown", 0.0, _NO_BOXES, frame, ts, detail)

    def pending(self, camera_id: str) -> int:
        return len(self._jobs.get(camera_id, []))

    def observe(self, camera_id: str, assess, frame: np.ndarray, ts: float) -> list[RecheckVerdict]:
        """Call after the camera's analyser has seen `frame`; `assess(zone_id)` is `SceneAnalyzer.assess`.
        Returns the verdicts of jobs that are now complete."""
        jobs = self._jobs.get(camera_id)
        if not jobs:
            return []
        done: list[RecheckVerdict] = []
        for job in list(jobs):
            zone_id = job.command.zone_id or ""
            try:
                result, score, boxes = assess(zone_id)
            except KeyError:
                jobs.remove(job)
                done.append(
                    RecheckVerdict(
                        job.command,
                        "unknown",
                        0.0,
                        _NO_BOXES,
                        frame,
                        ts,
                        f"camera {camera_id} has no zone {zone_id!r}",
                    )
                )
                continue
            job.votes.append(result)
            job.last = (frame, ts)
            if result == "present" and (job.best is None or score >= job.best[0]):
                job.best = (float(score), np.asarray(boxes, np.float32).reshape(-1, 4), frame, ts)
            job.frames_left -= 1
            if job.frames_left <= 0:
                jobs.remove(job)
                done.append(self._verdict(job))
        return done

    @staticmethod
    def _verdict(job: _Job) -> RecheckVerdict:
        n = len(job.votes)
        present, clear = job.votes.count("present"), job.votes.count("clear")
        detail = f"{present} present, {clear} clear, {n - present - clear} unknown of {n} frames"
        if present * 2 >= n and job.best is not None:
            score, boxes, frame, ts = job.best
            return RecheckVerdict(job.command, "present", min(1.0, max(0.0, score)), boxes, frame, ts, detail)
        frame, ts = job.last if job.last is not None else (None, None)
        if clear * 2 > n:
            return RecheckVerdict(job.command, "clear", 0.0, _NO_BOXES, frame, ts, detail)
        return RecheckVerdict(job.command, "unknown", 0.0, _NO_BOXES, frame, ts, detail)
