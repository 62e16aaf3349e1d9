"""`doorline-edge`: run the edge worker, check a model, validate a zones file.

    doorline-edge run --source PATH_OR_URL --zones ZONES_FILE --model MODEL_FILE [--camera-id ID] [--fps N]
                      [--events-out FILE.jsonl] [--evidence-dir DIR] [--no-mqtt]
                      [--realtime | --as-fast-as-possible] [--config FILE] [--models-dir DIR]
                      [--mqtt-host H] [--mqtt-port P] [--mqtt-prefix P] [--site-id S] [--edge-id E]
                      [--spool DIR]
    doorline-edge run --config edge.yaml          # every camera listed in the settings file
    doorline-edge check-model MODEL [--models-dir DIR]
    doorline-edge validate-zones FILE [FILE ...] [--frame-size WxH]
    doorline-edge check --config edge.yaml        # on a new box: model, cameras, zones, broker, spool

Errors in the inputs (missing model, bad zones file, unreadable source, bad settings) print one line on
stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

EXIT_USAGE = 2


class InputError(Exception):
    """Bad user input: reported as one line, exit code 2."""


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"invalid settings: {where}: {first.get('msg')}"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="doorline-edge", description="Doorline edge worker")
    p.add_argument("-v", "--verbose", action="store_true", help="log every event and state change")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="analyse cameras / video files and publish events")
    run.add_argument("--source", help="video file, image folder, rtsp:// or http(s):// URL, usb:N")
    run.add_argument("--zones", type=Path, help="zones file (Doorline YAML/JSON or dev-events clip JSON)")
    run.add_argument("--model", help="detector model file (path, or a name in --models-dir)")
    run.add_argument("--camera-id", help="camera id (default: the zones file's camera id)")
    run.add_argument("--fps", type=float, help="analysis frames per second (default 2)")
    run.add_argument("--events-out", type=Path, help="write every event phase as a JSON line here (a new file)")
    run.add_argument("--append-events", action="store_true", help="append to --events-out instead of replacing it")
    run.add_argument("--evidence-dir", type=Path, help="write evidence JPEGs here")
    run.add_argument("--no-mqtt", action="store_true", help="don't publish (use with --events-out)")
    pace = run.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true", help="play video files at their own fps")
    pace.add_argument(
        "--as-fast-as-possible", action="store_true", help="read video files flat out (default)"
    )
    run.add_argument("--config", type=Path, help="settings YAML (also $DOORLINE_CONFIG)")
    run.add_argument("--models-dir", type=Path, help="where model names are looked up")
    run.add_argument("--kind", choices=["fixed", "drone"], help="source kind (drone: needs telemetry)")
    run.add_argument("--telemetry", type=Path, help="drone telemetry CSV/JSON")
    run.add_argument("--conf", type=float, help="detector confidence threshold")
    run.add_argument("--workers", type=int, help="inferences in flight at once (default: one per core)")
    run.add_argument("--threads", type=int, help="CPU threads per inference (default: cores / workers)")
    run.add_argument("--mqtt-host")
    run.add_argument("--mqtt-port", type=int)
    run.add_argument("--mqtt-prefix")
    run.add_argument("--site-id")
    run.add_argument("--edge-id")
    run.add_argument("--spool", type=Path, help="spool directory for messages not yet acknowledged")
    run.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    run.add_argument("--loop", action="store_true", help="replay video files endlessly (demos, soak tests)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port (docs/OBSERVABILITY.md)")

    cm = sub.add_parser("check-model", help="load a model, run it once on a blank frame, print its classes")
    cm.add_argument("model")
    cm.add_argument("--models-dir", type=Path)

    vz = sub.add_parser("validate-zones", help="check zones files and print a summary")
    vz.add_argument("files", nargs="+", type=Path)
    vz.add_argument("--frame-size", type=_size, metavar="WxH",
                    help="check that the zones fit the camera's frames of this size (e.g. 1920x1080)")

    ck = sub.add_parser("check", help="on a new box: model, every camera and its zones, broker credentials, "
                                      "spool; one line each, exit 1 on any failure")
    ck.add_argument("--config", type=Path, help="settings YAML (also $DOORLINE_CONFIG)")
    ck.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a camera or the broker")
    return p


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1920x1080, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"width and height must be > 0, got {text!r}")
    return w, h


def _settings(args: argparse.Namespace):
    from edge.settings import CameraSettings, EdgeSettings

    overrides: dict[str, Any] = {
        "model": args.model,
        "models_dir": args.models_dir,
        "site_id": args.site_id,
        "edge_id": args.edge_id,
        "analysis_fps": args.fps,
        "evidence_dir": args.evidence_dir,
        "events_out": args.events_out,
        "events_out_append": args.append_events or None,  # unset: the config file decides
        "spool_path": args.spool,
        "conf": args.conf,
        "inference_workers": args.workers,
        "threads": args.threads,
        "metrics_port": args.metrics_port,
    }
    if args.realtime:
        overrides["realtime"] = True
    elif args.as_fast_as_possible:
        overrides["realtime"] = False
    if args.no_mqtt:
        overrides["mqtt_enabled"] = False
    if args.loop:
        overrides["loop_files"] = True
    try:
        settings = EdgeSettings.load(args.config, **overrides)
    except ValidationError:
        raise
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    given = {"host": args.mqtt_host, "port": args.mqtt_port, "prefix": args.mqtt_prefix}
    mqtt = {k: v for k, v in given.items() if v is not None}
    if mqtt:
        settings = settings.model_copy(
            update={"mqtt": settings.mqtt.model_validate({**settings.mqtt.model_dump(), **mqtt})}
        )
    if args.source is not None or args.zones is not None:
        if args.source is None or args.zones is None:
            raise InputError("--source and --zones go together")
        camera_id = args.camera_id or _camera_id_from_zones(args.zones)
        camera = CameraSettings(
            id=camera_id,
            source=args.source,
            zones=args.zones,
            fps=args.fps,
            kind=args.kind or ("drone" if args.telemetry else "fixed"),
            telemetry=args.telemetry,
        )
        settings = settings.model_copy(update={"cameras": [camera]})
    if not settings.cameras:
        raise InputError("nothing to run: pass --source and --zones, or --config with cameras")
    if args.model is None and args.config is None and not _model_from_env():
        raise InputError("no model given: pass --model MODEL_FILE (or set model in --config)")
    return settings


def _model_from_env() -> bool:
    import os

    return bool(os.environ.get("DOORLINE_EDGE_MODEL") or os.environ.get("DOORLINE_CONFIG"))


def _camera_id_from_zones(path: Path) -> str:
    from zones.io import load_zones

    return load_zones(path).camera_id


def _publisher(settings, camera_ids: list[str]):
    if not settings.mqtt_enabled:
        return None
    from edge.publisher import Publisher
    from edge.spool import SpoolError

    try:
        return Publisher(
            settings.mqtt,
            edge_id=settings.edge_id,
            site_id=settings.site_id,
            camera_ids=camera_ids,
            spool_path=settings.spool_path,
            spool_max_bytes=settings.spool_max_bytes,
            receipts=settings.receipts,
            receipt_timeout_s=settings.receipt_timeout_s,
            verify_central=settings.verify_central,
        )
    except SpoolError as exc:  # e.g. a spool directory that cannot be written: one line, no traceback
        raise InputError(f"{exc} (set spool_path to a writable place)") from exc


def cmd_run(args: argparse.Namespace) -> int:
    from edge.pipeline import Pipeline
    from edge.sources import SourceError
    from models.base import ModelError
    from zones.io import ZoneFileError

    settings = _settings(args)
    publisher = _publisher(settings, [c.id for c in settings.cameras])
    pipeline = Pipeline(settings, publisher=publisher, progress=not args.no_progress)
    try:
        pipeline.start()  # input errors surface here, before anything is published
    except (ValidationError, ModelError, ZoneFileError, SourceError):
        pipeline.close()
        raise
    except (ValueError, OSError) as exc:
        pipeline.close()
        raise InputError(str(exc)) from exc
    if publisher is not None:
        publisher.start()
    metrics_server = None
    if settings.metrics_port is not None:
        from edge.metrics import MetricsServer

        metrics_server = MetricsServer(pipeline, settings.edge_id, settings.metrics_host, settings.metrics_port).start()

    def _graceful(signum, frame) -> None:  # noqa: ARG001
        pipeline.stop()

    signal.signal(signal.SIGINT, _graceful)
    signal.signal(signal.SIGTERM, _graceful)
    t0 = time.monotonic()
    try:
        stats = pipeline.run(max_seconds=args.max_seconds)
    finally:
        if metrics_server is not None:
            metrics_server.stop()
        if publisher is not None:
            # A finished file run waits (a little) for the broker to take what is spooled; anything left
            # stays in the spool and goes out on the next start.
            if not pipeline.stopped and not publisher.wait_drained(30):
                print(
                    f"doorline-edge: {publisher.depth} messages still spooled in {settings.spool_path}; "
                    "they are sent on the next start",
                    file=sys.stderr,
                )
            publisher.stop(timeout=10)  # which gives the spool one last try at what it holds in memory
            if publisher.held:
                print(
                    f"doorline-edge: {publisher.held} messages the spool {settings.spool_path} could not take "
                    f"(full or unwritable disk) are lost: {publisher.stats()['last_spool_error']}",
                    file=sys.stderr,
                )
    elapsed = time.monotonic() - t0
    states = ", ".join(
        f"{cid}: {c['state']} ({c['detail']})" if c["detail"] else f"{cid}: {c['state']}"
        for cid, c in stats.per_camera.items()
    )
    print(
        f"doorline-edge: {stats.frames_decoded} frames decoded, {stats.frames_analysed} analysed "
        f"({stats.detections_skipped} without the detector: nothing moved), {stats.events} event phases, "
        f"{stats.evidence} evidence pictures in {elapsed:.1f} s; {states}",
        file=sys.stderr,
    )
    if stats.publish_errors:
        print(
            f"doorline-edge: {stats.publish_errors} messages could not be spooled for MQTT (see the log)",
            file=sys.stderr,
        )
    if stats.local_write_errors or pipeline.evidence.write_errors:
        print(
            f"doorline-edge: {pipeline.evidence.write_errors} evidence files and {stats.local_write_errors} "
            "--events-out lines could not be written (full or unwritable disk; see the log)",
            file=sys.stderr,
        )
    failed = [cid for cid, c in stats.per_camera.items() if c["state"] == "failed"]
    return 1 if failed else 0


def cmd_check_model(args: argparse.Namespace) -> int:
    import numpy as np

    from models.registry import load_detector

    t = time.perf_counter()
    detector = load_detector(args.model, models_dir=args.models_dir)
    load_s = time.perf_counter() - t
    frame = np.full((480, 640, 3), 114, np.uint8)
    detector.detect([frame])
    t = time.perf_counter()
    for _ in range(3):
        detector.detect([frame])
    ms = (time.perf_counter() - t) / 3 * 1000
    names = list(detector.class_names)
    print(
        f"{args.model}: {type(detector).__name__} ({getattr(detector, 'type_key', '?')}), "
        f"{len(names)} classes ({', '.join(names[:5])}{'…' if len(names) > 5 else ''}), "
        f"loaded in {load_s:.2f} s, {ms:.1f} ms per 640x480 frame"
    )
    return 0


def cmd_validate_zones(args: argparse.Namespace) -> int:
    from zones.fit import ZoneFitError, check_fit
    from zones.io import load_zones

    for path in args.files:
        cz = load_zones(path)
        if args.frame_size is not None:
            try:
                check_fit(cz, args.frame_size)
            except ZoneFitError as exc:
                raise InputError(f"{path}: {exc}") from exc
        size = f"{cz.frame_size[0]}x{cz.frame_size[1]}" if cz.frame_size else "any size"
        if cz.frame_size is None and args.frame_size is None:
            size += (": no frame_size, so its points are pixels of the camera's frames (checked at the first "
                     "frame; pass --frame-size WxH to check now)")
        print(
            f"{path}: camera {cz.camera_id}, {len(cz.zones)} zones ({size}); min_dwell_s "
            f"{cz.rules.min_dwell_s:g}, clear_s {cz.rules.clear_s:g}"
        )
        for z in cz.zones:
            print(
                f"  {z.zone_id}: shop {z.shop_id or '-'}, {len(z.polygon)} points, "
                f"door line {'yes' if z.door_line is not None else 'no'}, {', '.join(z.violations)}"
            )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from edge.deploy_check import run_checks
    from edge.settings import EdgeSettings

    try:
        settings = EdgeSettings.load(args.config)
    except ValidationError:
        raise
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    if not settings.cameras:
        raise InputError("no cameras in the settings: pass --config edge.yaml")
    checks = run_checks(settings, timeout_s=args.timeout)
    for check in checks:
        print(check.line())
    failed = sum(not c.ok for c in checks)
    print(f"{len(checks) - failed} of {len(checks)} checks passed", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from wire import logs

    try:  # text lines, or JSON lines with DOORLINE_LOG_FORMAT=json
        logs.configure(logging.INFO if args.verbose else logging.WARNING)
    except ValueError as exc:
        print(f"doorline-edge: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from edge.sources import SourceError
    from models.base import ModelError
    from zones.io import ZoneFileError

    handlers = {"run": cmd_run, "check-model": cmd_check_model, "validate-zones": cmd_validate_zones,
                "check": cmd_check}
    try:
        return handlers[args.command](args)
    except (InputError, ModelError, ZoneFileError, SourceError, ValidationError) as exc:
        print(f"doorline-edge: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
