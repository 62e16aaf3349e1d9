"""Recheck commands: judge one zone again on the next few sampled frames of its camera.

Central sends a `recheck` when a shop's self-rectification window has passed. The answer must come from
fresh frames, so a job collects `SceneAnalyzer.assess(zone_id)` over the next `frames` analysed frames of
that camera and votes: `present` when at least half of them saw the violation, `clear` when more than
half were clear (one stray detection does not keep a case open), otherwise `unknown` (e.g. the zone's
background is not learned yet, or a crowd hid it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wire.schema import CommandMessage

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
    votes: list[str] = field(default_factory=list)
    best: tuple[float, np.ndarray, np.ndarray, float] | None = None  # score, boxes, frame, ts
    last: tuple[np.ndarray, float] | None = None


class Rechecks:
    def __init__(self, frames: int = 4) -> None:
        if frames < 1:
            raise ValueError("a recheck needs at least one frame")
        self.frames = frames
        self._jobs: dict[str, list[_Job]] = {}

    def add(self, command: CommandMessage) -> None:
        self._jobs.setdefault(command.camera_id, []).append(_Job(command, self.frames))

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
