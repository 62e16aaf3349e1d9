"""One camera of an edge worker as the pipeline holds it (`Camera`: settings, zones, source, sampler, analyser,
tracker, model and the state of its view), the run's counters (`RunStats`), and what the pipeline needs of
the publisher (`MessageSink`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edge.analyzer import SceneAnalyzer
from edge.drone import DroneAnalyzer
from edge.motion import MotionGate
from edge.sampler import Sampler
from edge.settings import CameraSettings
from edge.sources import Frame, Source, SourceState
from edge.tracker import ByteTracker
from models.detections import Detections
from wire.schema import CommandMessage, ZoneProposal
from zones.model import CameraZones


class MessageSink(Protocol):
    """What the pipeline needs of `edge.publisher.Publisher`."""

    def publish(self, msg: Any) -> Any: ...

    def publish_many(self, msgs: Sequence[Any]) -> Any: ...

    def on_command(self, callback: Callable[[CommandMessage], None]) -> None: ...

    def set_status(self, state: str, *, fps: float | None = None, source_state: str | None = None,
                   detail: str | None = None, proposals: dict[str, ZoneProposal] | None = None) -> None: ...

    @property
    def depth(self) -> int: ...


@dataclass
class Camera:
    settings: CameraSettings
    zones: CameraZones
    source: Source
    sampler: Sampler
    analyzer: SceneAnalyzer
    tracker: ByteTracker
    detector_key: str
    analysed: int = 0
    events: int = 0
    last_frame: Frame | None = None
    last_state: SourceState | None = None
    view_changed_at: float | None = None  # unix time the view last changed, until the zones are reloaded
    view_changes_seen: int = 0
    drone: DroneAnalyzer | None = None  # a drone with shop footprints: sightings go to shops, not zones
    previous_detector_key: str | None = None  # the model before central's last switch (kept loaded: rollback)
    failed: str = ""  # why the worker gave this camera up (its zones do not fit its frames); "" while it runs
    reference: np.ndarray | None = None  # the trusted view its zones were loaded for (realignment)
    reference_unverified: bool = False  # loaded from disk at start: its first frame is compared with it
    proposal: ZoneProposal | None = None  # realigned zones sent to central after a view change
    held: str = ""  # why it raises no events (its view moved), until its zones are reloaded; "" while it runs
    zones_refused: str = ""  # why the last zones sent by central were refused; "" after a good reload
    episodes_ended: bool = False  # its source ended (or it failed) and its open episodes were ended
    gate: MotionGate | None = None  # skips the detector where nothing moved (edge.motion); None: never skips
    last_detections: Detections | None = None  # what a frame the gate skipped is analysed with

    @property
    def state(self) -> str:
        return SourceState.FAILED.value if self.failed else self.source.state.value

    @property
    def detail(self) -> str:
        return self.failed or self.source.detail


@dataclass
class RunStats:
    frames_decoded: int = 0
    frames_analysed: int = 0
    events: int = 0
    evidence: int = 0
    rechecks: int = 0
    detector_errors: int = 0  # batches skipped because the detector raised; also logged
    detections_skipped: int = 0  # frames analysed with their camera's last detections (the motion gate)
    commands_dropped: int = 0  # central commands dropped because the queue was full; also logged
    publish_errors: int = 0  # messages the publisher refused (spool full / unwritable); also logged
    local_write_errors: int = 0  # --events-out lines that could not be written (full disk); also logged
    batches: int = 0
    seconds: float = 0.0
    detect_s: float = 0.0  # summed over inference workers: per-call latency x calls, can exceed `seconds`
    track_s: float = 0.0
    analyse_s: float = 0.0  # zones + static-object model + rules + episode timers (SceneAnalyzer.update)
    evidence_s: float = 0.0
    per_camera: dict[str, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)
