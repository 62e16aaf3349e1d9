"""A real central ingest process for the transport tests (and the ingest benchmark): runs an IngestService
until SIGTERM/SIGINT; prints `READY` once subscribed."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from central.ingest import IngestService
from central.settings import CentralSettings
from testkit.transport import central_db, evidence_store
from wire.mqtt import MqttSettings


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--db-url", required=True)
    p.add_argument("--evidence-dir", type=Path, required=True)
    p.add_argument("--client-id", default="central-1")
    p.add_argument("--group", default="central")
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    engine, factory = central_db(args.db_url)
    settings = CentralSettings(
        database_url=args.db_url,
        evidence_dir=args.evidence_dir,
        ingest_group=args.group,
        mqtt=MqttSettings(host=args.host, port=args.port, prefix=args.prefix),
    )
    svc = IngestService(
        settings,
        factory,
        evidence_store(args.evidence_dir),
        client_id=args.client_id,
        batch_size=args.batch_size,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    svc.start()
    if not svc.wait_ready(15):
        print(f"NOT READY {svc.stats()}", flush=True)
        return 1
    print("READY", flush=True)
    stop.wait()
    svc.stop()
    print("STATS " + json.dumps(svc.stats()), flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
