"""Central's commands to an edge worker's cameras, applied by the pipeline thread between batches: recheck
(answered with a verdict and its evidence picture), set_fps, and reload_zones (the zones file re-read, or
zones sent by central checked and written over it; a model named in the reload switched to, the previous one
kept loaded for rollback). `CameraCommands` is a part of `edge.pipeline.Pipeline`, kept apart because it is
the one place where central changes what a running camera does."""

from __future__ import annotations

import logging
import queue
from typing import TYPE_CHECKING

import numpy as np

from edge.camera import Camera
from edge.recheck import RecheckVerdict
from edge.zones_update import ZonesRefused, check_document, write_zones
from models.base import Detector, ModelError
from wire.schema import MAX_EVIDENCE_ITEMS, CommandMessage, RecheckResult, recheck_evidence_owner
from zones.fit import ZoneFitError
from zones.io import load_zones
from zones.model import CameraZones

if TYPE_CHECKING:
    from edge.pipeline import Pipeline

log = logging.getLogger(__name__)


class CameraCommands:
    """The command half of the pipeline (mixed into `Pipeline`, whose state it uses)."""

    def _apply_commands(self: Pipeline) -> None:
        while True:
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                return
            camera = self.cameras.get(cmd.camera_id)
            if camera is None:
                log.warning("command %s for unknown camera %s ignored", cmd.cmd, cmd.camera_id)
                continue
            if cmd.cmd == "recheck":
                self.stats.rechecks += 1
                if camera.held:  # its zones are off the shop fronts: it cannot judge one
                    self._answer_recheck(camera, RecheckVerdict(cmd, "unknown", 0.0, np.zeros((0, 4), np.float32),
                                                                None, None, f"camera {cmd.camera_id}: {camera.held}"))
                    continue
                for verdict in self.rechecks.add(cmd):
                    self._answer_recheck(camera, verdict)
            elif cmd.cmd == "set_fps":
                camera.sampler.set_fps(cmd.fps)
                log.info("camera %s: analysis rate set to %s fps", cmd.camera_id, cmd.fps)
            elif cmd.cmd == "reload_zones":
                if cmd.model is not None:
                    self._switch_model(camera, cmd.model)
                if cmd.zones is not None:
                    self._zones_from_central(camera, cmd)
                else:
                    self._reload_zones(camera)

    def _load_detector(self: Pipeline, key: str) -> Detector:
        from models.registry import load_detector

        s = self.settings
        return load_detector(key, models_dir=s.models_dir, backend=s.backend, conf=s.conf, device=s.device,
                             threads=s.inference_threads, max_batch=s.batch_size)

    def _switch_model(self: Pipeline, camera: Camera, key: str) -> bool:
        """Central's reload named a model: the camera runs it from its next batch on. The previous detector stays
        loaded (rollback = a reload naming it again, instant); a model that does not load changes nothing."""
        if key == camera.detector_key:
            return True
        if key not in self.detectors:
            try:
                self.detectors[key] = self._load_detector(key)
            except ModelError as exc:
                log.error("camera %s: model %s not loaded, keeping %s: %s", camera.settings.id, key,
                          camera.detector_key, exc)
                return False
        camera.previous_detector_key, camera.detector_key = camera.detector_key, key
        if camera.gate is not None:  # the new model looks at the next frame, moved or not
            camera.gate.forget()
        log.info("camera %s: now runs model %s (previous %s kept for rollback)", camera.settings.id, key,
                 camera.previous_detector_key)
        return True

    def _zones_from_central(self: Pipeline, camera: Camera, cmd: CommandMessage) -> None:
        """A reload carrying the camera's zones: checked, written over its zones file (the old one kept as
        .bak), then reloaded. Refused (bad zones, not fitting the frames, no zones file): logged and said in
        the status; the old zones go on."""
        cid = camera.settings.id
        frame = camera.last_frame
        try:
            if camera.settings.zones is None or camera.drone is not None:
                raise ZonesRefused("this camera has no zones file (a drone placed by footprints)")
            zones = check_document(cmd.zones or {}, cid, frame.size if frame is not None else None)
            backup = write_zones(camera.settings.zones, cmd.zones or {})
        except (ZonesRefused, OSError) as exc:
            camera.zones_refused = f"zones from central refused (command {cmd.command_id}): {exc}"[:500]
            log.error("camera %s: %s; keeping the old zones", cid, camera.zones_refused)
            self._status_due = True
            return
        log.info("camera %s: zones from central (command %s) written to %s%s", cid, cmd.command_id,
                 camera.settings.zones, f", the old ones kept in {backup}" if backup else "")
        self._reload_zones(camera, zones)

    def _reload_zones(self: Pipeline, camera: Camera, zones: CameraZones | None = None) -> None:
        if camera.settings.zones is None:  # a drone placed by footprints has no zones to reload
            log.info("camera %s: no zones file to reload", camera.settings.id)
            return
        if zones is None:
            try:
                zones = load_zones(camera.settings.zones)
            except ValueError as exc:  # ZoneFileError: keep the zones we have
                log.error("camera %s: zones not reloaded, keeping the old ones: %s", camera.settings.id, exc)
                return
        old, new = camera.analyzer, self._analyzer(zones)
        frame = camera.last_frame
        try:
            ended = new.take_over(old, frame.ts if frame is not None else 0.0)
        except ZoneFitError as exc:  # drawn for another image: the old zones go on
            log.error("camera %s: zones not reloaded, keeping the old ones: %s", camera.settings.id, exc)
            return
        camera.zones = zones
        camera.analyzer = new
        camera.view_changed_at, camera.view_changes_seen = None, new.view_changes  # zones redrawn (or confirmed)
        camera.held, camera.proposal, camera.zones_refused = "", None, ""
        self._take_reference(camera, frame.image if frame is not None else None)  # the view they are drawn for
        self._status_due = True
        kept = sum(1 for k, t in new.trackers.items() if old.trackers.get(k) is t)
        log.info(
            "camera %s: %d zones reloaded from %s (%d zone timers kept, %d open episodes ended)",
            camera.settings.id,
            len(zones.zones),
            camera.settings.zones,
            kept,
            len(ended),
        )
        if frame is not None:  # no frame yet means nothing was analysed, so nothing is open
            for event in ended:
                self._emit(camera, frame, event, analyzer=old)

    def _answer_recheck(self: Pipeline, camera: Camera, verdict: RecheckVerdict) -> None:
        cmd = verdict.command
        refs = []
        unix = camera.source.to_unix(verdict.ts) if verdict.ts is not None else self.clock.now()
        if verdict.frame is not None and cmd.zone_id and cmd.zone_id in camera.analyzer.zones:
            h, w = verdict.frame.shape[:2]
            bundle = self.evidence.make(
                verdict.frame,
                camera_id=camera.settings.id,
                event_id=recheck_evidence_owner(cmd.command_id),
                unix_ts=unix,
                polygon=camera.analyzer.polygon(cmd.zone_id, (w, h)),
                boxes=verdict.boxes,
                title=f"recheck zone {cmd.zone_id}: {verdict.result}",
                name="recheck",
            )
            for msg in bundle.messages[:MAX_EVIDENCE_ITEMS]:
                self._publish(msg)
                refs.append(msg.ref())
        result = RecheckResult(
            site_id=self.settings.site_id,
            camera_id=camera.settings.id,
            command_id=cmd.command_id,
            case_id=cmd.case_id,
            zone_id=cmd.zone_id or "unknown",
            result=verdict.result,
            ts=unix,
            score=verdict.score,
            evidence=refs,
            detail=verdict.detail[:1000],
        )
        self._publish(result)
        log.info(
            "camera %s: recheck of zone %s → %s (%s)",
            camera.settings.id,
            cmd.zone_id,
            verdict.result,
            verdict.detail,
        )
