"""The processes of the ingest benchmark (scripts/bench/ingest.py): `edge` publishes events with pictures from
simulated edges through `edge.publisher.Publisher`; `central` runs `central.ingest.IngestService`. Started by
the benchmark as `python -m testkit.ingest_workers edge|central ...`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

SITE = "bench-site"


def unique_jpeg(base: bytes, token: bytes) -> bytes:
    """The same picture with a unique COM segment, so every evidence has its own hash (no store dedupe)."""
    seg = b"\xff\xfe" + (len(token) + 2).to_bytes(2, "big") + token
    return base[:2] + seg + base[2:]


def base_jpeg(kb: int) -> tuple[bytes, int, int]:
    import cv2

    side = max(16, int(300 * (kb / 83.0) ** 0.5))
    img = np.random.default_rng(7).integers(0, 255, (side, side, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes(), side, side


def edge_worker(args: argparse.Namespace) -> int:
    from edge.publisher import Publisher
    from wire.ids import new_id
    from wire.mqtt import MqttSettings
    from wire.schema import EventMessage, EvidenceMessage

    settings = MqttSettings(port=args.port, prefix=args.prefix)
    names = [f"edge-{args.worker}-{k}" for k in range(args.edges_here)]
    pubs = [
        Publisher(
            settings,
            edge_id=n,
            site_id=SITE,
            camera_ids=[f"cam-{n}"],
            spool_path=args.spool_dir / f"{n}.db",
            inflight_window=64,
            status_interval_s=30,
            bundle_evidence=not args.apart,
            receipts=False,
        )
        for n in names
    ]
    for p in pubs:
        p.start()
    deadline = time.monotonic() + 10
    while not all(p.connected for p in pubs) and time.monotonic() < deadline:
        time.sleep(0.02)
    jpeg, w, h = base_jpeg(args.kb)
    print("READY", flush=True)
    start = float(sys.stdin.readline().strip() or time.time())  # common start time from the driver
    while time.time() < start:
        time.sleep(0.001)
    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    t0 = time.monotonic()
    for i in range(args.count):
        if interval:
            due = t0 + i * interval
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        pub = pubs[i % len(pubs)]
        cam = pub.camera_ids[0]
        event_id = new_id()
        data = unique_jpeg(jpeg, uuid.uuid4().bytes)
        ev = EvidenceMessage.from_jpeg(
            data, width=w, height=h, site_id=SITE, camera_id=cam, evidence_id=new_id(), event_id=event_id
        )
        event = EventMessage(
            site_id=SITE,
            camera_id=cam,
            event_id=event_id,
            seq=0,
            zone_id="z1",
            violation="piled_goods",
            phase="start",
            ts=time.time(),
            score=0.9,
            evidence=[ev.ref()],
        )
        pub.publish_many([ev, event])  # as the pipeline does: one bundle (or, --apart, two messages)
    ok = all(p.wait_drained(args.timeout) for p in pubs)
    for p in pubs:
        p.stop(timeout=2)
    print("DRAINED" if ok else "NOT DRAINED", flush=True)
    return 0 if ok else 1


def central_worker(args: argparse.Namespace) -> int:

    import central.orm  # noqa: F401
    from central.db import make_engine, make_session_factory
    from central.evidence_store import LocalEvidenceStore
    from central.ingest import IngestService
    from central.settings import CentralSettings
    from wire.mqtt import MqttSettings

    engine = make_engine(args.db_url)
    settings = CentralSettings(
        database_url=args.db_url,
        evidence_dir=args.evidence_dir,
        mqtt=MqttSettings(port=args.port, prefix=args.prefix),
    )
    svc = IngestService(
        settings,
        make_session_factory(engine),
        LocalEvidenceStore(args.evidence_dir),
        client_id=args.client_id,
        use_workflow=args.workflow_on,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    svc.start()
    if not svc.wait_ready(60):
        print(f"NOT READY {svc.stats()}", flush=True)
        return 1
    # this instance's own storing rate: from its first commit to its last (messages stored since the first)
    activity: dict[str, float] = {}

    def watch() -> None:
        last = 0
        while not stop.wait(0.02):
            n = svc.stats()["stored"]
            if n != last:
                now = time.time()
                if not activity:
                    activity.update(first_t=now, first_n=n)
                activity.update(last_t=now, last_n=n)
                last = n

    threading.Thread(target=watch, daemon=True).start()
    print("READY", flush=True)
    stop.wait()
    svc.stop()
    st = svc.stats()
    if activity and activity["last_t"] > activity["first_t"]:
        st["own_messages_per_s"] = round(
            (activity["last_n"] - activity["first_n"]) / (activity["last_t"] - activity["first_t"]), 1
        )
        st["active_s"] = round(activity["last_t"] - activity["first_t"], 2)
    print("STATS " + json.dumps(st), flush=True)
    engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("mode", choices=["edge", "central"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--worker", type=int, default=0)
    p.add_argument("--edges-here", type=int, default=1)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--rate", type=float, default=0)
    p.add_argument("--kb", type=int, default=100)
    p.add_argument("--apart", action="store_true")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--spool-dir", type=Path)
    p.add_argument("--db-url")
    p.add_argument("--evidence-dir", type=Path)
    p.add_argument("--client-id")
    p.add_argument("--workflow-on", action="store_true")
    args = p.parse_args(argv)
    return edge_worker(args) if args.mode == "edge" else central_worker(args)


if __name__ == "__main__":
    sys.exit(main())
