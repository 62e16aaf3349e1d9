"""Render RELIABILITY.md from a `make reliability` run: one row per fault or attack scenario, with the tests
that try it, whether they held (from pytest's JUnit XML) and the figures they measured (the JSON files that
testkit.reliability.record() wrote). Scenarios no test tries yet are listed as such.

    python scripts/reliability_report.py var/reliability RELIABILITY.md
"""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Scenario:
    name: str
    tried: str
    holds: str
    tests: tuple[str, ...] = ()  # "file.py::test_name" prefixes (parameters included by prefix)
    figures: tuple[str, ...] = ()  # JSON files (without .json) the tests write
    not_yet: str = ""  # why no test tries it yet
    notes: list[str] = field(default_factory=list)


T = "tests/transport/"
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("Poisoned MQTT payloads at central",
             "1,000 `[`, 1,000 `{\"a\":`, brackets nested 500 deep inside an event, a 5,000-digit integer, NaN, a "
             "bundle header of brackets, non-UTF-8; then a valid event; then central restarted",
             "each is a dead letter with its reason and is acknowledged (not redelivered after a restart); the "
             "valid events are stored",
             (T + "test_poison.py::test_poisoned_payloads_are_dead_lettered_acked_and_ingest_goes_on",),
             ("poison-central",)),
    Scenario("Any exception while validating",
             "`decode` made to raise RecursionError on one payload",
             "dead letter `internal error while validating: RecursionError`; the next message is stored",
             (T + "test_poison.py::test_an_exception_anywhere_in_validation_is_a_dead_letter",)),
    Scenario("Ingest worker thread dies",
             "the prepare or the writer thread killed by a BaseException on a batch",
             "`/healthz` answers 503 naming the thread, the supervisor restarts it, the batch it had is stored, "
             "deaths and restarts counted in `/metrics`",
             (T + "test_poison.py::test_a_worker_thread_that_dies_turns_healthz_red_and_is_restarted",),
             ("thread-death-prepare", "thread-death-writer")),
    Scenario("A message that kills a worker thread every time",
             "one message whose validation always raises a BaseException",
             "after the second death its batch is handled one message at a time; it becomes a dead letter, the "
             "others are stored",
             (T + "test_poison.py::test_a_message_that_kills_the_prepare_thread_twice_is_dead_lettered",),
             ("thread-death-twice",)),
    Scenario("Reused message_id with different content",
             "an event and an evidence picture sent again under the same message_id with other content, plus "
             "identical redeliveries",
             "identical redeliveries are silent duplicates; the different ones are dead letters saying so; the "
             "first stored is kept",
             (T + "test_poison.py::test_a_reused_message_id_with_different_content_is_a_dead_letter",),
             ("reused-message-id",)),
    Scenario("Poisoned payloads on an edge's cmd and receipt topics",
             "the same poison payloads on both topics, and a receipt whose handling raises",
             "counted and logged; paho's network thread lives; the edge publishes 20 events (receipted by central) "
             "and takes a valid command",
             (T + "test_poison.py::test_poison_on_an_edges_cmd_and_receipt_topics_never_stops_it",),
             ("poison-edge",)),
    Scenario("Poison mixed into a stream (long)",
             "2,000 events with a poison payload after every 10th, at a real central process",
             "2,000 stored, every poison payload a dead letter",
             (T + "test_reliability_long.py::test_poison_mixed_into_2000_events_at_a_real_central",),
             ("poison-soak",)),
    Scenario("Fuzzing `wire.schema.decode`",
             "hypothesis: valid messages of every type (JSON, binary evidence, bundles) mutated at the JSON and byte "
             "level, and raw bytes",
             "only `SchemaError`, one-line reason; each call under 1 s; valid messages decode",
             (T + "test_fuzz.py::test_decode_refuses_with_schema_error_only", T + "test_fuzz.py::test_valid_messages"),
             ("fuzz-decode",)),
    Scenario("Fuzzing central's validation",
             "hypothesis: random and real topics, signatures and the hostile payloads above",
             "a message or a `Rejected`, never the catch-all for exceptions; each call under 1 s",
             (T + "test_fuzz.py::test_central_validation",), ("fuzz-central",)),
    Scenario("Fuzzing the edge's cmd/receipt handler",
             "hypothesis: hostile payloads, valid commands and receipts",
             "refused and counted by the decoder, never by the handler's catch-all; each call under 1 s",
             (T + "test_fuzz.py::test_edge_downstream",), ("fuzz-edge",)),
    Scenario("Spool WAL on a busy edge",
             "300 events of ~5 KB, one commit each, spool_max_bytes 4 MiB and 512 MiB; then all acknowledged",
             "the WAL stays within its share of spool_max_bytes (an eighth, at most 1 MiB); files + WAL within "
             "spool_max_bytes; no WAL left after close",
             (T + "test_spool_disk.py::test_the_wal_stays_within",), ("spool-wal-4mib", "spool-wal-default")),
    Scenario("Edge spool on a 2 MiB file system",
             "broker down, 300 events of ~5 KB spooled on a 2 MiB tmpfs, the edge stopped and started again, the "
             "broker back",
             "all 300 spooled (none held in memory, none refused), all 300 stored",
             (T + "test_spool_disk.py::test_a_2mib_file_system",), ("spool-2mib-filesystem",)),
    Scenario("Edge spool filling a 2 MiB file system",
             "spool_max_bytes left at its default (512 MiB) on a 2 MiB tmpfs; 450 events of ~5 KB while the broker "
             "is down; then the broker back",
             "what the disk cannot take waits in memory in order (logged, status degraded); the spool still drains "
             "on the full disk (deletes and checkpoints keep their room); all 450 stored",
             (T + "test_spool_disk.py::test_a_full_2mib_file_system",), ("spool-2mib-filesystem-full",)),
    Scenario("Edge spool unwritable at start",
             "`doorline-edge run` with a spool path whose directory cannot be made",
             "exit 2 with one line on stderr, no traceback",
             (T + "test_spool_disk.py::test_an_unopenable_spool",), ("spool-unopenable",)),
    Scenario("Edge spool disk full while running",
             "SQLite's file made unable to grow (SQLITE_FULL) while events flow",
             "messages held in memory in order (bounded, loud refusal past the bound), spooled and sent once the "
             "disk takes them",
             (T + "test_spool_unwritable.py::",)),
    Scenario("Broker restart mid-stream",
             "1,000 events; the broker stopped (SIGTERM) and started again while they stream",
             "1,000 stored, each once, evidence included",
             (T + "test_resilience.py::test_broker_killed_mid_stream_of_1000_events",)),
    Scenario("Broker SIGKILL mid-stream",
             "1,000 events; the broker SIGKILLed while they stream (with and without receipts)",
             "nothing doubled; with receipts nothing lost; without, the loss of what the dead broker had acked "
             "but not saved is reported",
             (T + "test_resilience_more.py::", T + "test_receipts.py::test_broker_sigkilled")),
    Scenario("Broker outage of 60 s (long)",
             "the broker stopped for 60 s while the edge goes on producing (300 events in all)",
             "all 300 stored, none twice",
             (T + "test_reliability_long.py::test_a_60s_broker_outage",), ("broker-outage-60s",)),
    Scenario("Central SIGKILL",
             "600 events with evidence; central SIGKILLed mid-stream, restarted on the same session (SQLite and "
             "PostgreSQL)",
             "600 stored once, evidence complete",
             (T + "test_resilience.py::test_sigkilled_central_loses_and_doubles_nothing",)),
    Scenario("Two centrals sharing the load",
             "two central processes on one shared subscription",
             "each event stored once",
             (T + "test_resilience.py::test_two_centrals_share_the_load_and_store_each_event_once",)),
    Scenario("Edge SIGKILL",
             "an edge SIGKILLed with 210 messages in its spool, restarted later",
             "all 200 events and 10 pictures stored",
             (T + "test_resilience.py::test_sigkilled_edge_delivers_its_spool_after_restart",)),
    Scenario("Slow central (backpressure)",
             "central slower than the edges",
             "the backlog shows in metrics, nothing lost; what the broker drops at its queue limit is counted",
             (T + "test_backpressure.py::",)),
    Scenario("Evidence store disk full (central)",
             "the evidence store refuses writes (ENOSPC) twice",
             "nothing acknowledged until it is stored; stored once",
             (T + "test_ingest.py::test_prepare_stage_writes_evidence_once",)),
    Scenario("Evidence disk full (edge, local files)",
             "evidence folder and --events-out on /dev/full",
             "the run goes on, says what it could not write; events and pictures still go out over MQTT",
             ("tests/edge/test_cli.py::test_a_full_disk_for_local_files",)),
    Scenario("Video stream stopped and restarted",
             "an MJPEG stream over HTTP on loopback that stalls, then comes back",
             "reported and reconnected",
             ("tests/edge/test_sources.py::test_mjpeg_stream_that_stalls",)),
    Scenario("PostgreSQL restart (long)",
             "`doorline-central serve` on a private PostgreSQL cluster, 900 events (a picture with every 10th) at "
             "20/s from an edge; PostgreSQL stopped mid-stream for 12 s with `pg_ctl stop -m fast`, started, then "
             "again with `-m immediate` (crash recovery), started",
             "900 stored once, pictures complete, no dead letter; `/healthz` answers 503 while the database is "
             "down and 200 again after; the central process lives through it",
             (T + "test_postgres_restart.py::",), ("postgres-restart",)),
    Scenario("Edge clock 10 min off",
             "events and statuses from an edge clock 10 min ahead and 10 min behind, each event sent twice; then "
             "the clock put right",
             "3 events stored once each; the status after the correction is applied at once (it used to be "
             "ignored as older for 10 min); a genuinely older status is still ignored",
             (T + "test_clock_skew.py::",), ("edge-clock-10min",)),
    Scenario("RTSP source stopped and restarted (long)",
             "GStreamer's RTSP server on loopback serving the bag clip (real footage, 10 fps RTP/JPEG) to a real "
             "`doorline-edge run` with the real detector; the server stopped for 10 s after an episode, then "
             "started again",
             "the heartbeat says stalled/reconnecting while it is away and goes on every second; reconnects with "
             "backoff (attempts at 0.5, 1, 2, 4 s, not every 0.5 s); live again; the next episode is detected; "
             "every event the edge sent is stored once, every episode ended",
             (T + "test_rtsp_restart.py::",), ("rtsp-restart",)),
    Scenario("Evidence disk full on a small tmpfs at central",
             "central's evidence store on a real 1 MiB tmpfs, 10 events with ~200 KB pictures; then the file system "
             "given room (remount to 8 MiB)",
             "nothing acked that is not stored (the writer retries, the broker keeps the rest); then all 10 stored "
             "once with their pictures, no dead letter",
             (T + "test_evidence_disk_full.py::",), ("central-evidence-disk-full",)),
    Scenario("1,000-edge simulated fleet (long)",
             "`scripts/bench/fleet.py --short`: 1,000 simulated edges, each its own MQTT connection with a last "
             "will, a retained heartbeat every 10 s, events with an 8 KB picture at 20/s for the fleet, a 10x "
             "burst (200/s), then 20/s again; real Mosquitto, `doorline-central serve`, PostgreSQL",
             "every edge connected; every event stored once (none lost, none doubled), no dead letter; CPU, "
             "memory and p99 latency per phase (BENCHMARKS.md has the full run with its ramp to saturation)",
             (T + "test_fleet.py::",), ("fleet-1000",)),
    Scenario("HTTP API fuzzing (schemathesis)",
             "every operation of the OpenAPI schema: 60 valid and 60 invalid requests (random) as an admin, on "
             "SQLite and PostgreSQL; the ordinary suite runs 3 + 3 fixed ones",
             "no 500; every JSON reply strict JSON (no NaN, valid UTF-8); a route that raises is caught",
             ("tests/central/api/test_api_fuzz.py::",)),
    Scenario("Hostile REST inputs",
             "offsets and ids >= 2^63, page 10^30, year-9999 dates, NaN/Infinity, lone surrogates and NUL in JSON "
             "bodies, a GeoJSON import nested 100,000 deep, malformed polygons",
             "422 or 400 with a message that does not echo the input, never 500",
             ("tests/central/api/test_hostile_inputs.py::",)),
    Scenario("Role x endpoint matrix",
             "every route of the app (API and console) for anonymous, edge, viewer, officer, reviewer and admin",
             "each cell answers exactly as EXPECTED says; a route without an entry fails; the matrix can fail",
             ("tests/central/api/test_role_matrix.py::",)),
    Scenario("Secrets, sessions and browser protections",
             "the default or a weak secret key, logout, 40 concurrent logins, /metrics anonymous, viewers on the "
             "edge page, `Origin: null`, forwarded scheme and address from trusted and untrusted proxies, guessed "
             "passwords behind a proxy",
             "refused to serve; token revoked; argon2 bounded; 401; no credentials; refused; CSP and frame headers "
             "on every reply; Secure cookies and the login throttle only believe a trusted proxy, which keys the "
             "throttle on the forwarded client",
             ("tests/central/api/test_hardening.py::",)),
)


