"""The edge worker: cameras → sampled frames → batched detection → tracking → zone analysis → events.

One `Pipeline` runs every camera of a worker. Each camera's source decodes in its own thread and keeps
only sampled frames; the pipeline thread takes whatever frames are ready from all cameras and hands the
batch to the detector, then per frame: tracker → `SceneAnalyzer.update` → for each `ZoneEvent`: evidence
pictures (start / end) → `EvidenceMessage`s, then the `EventMessage` that references them, through the
publisher (spooled MQTT) and/or a JSON-lines file.

Detection runs on `inference_workers` threads (the detector releases the GIL while it infers), each taking
a share of the batch, and the next batches are being detected while this one is tracked and analysed;
batches are analysed strictly in the order they were taken, so every camera's frames reach its tracker and
analyser in stream order. On a CPU box, several single-threaded inferences at once give more frames per
second than one inference spread over all cores (less synchronisation), and the analysis fills the cores'
idle moments. Central commands (recheck, reload_zones, set_fps) arrive on the publisher's thread and are
applied between batches. While it runs, Python's thread switch interval is cut from 5 ms to
`gil_switch_interval_ms`: a worker whose detector call returned would otherwise wait up to 5 ms for the GIL
while the pipeline thread analyses, its core idle (measured in BENCHMARKS.md).

Times: analysis runs on stream seconds (file position, or monotonic arrival for live sources), so the dwell
and clear timers never see the wall clock. Messages carry unix seconds: for files the wall-clock start of
the run plus the video time (and `video_ts`, seconds from the start of the video); for live sources the
arrival time. Both go through `clock` (`edge.clock.WallClock`), re-read for every batch, so an NTP step
after boot moves the stamps with it (and is logged) instead of mis-stamping everything until a restart.

Failures that must not stop the worker: a camera's reader reconnects with capped backoff (edge.sources);
a detector call that raises skips that batch (counted in `RunStats.detector_errors`, logged for the first
and every 100th); a recheck that its camera cannot judge in `recheck_timeout_s` is answered `unknown`;
central commands wait in a queue of `command_queue_size`, past which the oldest is dropped and logged.

Parts kept in their own modules: the camera record and run counters (`edge.camera`), central's commands
(`edge.camera_commands`), the heartbeat and status (`edge.heartbeat`), the savings (`edge.savings`), the
`--events-out` file (`edge.events_out`).
"""

from __future__ import annotations

import itertools
import logging
import queue
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from edge.analyzer import SceneAnalyzer
from edge.bounded import put_dropping_oldest
from edge.camera import Camera, MessageSink, RunStats
from edge.camera_commands import CameraCommands
from edge.clock import WallClock
from edge.drone import DroneEvent, drone_for, sighting_event
from edge.events import ZoneEvent
from edge.events_out import EventsOut
from edge.evidence import EvidenceOptions, EvidenceWriter
from edge.failures import log_some
from edge.heartbeat import Heartbeat
from edge.lifecycle import CAMERA_FAILED, END_OF_STREAM, STOPPED, VIEW_MOVED
from edge.proposals import propose
from edge.recheck import Rechecks
from edge.reference_store import ReferenceStore
from edge.sampler import Sampler
from edge.savings import detections_for, motion_gate, static_params, to_detect, with_skipped
from edge.settings import EdgeSettings
from edge.sources import Frame, SourceOptions, SourceState, open_source
from edge.tracker import ByteTracker
from edge.view_reference import ViewReferences, moved_while_down, view_key
from models.base import Detector
from models.detections import Detections
from wire.schema import (
    MAX_BOXES,
    MAX_EVIDENCE_ITEMS,
    CommandMessage,
    EventMessage,
    EvidenceMessage,
    GeoPoint,
    model_name,
)
from zones.fit import ZoneFitError
from zones.io import load_zones
from zones.model import CameraZones

log = logging.getLogger(__name__)


