"""`doorline-edge check`: what a deployer runs on a new box before starting the service.

One line per check, `ok` or `FAIL` with the reason, exit 1 on any failure: the model loads (on the best
execution provider this box has) and runs once; every camera opens and gives a frame; each camera's zones
fit that frame; the broker accepts the edge's credentials; the spool (an SQLite file, `spool_path`) can be
opened or created, without the check creating it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.settings import CameraSettings, EdgeSettings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def check_model(settings: EdgeSettings) -> Iterator[Check]:
    from models.base import ModelError
    from models.registry import load_detector

    for key in dict.fromkeys([settings.model, *(c.model for c in settings.cameras if c.model)]):
        name = f"model {key}"
        try:
            t = time.perf_counter()
            detector = load_detector(key, models_dir=settings.models_dir, backend=settings.backend,
                                     conf=settings.conf, device=settings.device, threads=settings.inference_threads)
            detector.detect([np.full((480, 640, 3), 114, np.uint8)])
            load_s = time.perf_counter() - t
        except (ModelError, OSError, ValueError, RuntimeError) as exc:
            yield Check(name, False, str(exc))
            continue
        providers = getattr(detector, "providers", None) or ["cpu"]
        yield Check(name, True, f"{len(detector.class_names)} classes on {providers[0]}, loaded and ran in "
                                f"{load_s:.1f} s")


def _first_frame(cam: CameraSettings, settings: EdgeSettings, timeout_s: float):
    from edge.sampler import Sampler
    from edge.sources import open_source
    from edge.sources.source import SourceOptions

    fps = cam.fps or settings.analysis_fps
    source = open_source(cam.source, camera_id=cam.id, kind=cam.kind, sampler=Sampler(fps),
                         options=SourceOptions(stall_timeout_s=timeout_s), image_fps=fps, telemetry=cam.telemetry)
    source.start()
    try:
        return source.read(timeout=timeout_s), source.state
    finally:
        source.stop(timeout=2)


def check_camera(cam: CameraSettings, settings: EdgeSettings, timeout_s: float = 10.0) -> Iterator[Check]:
    from edge.sources import SourceError
    from zones.check import check_file
    from zones.fit import ZoneFitError, check_fit
    from zones.io import ZoneFileError, load_zones

    try:
        frame, state = _first_frame(cam, settings, timeout_s)
    except (SourceError, OSError, ValueError) as exc:
        yield Check(f"camera {cam.id}", False, f"cannot open {cam.source}: {exc}")
        return
    if frame is None:
        yield Check(f"camera {cam.id}", False, f"no frame from {cam.source} within {timeout_s:g} s (state {state})")
        return
    w, h = frame.size
    yield Check(f"camera {cam.id}", True, f"{w}x{h} frame from {cam.source}")
    name = f"zones {cam.id}"
    if cam.zones is None:
        yield Check(name, True, f"none: placed by the shop footprints in {cam.footprints}")
        return
    problems = check_file(cam.zones)
    if problems:
        yield Check(name, False, "; ".join(str(p) for p in problems))
        return
    try:
        zones = load_zones(cam.zones)
        check_fit(zones, (w, h))
    except (ZoneFileError, ZoneFitError) as exc:
        yield Check(name, False, str(exc))
        return
    drawn = "x".join(map(str, zones.frame_size)) if zones.frame_size else "these frames"
    yield Check(name, True, f"{len(zones.zones)} zones drawn for {drawn} fit the {w}x{h} frame")


def check_broker(settings: EdgeSettings, timeout_s: float = 10.0) -> Check:
    from wire.mqtt import mqtt_client

    m = settings.mqtt
    name = f"broker {m.host}:{m.port}"
    if not settings.mqtt_enabled:
        return Check(name, True, "publishing is off (mqtt_enabled: false)")
    done = threading.Event()
    result: dict[str, str] = {}

    def on_connect(client, userdata, flags, reason, properties) -> None:  # noqa: ARG001
        result["reason"] = str(reason)
        result["failure"] = "1" if reason.is_failure else ""
        done.set()

    client = mqtt_client(m, client_id=f"{settings.edge_id}-check")
    client.on_connect = on_connect
    try:
        client.connect(m.host, m.port, keepalive=m.keepalive_s)
    except (OSError, ValueError) as exc:
        return Check(name, False, f"cannot connect: {exc}")
    client.loop_start()
    try:
        if not done.wait(timeout_s):
            return Check(name, False, f"no answer within {timeout_s:g} s")
    finally:
        client.disconnect()
        client.loop_stop()
    who = f"as {m.username}" if m.username else "anonymously"
    if result["failure"]:
        return Check(name, False, f"refused {who}: {result['reason']}")
    tls = "TLS" if m.tls_ca else "no TLS"
    return Check(name, True, f"accepted {who} ({tls})")


def check_spool(settings: EdgeSettings) -> Check:
    """`spool_path` is the spool's SQLite file: its directory must be writable (the file, its WAL and shm live
    there) and an existing file must be a database. The check creates the directory but never the file, so
    the worker still creates it with its own page size."""
    path = Path(settings.spool_path)
    name = f"spool {path}"
    if path.is_dir():
        return Check(name, False, "is a directory; spool_path names the spool's SQLite file (e.g. .../spool.db)")
    probe = path.parent / ".doorline-check.db"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(probe) as db:
            db.execute("create table if not exists t (x)")
            db.execute("insert into t values (1)")
        probe.unlink()
    except (OSError, sqlite3.Error) as exc:
        return Check(name, False, f"its directory {path.parent} is not writable: {exc}")
    if not path.exists():
        return Check(name, True, "writable (the worker creates it)")
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
        try:
            depth = db.execute("select count(*) from spool").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            depth = 0  # an empty database: the worker adds its tables
        finally:
            db.close()
    except sqlite3.Error as exc:
        return Check(name, False, f"cannot be opened as the spool: {exc}")
    return Check(name, True, f"writable, {depth} messages waiting")


def run_checks(settings: EdgeSettings, *, timeout_s: float = 10.0) -> list[Check]:
    checks = list(check_model(settings))
    for cam in settings.cameras:
        checks.extend(check_camera(cam, settings, timeout_s))
    checks.append(check_broker(settings, timeout_s))
    checks.append(check_spool(settings))
    return checks
