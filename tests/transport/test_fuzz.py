"""Property-based fuzzing of every MQTT decoder (issue 15): `wire.schema.decode`, central's `_validated` (topic,
signature, payload) and the edge's handler of `cmd`/`receipt` messages.

Inputs are structure-aware (valid messages of every type, built from the wire schema's constraints, then
mutated at the JSON and at the byte level: fields replaced, dropped or added, values nested thousands deep,
huge number literals, NaN, bytes flipped, cut or spliced) and raw bytes. Properties: the decoder refuses with
its own error and nothing else (central: a `Rejected`; the edge: a counted refusal, never its catch-all), and
each call takes bounded time. Valid messages decode to what was built.

Modest example counts in the ordinary suite; `make reliability` runs them with many more."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.ingest import Inbound, IngestService, Rejected
from central.settings import CentralSettings
from edge.publisher import Publisher
from testkit.reliability import examples, record
from wire.mqtt import MqttSettings
from wire.schema import BINARY_MAGIC, BUNDLE_MAGIC, Bundle, SchemaError, decode

PREFIX = "doorline"
SITE, CAMERA = "site-a", "cam-1"
TIME_LIMIT_S = 1.0  # per call, on a loaded 2-core machine; typical calls take well under a millisecond
FUZZ = settings(
    max_examples=examples(60, 3000),
    deadline=None,  # timed by the test itself, with a limit that does not flake on a busy machine
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# ---------------------------------------------------------------------------------------------------------
# valid messages, from the schema's constraints

ids = st.from_regex(r"[A-Za-z0-9_.:\-]{1,24}", fullmatch=True)
unix = st.floats(1.5e9, 2.5e9)
unit = st.floats(0, 1)
sha = st.binary(min_size=32, max_size=32).map(bytes.hex)
kinds = st.sampled_from(["annotated", "clean", "crop"])
box = st.lists(st.floats(-10, 5000), min_size=4, max_size=4)


def _base(kind: str) -> dict:
    return {"v": st.just(1), "type": st.just(kind), "message_id": ids, "site_id": st.just(SITE),
            "camera_id": st.just(CAMERA), "sent_at": unix}


ref = st.fixed_dictionaries({"evidence_id": ids, "sha256": sha, "kind": kinds, "size": st.integers(0, 4096)})
event = st.fixed_dictionaries({
    **_base("event"), "event_id": ids, "seq": st.integers(0, 10_000), "zone_id": ids, "violation":
    st.sampled_from(["cross_door_trading", "piled_goods"]), "phase": st.sampled_from(["start", "update", "end"]),
    "ts": unix, "score": unit, "boxes": st.lists(box, max_size=6), "evidence": st.lists(ref, max_size=3),
}, optional={"shop_id": ids, "video_ts": st.floats(0, 1e5), "command_id": ids})
command = st.one_of(
    st.fixed_dictionaries({**_base("command"), "command_id": ids, "cmd": st.just("recheck"), "zone_id": ids},
                          optional={"case_id": ids}),
    st.fixed_dictionaries({**_base("command"), "cmd": st.just("set_fps"), "fps": st.floats(0.01, 60)}),
    st.fixed_dictionaries({**_base("command"), "cmd": st.just("reload_zones")}),
)
receipt = st.fixed_dictionaries({**_base("receipt"), "message_ids": st.lists(ids, min_size=1, max_size=20)})
status = st.fixed_dictionaries({
    **_base("status"), "edge_id": ids, "state": st.sampled_from(["online", "degraded", "offline"]),
    "fps": st.floats(0, 60), "spool_depth": st.integers(0, 10**6), "detail": st.text(max_size=100),
})
recheck = st.fixed_dictionaries({
    **_base("recheck_result"), "command_id": ids, "zone_id": ids, "result": st.sampled_from(["clear", "present",
    "unknown"]), "ts": unix, "score": unit, "evidence": st.just([]), "detail": st.text(max_size=100),
})
jpeg = st.binary(max_size=2048).map(lambda b: b"\xff\xd8" + b)


@st.composite
def evidence_payload(draw, binary: bool | None = None) -> bytes:
    """Evidence as a binary frame, or (refused by the wire) as a JSON object with base64 data."""
    data = draw(jpeg)
    head = {"v": 1, "type": "evidence", "message_id": draw(ids), "site_id": SITE, "camera_id": CAMERA,
            "sent_at": draw(unix), "evidence_id": draw(ids), "event_id": draw(ids), "kind": draw(kinds),
            "content_type": "image/jpeg", "sha256": hashlib.sha256(data).hexdigest(),
            "width": draw(st.integers(1, 4096)), "height": draw(st.integers(1, 4096))}
    if binary if binary is not None else draw(st.booleans()):
        header = json.dumps(head).encode()
        return BINARY_MAGIC + len(header).to_bytes(4, "big") + header + data
    return json.dumps({**head, "data_b64": base64.b64encode(data).decode()}).encode()


@st.composite
def bundle_payload(draw) -> bytes:
    head = draw(event)
    pictures = draw(st.lists(jpeg, max_size=3))
    parts = []
    head["evidence"] = []
    for data in pictures:
        eid = draw(ids)
        if eid in {r["evidence_id"] for r in head["evidence"]}:
            continue
        digest = hashlib.sha256(data).hexdigest()
        head["evidence"].append({"evidence_id": eid, "sha256": digest, "kind": "annotated", "size": len(data)})
        parts.append(({"v": 1, "type": "evidence", "message_id": draw(ids), "site_id": SITE, "camera_id": CAMERA,
                       "sent_at": head["sent_at"], "evidence_id": eid, "event_id": head["event_id"],
                       "kind": "annotated", "content_type": "image/jpeg", "sha256": digest, "width": 8,
                       "height": 8}, data))
    header = json.dumps({"v": 1, "type": "bundle", "head": head, "evidence": [p for p, _ in parts]}).encode()
    return BUNDLE_MAGIC + len(header).to_bytes(4, "big") + header + b"".join(d for _, d in parts)


json_objects = st.one_of(event, command, receipt, status, recheck)
valid_payload = st.one_of(
    json_objects.map(lambda d: json.dumps(d).encode()), evidence_payload(binary=True), bundle_payload()
)

# ---------------------------------------------------------------------------------------------------------
# mutations

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_object(draw) -> bytes:
    """A valid message object with one or more fields replaced, dropped or added, serialised."""
    obj = dict(draw(json_objects))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "drop", "add", "type", "version"]))
        key = draw(st.sampled_from(sorted(obj))) if obj else "v"
        if op == "replace":
            obj[key] = draw(json_values)
        elif op == "drop":
            obj.pop(key, None)
        elif op == "add":
            obj[draw(st.text(max_size=10))] = draw(json_values)
        elif op == "type":
            obj["type"] = draw(st.sampled_from(["event", "evidence", "status", "command", "receipt",
                                                "recheck_result", "bundle", "", None]))
        else:
            obj["v"] = draw(st.sampled_from([0, 2, "1", 1.0, None, True]))
    return json.dumps(obj).encode()


@st.composite
def mutated_bytes(draw) -> bytes:
    """A valid payload (JSON, binary frame or bundle) with its bytes flipped, cut, spliced, or with a deep
    nesting or a huge number literal inserted."""
    raw = bytearray(draw(valid_payload))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "nest", "number", "dup"]))
        at = draw(st.integers(0, len(raw)))
        if op == "flip" and raw:
            i = min(at, len(raw) - 1)
            raw[i] ^= draw(st.integers(1, 255))
        elif op == "cut":
            raw = raw[:at]
        elif op == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "nest":
            n = draw(st.integers(30, 5000))
            opener = draw(st.sampled_from([b"[", b'{"a":', b"[{\"b\":"]))
            raw[at:at] = opener * n
        elif op == "number":
            raw[at:at] = draw(st.sampled_from([b"9" * 5000, b"1e999999", b"NaN", b"-Infinity", b"1" * 400]))
        else:
            j = draw(st.integers(0, len(raw)))
            raw[at:at] = raw[min(at, j):max(at, j)]
    return bytes(raw)


raw_bytes = st.one_of(
    st.binary(max_size=4096),
    st.binary(max_size=512).map(lambda b: BINARY_MAGIC + b),
    st.binary(max_size=512).map(lambda b: BUNDLE_MAGIC + b),
    st.integers(1, 20_000).map(lambda n: b"[" * n),
)
hostile = st.one_of(mutated_object(), mutated_bytes(), raw_bytes, evidence_payload(binary=False))

_slowest: dict[str, float] = {}


def _timed(name: str, fn, *args):
    t = time.perf_counter()
    try:
        return fn(*args)
    finally:
        took = time.perf_counter() - t
        _slowest[name] = max(_slowest.get(name, 0.0), took)
        payload = getattr(args[-1], "payload", args[-1])
        assert took < TIME_LIMIT_S, f"{name} took {took:.3f} s on a payload of {len(payload)} bytes"


def _record(name: str, n: int) -> None:
    record(f"fuzz-{name}", max_examples=n, slowest_call_ms=round(_slowest.get(name, 0.0) * 1000, 2))


# ---------------------------------------------------------------------------------------------------------
# wire.schema.decode


@FUZZ
@given(valid_payload)
def test_valid_messages_decode(payload: bytes) -> None:
    msg = decode(payload)
    assert isinstance(msg, Bundle) or msg.site_id == SITE


@FUZZ
@given(hostile)
def test_decode_refuses_with_schema_error_only(payload: bytes) -> None:
    try:
        _timed("decode", decode, payload)
    except SchemaError as exc:
        assert exc.reason and len(exc.reason) <= 500 and "\n" not in exc.reason.strip()


def test_decode_fuzz_figures() -> None:
    _record("decode", FUZZ.max_examples)


# ---------------------------------------------------------------------------------------------------------
# central: topic + payload → message or Rejected


@pytest.fixture(scope="module")
def central(tmp_path_factory) -> IngestService:
    tmp = tmp_path_factory.mktemp("fuzz-central")
    settings_ = CentralSettings(database_url=f"sqlite:///{tmp / 'c.db'}", evidence_dir=tmp / "evidence",
                                mqtt=MqttSettings(prefix=PREFIX))
    return IngestService(settings_, None, None, use_workflow=False)  # never started: only its validation


topic_kinds = st.sampled_from(["event", "evidence", "recheck", "status", "cmd", "receipt"])
fuzz_topics = st.one_of(
    topic_kinds.map(lambda k: f"{PREFIX}/v1/{SITE}/{CAMERA}/{k}"),
    st.text(max_size=60),
    st.builds(lambda p, s, c, k: f"{p}/v1/{s}/{c}/{k}", st.sampled_from([PREFIX, "other"]), st.text(max_size=8),
              st.text(max_size=8), topic_kinds),
)


@FUZZ
@given(fuzz_topics, hostile, st.one_of(st.none(), st.text(max_size=80)))
def test_central_validation_returns_a_message_or_a_rejection(central, topic, payload, signature) -> None:
    before = central.stats()["internal_errors"]
    item = Inbound(topic, payload, 1, 1, 0, time.monotonic(), signature)
    out = _timed("central", central._validated, item)  # noqa: SLF001
    if isinstance(out, Rejected):
        assert out.reason
    # refused by the checks themselves, never by the catch-all for exceptions
    assert central.stats()["internal_errors"] == before


def test_central_fuzz_figures() -> None:
    _record("central", FUZZ.max_examples)


# ---------------------------------------------------------------------------------------------------------
# edge: cmd and receipt messages on paho's network thread


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> Publisher:
    tmp: Path = tmp_path_factory.mktemp("fuzz-edge")
    pub = Publisher(MqttSettings(prefix=PREFIX), edge_id="edge-fuzz", site_id=SITE, camera_ids=[CAMERA],
                    spool_path=tmp / "spool.db", receipts=True)  # never started: its handlers are called directly
    yield pub
    pub.spool.close()


downstream_payload = st.one_of(hostile, command.map(lambda d: json.dumps(d).encode()),
                               receipt.map(lambda d: json.dumps(d).encode()))


@FUZZ
@given(st.sampled_from(["cmd", "receipt"]), downstream_payload)
def test_edge_downstream_handler_refuses_and_goes_on(edge, kind, payload) -> None:
    message = mqtt.MQTTMessage(mid=1, topic=f"{PREFIX}/v1/{SITE}/{CAMERA}/{kind}".encode())
    message.payload = payload
    _timed("edge", edge._on_message, None, None, message)  # noqa: SLF001 -- what paho calls
    assert edge.stats()["downstream_errors"] == 0, edge.stats()["last_error"]
    while not edge.inbox._commands.empty():  # noqa: SLF001 -- what the dispatcher thread would take
        edge.inbox._commands.get_nowait()  # noqa: SLF001


def test_edge_fuzz_figures() -> None:
    _record("edge", FUZZ.max_examples)