def _junit(path: Path) -> dict[str, tuple[str, float]]:
    """'file.py::name[param]' → (outcome, seconds)."""
    out: dict[str, tuple[str, float]] = {}
    if not path.exists():
        return out
    for case in ET.parse(path).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        file = classname.replace(".", "/") + ".py"
        outcome = "passed"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        out[f"{file}::{name}"] = (outcome, float(case.get("time", 0) or 0))
    return out


def _result(s: Scenario, cases: dict[str, tuple[str, float]]) -> str:
    if s.not_yet:
        return "**not yet**"
    hits = [v for k, v in cases.items() if any(k.startswith(t) for t in s.tests)]
    if not hits:
        return "not run"
    n = {o: sum(1 for h, _ in hits if h == o) for o in ("passed", "failed", "skipped")}
    secs = sum(t for _, t in hits)
    if n["failed"]:
        return f"**FAILED** {n['failed']} of {len(hits)} ({secs:.0f} s)"
    if n["passed"] == 0:
        return f"skipped ({n['skipped']})"
    extra = f", {n['skipped']} skipped" if n["skipped"] else ""
    return f"held: {n['passed']} of {len(hits)} passed{extra} ({secs:.0f} s)"


def _figures(s: Scenario, out_dir: Path) -> str:
    parts = []
    for name in s.figures:
        p = out_dir / f"{name}.json"
        if not p.exists():
            continue
        data = json.loads(p.read_text(encoding="utf-8"))
        data.pop("measured_at", None)
        label = f"{name}: " if len(s.figures) > 1 else ""
        parts.append(label + ", ".join(f"{k} {v}" for k, v in sorted(data.items())))
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(out_dir: Path) -> str:
    cases = _junit(out_dir / "junit.xml")
    lines = [
        "# Reliability",
        "",
        "Generated by `make reliability` (scripts/reliability_report.py) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: one row per fault or attack scenario, what was "
        "tried, what must hold, the tests that try it and what they measured. Real Mosquitto, real central and "
        "edge code (processes where the row says so), SQLite unless it says PostgreSQL. The ordinary suite runs "
        "the same tests with fewer fuzz examples and without the long ones.",
        "",
        "| Scenario | What was tried | What must hold | Result | Measured |",
        "|---|---|---|---|---|",
    ]
    for s in SCENARIOS:
        tried = s.tried or "—"
        holds = s.holds or s.not_yet
        lines.append(f"| {_cell(s.name)} | {_cell(tried)} | {_cell(holds)} | {_result(s, cases)} | "
                     f"{_cell(_figures(s, out_dir))} |")
    lines += ["", "Tests per scenario:", ""]
    for s in SCENARIOS:
        if s.tests:
            lines.append(f"- {s.name}: " + ", ".join(f"`{t}`" for t in s.tests))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    out_dir, target = Path(argv[0]), Path(argv[1])
    target.write_text(render(out_dir), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