class Pipeline(CameraCommands, Heartbeat):
    """`Pipeline(settings).start()` opens models, zones and sources (raising ModelError / ZoneFileError /
    SourceError); `run()` processes until every file source has ended or `stop()` is called."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        detectors: dict[str, Detector] | None = None,
        publisher: MessageSink | None = None,
        progress: bool = False,
        clock: WallClock | None = None,
    ) -> None:
        if not settings.cameras:
            raise ValueError("no cameras configured: pass --source/--zones or list cameras in the settings")
        self.settings = settings
        self.detectors: dict[str, Detector] = dict(detectors or {})
        self.publisher = publisher
        self.progress = progress
        self.cameras: dict[str, Camera] = {}
        self.clock = clock or WallClock()
        self.commands: queue.Queue[CommandMessage] = queue.Queue(maxsize=settings.command_queue_size)
        self.rechecks = Rechecks(settings.recheck_frames, timeout_s=settings.recheck_timeout_s,
                                 monotonic=self.clock.monotonic)
        self.stats = RunStats()
        self.evidence = EvidenceWriter(
            site_id=settings.site_id,
            out_dir=settings.evidence_dir,
            options=EvidenceOptions(
                quality=settings.evidence.quality,
                max_side=settings.evidence.max_side,
                max_bytes=settings.evidence.max_bytes,
                crops=settings.evidence.crops,
                clean_copy=settings.evidence.clean_copy,
            ),
        )
        # live cameras keep what they learned of their empty zones across restarts (edge/reference_store.py)
        self.references = (
            ReferenceStore(settings.reference_dir, max_age_s=settings.reference_max_age_s,
                           interval_s=settings.reference_interval_s)
            if settings.reference_dir is not None and settings.reference_max_age_s > 0
            else None
        )
        self.views = ViewReferences(settings.reference_dir) if settings.reference_dir is not None else None
        self._stop = threading.Event()
        self._frame_ready = threading.Event()
        self._events_out: EventsOut | None = None
        self._started = False
        self._last_status = 0.0
        self._status_due = False
        self._status_analysed = 0
        self._bar = None
        self._next_camera = 0  # where the next batch starts taking frames
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: deque[tuple[list[tuple[Camera, Frame]], list[int], list[Future]]] = deque()

    # ------------------------------------------------------------------ start-up
    def start(self) -> Pipeline:
        s = self.settings
        for cam in s.cameras:
            key = cam.model or s.model
            if key not in self.detectors:
                self.detectors[key] = self._load_detector(key)
        for cam in s.cameras:
            zones = load_zones(cam.zones) if cam.zones is not None else CameraZones(cam.id, s.site_id, None, [])
            sampler = Sampler(cam.fps or s.analysis_fps)
            options = SourceOptions(
                realtime=s.realtime,
                loop=s.loop_files,
                queue_size=s.queue_size,
                stall_timeout_s=s.stall_timeout_s,
                backoff_max_s=s.backoff_max_s,
            )
            source = open_source(
                cam.source,
                camera_id=cam.id,
                kind=cam.kind,
                sampler=sampler,
                options=options,
                image_fps=cam.fps or s.analysis_fps,
                telemetry=cam.telemetry,
            )
            analyzer, key = self._analyzer(zones), view_key(cam.id, cam.preset)  # a PTZ camera's: per preset
            if self.references is not None and source.live:
                analyzer.saved_reference = self.references.load(key)
            view = self.views.load(key, zones) if self.views is not None and source.live else None
            self.cameras[cam.id] = Camera(cam, zones, source, sampler, analyzer, self._tracker(), cam.model or s.model,
                                          drone=drone_for(cam, s.rule_config(zones.rules)), reference=view,
                                          reference_unverified=view is not None, gate=motion_gate(s.savings, cam.kind))
        if s.events_out is not None:  # a fresh file by default: a clip run twice must not list its events twice
            self._events_out = EventsOut(s.events_out, append=s.events_out_append)
        if self.publisher is not None:
            self.publisher.on_command(self.submit_command)
        for camera in self.cameras.values():
            camera.source.frame_ready = self._frame_ready
            camera.source.clock = self.clock
            camera.source.start()
        self._started = True
        return self

    def _analyzer(self, zones: CameraZones) -> SceneAnalyzer:
        return SceneAnalyzer(zones, self.settings.rule_config(zones.rules), static_params(self.settings.savings))

    def _tracker(self) -> ByteTracker:
        t = self.settings.tracker
        return ByteTracker(
            lost_track_buffer_s=t.lost_track_buffer_s,
            minimum_consecutive_frames=t.minimum_consecutive_frames,
            track_activation_threshold=t.track_activation_threshold,
        )

    # ------------------------------------------------------------------ control
    def submit_command(self, command: CommandMessage) -> None:
        """Thread-safe: queue a central command; it is applied between batches. A full queue (the pipeline
        stuck, e.g. in a detector call) drops its oldest command, logged: central sees no answer to it."""
        old = put_dropping_oldest(self.commands, command)
        if old is not None:
            self.stats.commands_dropped += 1
            log_some(log, self.stats.commands_dropped, "command queue full (%d): dropped %s %s for camera %s "
                     "(%d dropped so far)", self.commands.maxsize, old.cmd, old.command_id, old.camera_id,
                     self.stats.commands_dropped)

    def stop(self) -> None:
        self._stop.set()
        self._frame_ready.set()

    @property
    def stopped(self) -> bool:
        """True once `stop()` was called (signal, command or caller), not when files simply ended."""
        return self._stop.is_set()

    def close(self) -> None:
        for camera in self.cameras.values():
            camera.source.stop()
            self._save_reference(camera, final=True)
        if self._events_out is not None:
            self._events_out.close()
            self._events_out = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # ------------------------------------------------------------------ main loop
    def run(self, max_seconds: float | None = None, max_frames: int | None = None) -> RunStats:
        """Process until every file source ended, `stop()`, `max_seconds` of wall time or `max_frames`
        analysed frames."""
        if not self._started:
            self.start()
        t0 = time.perf_counter()
        self._open_bar()
        # one batch more than workers: a worker that finishes finds the next batch queued, never idles
        depth = self.settings.workers + 1
        self._pool = ThreadPoolExecutor(max_workers=self.settings.workers, thread_name_prefix="detect")
        switch_interval = sys.getswitchinterval()
        if self.settings.gil_switch_interval_ms > 0:
            sys.setswitchinterval(self.settings.gil_switch_interval_ms / 1000)
        try:
            while not self._stop.is_set():
                self._apply_commands()
                batch = self._gather() if len(self._inflight) < depth else []
                if batch:
                    self._inflight.append((batch, *self._submit(batch)))
                if self._inflight and (len(self._inflight) >= depth or not batch):
                    self._finish_oldest()
                elif not batch and not self._inflight:
                    if all(c.source.finished or c.failed for c in self.cameras.values()):
                        break
                    self._frame_ready.wait(0.1)
                    self._frame_ready.clear()
                self._end_finished_cameras()
                self._heartbeat()
                if max_frames is not None and self.stats.frames_analysed >= max_frames:
                    break
                if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                    break
            while self._inflight:  # frames already taken from their sources are analysed, not dropped
                self._finish_oldest()
        finally:
            sys.setswitchinterval(switch_interval)
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._inflight.clear()
            self._end_open_episodes()
            self.stats.seconds = time.perf_counter() - t0
            self._heartbeat(force=True)
            self.stats.frames_decoded = sum(c.source.decoded for c in self.cameras.values())
            self.stats.per_camera = {
                cid: {**c.source.stats(), "state": c.state, "detail": c.detail, "analysed": c.analysed,
                      "events": c.events, "reference_restored": len(c.analyzer.restored_zones),
                      "frame_size_changes": c.analyzer.frame_size_changes}
                for cid, c in self.cameras.items()
            }
            self.close()
        return self.stats

    def _gather(self) -> list[tuple[Camera, Frame]]:
        """Up to batch_size ready frames, round-robin from where the last batch stopped, so no camera
        starves the others when more cameras have frames than a batch holds."""
        batch: list[tuple[Camera, Frame]] = []
        cameras = list(self.cameras.values())
        limit, n = self.settings.batch_size, len(cameras)
        progressed = True
        while progressed and len(batch) < limit:
            progressed = False
            for k in range(n):
                camera = cameras[(self._next_camera + k) % n]
                if camera.failed:
                    continue
                frame = camera.source.read()
                if frame is not None:
                    batch.append((camera, frame))
                    progressed = True
                    if len(batch) >= limit:
                        self._next_camera = (self._next_camera + k + 1) % n
                        return batch
        return batch

    def _detect(self, batch: list[tuple[Camera, Frame]]) -> tuple[list[Detections], float]:
        """Detections for every frame of `batch` (one detector call per model); runs on a worker thread."""
        groups: dict[str, list[int]] = {}
        for i, (camera, _) in enumerate(batch):
            groups.setdefault(camera.detector_key, []).append(i)
        results: list[Detections | None] = [None] * len(batch)
        t = time.perf_counter()
        for key, idx in groups.items():
            found = self.detectors[key].detect([batch[i][1].image for i in idx])
            for i, dets in zip(idx, found, strict=True):
                results[i] = dets
        assert all(r is not None for r in results)
        return results, time.perf_counter() - t  # type: ignore[return-value]

    def _submit(self, batch: list[tuple[Camera, Frame]]) -> tuple[list[int], list[Future]]:
        """The frames the motion gate lets through (their indices) in one contiguous chunk per worker, so that
        all of them work on it at once."""
        assert self._pool is not None
        wanted = to_detect(batch, [self.rechecks.pending(c.settings.id) > 0 for c, _ in batch])
        todo = [batch[i] for i in wanted]
        n = min(self.settings.workers, len(todo))
        bounds = [round(i * len(todo) / n) for i in range(n + 1)] if n else [0]
        return wanted, [self._pool.submit(self._detect, todo[a:b]) for a, b in itertools.pairwise(bounds)]

    def _finish_oldest(self) -> None:
        batch, wanted, futures = self._inflight.popleft()
        results: list[Detections] = []
        failed: BaseException | None = None
        for future in futures:
            try:
                found, seconds = future.result()
            except Exception as exc:  # noqa: BLE001 -- one bad batch must not stop every camera
                failed = exc
                continue
            results.extend(found)
            self.stats.detect_s += seconds
        if failed is not None:
            self.stats.detector_errors += 1
            for camera, _ in batch:  # the last detections its gate counted on are lost: detect the next frame
                if camera.gate is not None:
                    camera.gate.forget()
            cams = sorted({camera.settings.id for camera, _ in batch})
            if self.stats.detector_errors == 1:
                log.error("detector failed on a batch of %d frames (cameras %s); the batch is skipped",
                          len(batch), ", ".join(cams), exc_info=failed)
            else:
                log_some(log, self.stats.detector_errors, "detector failed on a batch of %d frames (cameras %s; "
                         "%d batches skipped so far): %s: %s", len(batch), ", ".join(cams),
                         self.stats.detector_errors, type(failed).__name__, failed)
            return
        self._analyse_batch(batch, with_skipped(len(batch), wanted, results))

    def _analyse_batch(self, batch: list[tuple[Camera, Frame]], results: list[Detections | None]) -> None:
        self.stats.batches += 1
        self.stats.detections_skipped += sum(r is None for r in results)
        self.clock.sync()  # a step of the system clock moves the stamps of this batch's messages
        for (camera, frame), dets in zip(batch, results, strict=True):
            self.analyse(camera, frame, detections_for(camera, dets))
        if self._bar is not None:
            self._bar.update(sum(c.source.decoded for c in self.cameras.values()) - self._bar.n)
            self._bar.set_postfix(
                analysed=self.stats.frames_analysed, events=self.stats.events, refresh=False
            )

    def analyse(self, camera: Camera, frame: Frame, detections: Detections) -> list[ZoneEvent]:
        """Track, analyse and publish one frame's detections (public for tests and benchmarks)."""
        if camera.failed:  # frames of a camera given up while they were being detected
            return []
        t = time.perf_counter()
        tracked = camera.tracker.update(detections, frame.ts)
        t_track = time.perf_counter()
        if camera.drone is not None:
            self._analyse_flight(camera, frame, tracked)
            return []
        if camera.held:  # its zones are off the shop fronts: nothing is raised until they are reloaded
            camera.analysed += 1
            camera.last_frame = frame
            self.stats.frames_analysed += 1
            return []
        try:
            events = camera.analyzer.update(frame.image, frame.ts, tracked)
        except ZoneFitError as exc:
            self._fail_camera(camera, str(exc))
            return []
        self._save_reference(camera)
        key = view_key(camera.settings.id, camera.settings.preset)
        moved = camera.reference_unverified and moved_while_down(key, camera.zones, camera.reference, frame.image)
        camera.reference_unverified = False
        if camera.analyzer.view_changes > camera.view_changes_seen or moved:
            camera.view_changes_seen = camera.analyzer.view_changes
            camera.view_changed_at = camera.source.to_unix(frame.ts)
            log.warning("camera %s: its view changed (moved, turned or zoomed?): check that its zones still fit "
                        "the shop fronts, then reload them", camera.settings.id)
            self._status_due = True  # say so now
            events = self._realign(camera, frame, events)
        elif camera.reference is None and camera.view_changed_at is None:
            self._take_reference(camera, frame.image)
        camera.analysed += 1
        camera.last_frame = frame
        self.stats.frames_analysed += 1
        self.stats.track_s += t_track - t
        self.stats.analyse_s += time.perf_counter() - t_track
        for event in events:
            self._emit(camera, frame, event)
        if self.rechecks.pending(camera.settings.id):
            for verdict in self.rechecks.observe(
                camera.settings.id, camera.analyzer.assess, frame.image, frame.ts
            ):
                self._answer_recheck(camera, verdict)
        return events

    def _realign(self, camera: Camera, frame: Frame, events: list[ZoneEvent]) -> list[ZoneEvent]:
        """The view check fired: how did the view move? Not at all (light, scene): the zones still fit, the
        warning is withdrawn. Moved: realigned zones are proposed to central and the camera holds its events
        (its open episodes end) until its zones are reloaded. Returns the events it may still raise."""
        cid = camera.settings.id
        if camera.reference is None:
            result, proposal, why = None, None, "no reference view to realign from: redraw the zones"
        else:
            result, proposal = propose(camera.zones, camera.reference, frame.image, camera.view_changed_at or 0.0)
            why = result.reason
        if result is not None and result.usable and not result.moved:
            log.info("camera %s: %s; its zones still fit", cid, why)
            camera.view_changed_at = None
            return events
        camera.proposal = proposal
        camera.held = f"{why}; no events until its zones are accepted or redrawn"
        if proposal is not None:
            log.warning("camera %s: %s (%d features agree): realigned zones proposed to central; no events until "
                        "they are accepted or the zones redrawn", cid, why, proposal.inliers)
        else:
            log.warning("camera %s: %s; no events until its zones are redrawn", cid, why)
        for event in events:  # what this frame raised still goes out, then its open episodes end
            self._emit(camera, frame, event)
        ended = [e for t in camera.analyzer.trackers.values() if (e := t.close(frame.ts, VIEW_MOVED)) is not None]
        for event in ended:
            self._emit(camera, frame, event)
        return []

    def _analyse_flight(self, camera: Camera, frame: Frame, tracked: Detections) -> None:
        """A drone frame: its goods-like detections placed on the ground and grouped per shop."""
        camera.analysed += 1
        camera.last_frame = frame
        self.stats.frames_analysed += 1
        pose = frame.telemetry.get("pose")
        for event in camera.drone.update(frame.size, frame.ts, pose, tracked):
            self._emit_sighting(camera, frame, event)

    def _emit_sighting(self, camera: Camera, frame: Frame, event: DroneEvent, reason: str | None = None) -> None:
        zone_event, geo = sighting_event(event, reason)
        self._emit(camera, frame, zone_event, geo=geo)

    def _save_reference(self, camera: Camera, *, final: bool = False) -> None:
        bank = camera.analyzer.static_bank
        if self.references is None or not camera.source.live or bank is None:
            return
        key = view_key(camera.settings.id, camera.settings.preset)
        if final or self.references.due(key, self.clock.monotonic()):
            self.references.save(key, bank.snapshot())

    def _take_reference(self, camera: Camera, image: np.ndarray | None) -> None:
        """The view its zones are drawn for, kept on disk for a live camera (edge/view_reference.py)."""
        camera.reference, camera.reference_unverified = (None if image is None else image.copy()), False
        if camera.reference is not None and self.views is not None and camera.source.live:
            self.views.save(view_key(camera.settings.id, camera.settings.preset), camera.zones, camera.reference)

    # ------------------------------------------------------------------ output
    def _publish(self, msg: Any) -> None:
        if self.publisher is None:
            return
        try:
            self.publisher.publish(msg)
        except Exception as exc:  # noqa: BLE001 -- e.g. a full spool: keep analysing, say so loudly
            self.stats.publish_errors += 1
            log.error("camera %s: %s %s not published: %s", msg.camera_id, msg.type, msg.message_id, exc)

    def _publish_all(self, msgs: list[Any]) -> None:
        """Spool the evidence and its event in one transaction; if that fails (e.g.
        the spool is full even after dropping old evidence), one by one, so the small event may still fit."""
        if self.publisher is not None and len(msgs) > 1:
            try:
                self.publisher.publish_many(msgs)
                return
            except Exception as exc:  # noqa: BLE001
                log.warning("spooling %d messages together failed (%s); trying one by one", len(msgs), exc)
        for msg in msgs:
            self._publish(msg)

    def _emit(self, camera: Camera, frame: Frame, event: ZoneEvent, analyzer: SceneAnalyzer | None = None,
              geo: GeoPoint | None = None) -> None:
        """Publish one phase (with its pictures at start and end). `analyzer`: the one that raised the event
        when it is no longer the camera's (the episodes a zones reload ended, whose zone may be gone)."""
        source = camera.source
        unix = source.to_unix(event.ts)
        video_ts = None if source.live else max(0.0, event.ts)
        boxes = np.asarray(event.boxes, np.float32).reshape(-1, 4)[:MAX_BOXES]
        evidence: list[EvidenceMessage] = []
        paths: list[Path] = []
        if event.phase in ("start", "end"):
            t = time.perf_counter()
            bundle = self.evidence.make(
                frame.image,
                camera_id=camera.settings.id,
                event_id=event.event_id,
                unix_ts=unix,
                polygon=None if event.zone_id is None
                else (analyzer or camera.analyzer).polygon(event.zone_id, frame.size),
                boxes=boxes,
                title=f"zone {event.zone_id or '-'}  shop {event.shop_id or '-'}  {event.violation}  {event.phase}",
                name=f"{event.seq}-{event.phase}",
                video_ts=video_ts,
            )
            evidence, paths = bundle.messages[:MAX_EVIDENCE_ITEMS], bundle.paths
            self.stats.evidence += len(evidence)
            self.stats.evidence_s += time.perf_counter() - t
        msg = EventMessage(
            site_id=self.settings.site_id,
            camera_id=camera.settings.id,
            event_id=event.event_id,
            seq=event.seq,
            zone_id=event.zone_id,
            shop_id=event.shop_id,
            violation=event.violation,
            phase=event.phase,
            ts=unix,
            video_ts=video_ts,
            score=min(1.0, max(0.0, float(event.score))),
            boxes=[[round(float(v), 1) for v in b] for b in boxes],
            evidence=[m.ref() for m in evidence],
            source_kind="drone" if source.kind == "drone" else "fixed",
            geo=geo or frame.geo,
            end_reason=event.reason if event.phase == "end" else None,
            model=model_name(camera.detector_key),
        )
        self._publish_all([*evidence, msg])  # evidence first: the event that references it must find it stored
        camera.events += 1
        self.stats.events += 1
        log.info(
            "camera %s zone %s %s %s at %.1f s",
            camera.settings.id,
            event.zone_id,
            event.violation,
            event.phase,
            event.ts,
            extra={"camera_id": camera.settings.id, "zone_id": event.zone_id, "event_id": msg.event_id},
        )
        if self._events_out is not None:
            self._events_out.write(msg, video_ts, paths)
            self.stats.local_write_errors = self._events_out.write_errors

    # ------------------------------------------------------------------ episodes the edge stops watching
    def _end_episodes(self, camera: Camera, reason: str) -> int:
        """End the camera's open episodes now, with `reason`, so that central never holds an episode nothing
        will end (a restart raises what is still there as a new episode). Returns how many were ended."""
        frame = camera.last_frame
        if frame is None:  # nothing analysed, nothing open
            return 0
        if camera.drone is not None:
            flight = camera.drone.finish()
            for sighting in flight:
                self._emit_sighting(camera, frame, sighting, reason)
            return len(flight)
        ended = [e for t in camera.analyzer.trackers.values() if (e := t.close(frame.ts, reason)) is not None]
        for event in ended:
            self._emit(camera, frame, event)
        if ended:
            log.info("camera %s: %d open episodes ended (%s)", camera.settings.id, len(ended), reason)
        return len(ended)

    def _end_finished_cameras(self) -> None:
        """A file that was read to its end (while other cameras go on): once its last frames are analysed, its
        open episodes end."""
        busy: set[int] | None = None
        for camera in self.cameras.values():
            if not camera.episodes_ended and not camera.failed and camera.source.finished:
                if busy is None:
                    busy = {id(c) for batch, *_ in self._inflight for c, _ in batch}
                if id(camera) in busy:
                    continue
                camera.episodes_ended = True
                ended = camera.source.state is SourceState.ENDED
                self._end_episodes(camera, END_OF_STREAM if ended else CAMERA_FAILED)

    def _end_open_episodes(self) -> None:
        """When `run` returns: end every episode still open (end of file, or a stop)."""
        for camera in self.cameras.values():
            if camera.episodes_ended or camera.failed:
                continue
            camera.episodes_ended = True
            state = camera.source.state
            reason = (END_OF_STREAM if state is SourceState.ENDED and camera.source.finished
                      else CAMERA_FAILED if state is SourceState.FAILED else STOPPED)
            try:
                self._end_episodes(camera, reason)
            except Exception:  # noqa: BLE001 -- run() is ending (maybe on an error): report, don't mask it
                log.exception("camera %s: open episodes not ended", camera.settings.id)

    def _fail_camera(self, camera: Camera, reason: str) -> None:
        """Give one camera up (its zones do not fit its frames): end its open episodes, stop its source and
        report it failed with `reason`; the other cameras go on."""
        log.error("camera %s: given up: %s", camera.settings.id, reason)
        self._end_episodes(camera, CAMERA_FAILED)
        camera.failed = reason[:500]
        camera.episodes_ended = True
        camera.source.stop(timeout=1.0)
        self._status_due = True

    def _open_bar(self) -> None:
        if not self.progress:
            return
        from tqdm import tqdm

        files = [c.source for c in self.cameras.values() if not c.source.live]
        total = sum(s.frame_count for s in files) if files and all(s.frame_count for s in files) else None
        desc = next(iter(self.cameras)) if len(self.cameras) == 1 else f"{len(self.cameras)} cameras"
        import sys

        tty = sys.stderr.isatty()
        self._bar = tqdm(
            total=total,
            unit="frame",
            desc=desc,
            dynamic_ncols=True,
            smoothing=0.1,
            mininterval=0.5 if tty else 15.0,
        )
