"""A real edge publisher process for the transport tests: spools `--count` events (each with evidence every
`--evidence-every` events), prints `SPOOLED <n>`, then keeps delivering; prints `DRAINED` and exits when the
spool is empty if `--exit-when-drained`, else runs until killed."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from edge.publisher import Publisher
from testkit.transport import make_event, make_evidence
from wire.mqtt import MqttSettings


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--spool", type=Path, required=True)
    p.add_argument("--edge", default="edge-1")
    p.add_argument("--camera", default="cam-1")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--evidence-every", type=int, default=0)
    p.add_argument("--evidence-kb", type=int, default=20)
    p.add_argument("--rate", type=float, default=0.0, help="events per second; 0 = as fast as possible")
    p.add_argument("--exit-when-drained", action="store_true")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    pub = Publisher(
        MqttSettings(host=args.host, port=args.port, prefix=args.prefix),
        edge_id=args.edge,
        site_id="site-a",
        camera_ids=[args.camera],
        spool_path=args.spool,
        status_interval_s=2,
        receipts=False,
    )
    pub.start()
    for i in range(args.start, args.start + args.count):
        evidence = []
        if args.evidence_every and i % args.evidence_every == 0:
            evidence = [
                make_evidence(f"ev-{args.camera}-{i}", camera=args.camera, kb=args.evidence_kb, seed=i % 5)
            ]
        for e in evidence:
            pub.publish(e)
        pub.publish(make_event(i, camera=args.camera, evidence=evidence, event_id=f"ev-{args.camera}-{i}"))
        if args.rate:
            time.sleep(1.0 / args.rate)
    print(f"SPOOLED {pub.depth}", flush=True)
    if args.exit_when_drained:
        ok = pub.wait_drained(args.timeout)
        print("DRAINED" if ok else f"NOT DRAINED {pub.stats()}", flush=True)
        pub.stop()
        return 0 if ok else 1
    while True:
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
