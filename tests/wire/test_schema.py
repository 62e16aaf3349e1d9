"""Every wire message round-trips; every kind of bad payload is refused with a reason (SchemaError only)."""

from __future__ import annotations

import hashlib
import json

import pytest

from wire import topics
from wire.ids import id_timestamp_ms, new_id
from wire.schema import (
    BINARY_MAGIC,
    MAX_EVIDENCE_BYTES,
    CommandMessage,
    EventMessage,
    EvidenceMessage,
    GeoPoint,
    RecheckResult,
    SchemaError,
    StatusMessage,
    decode,
    encode,
)

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"


def _evidence(data: bytes = JPEG) -> EvidenceMessage:
    return EvidenceMessage.from_jpeg(
        data, width=64, height=48, site_id="s1", camera_id="c1", evidence_id="ev1", event_id="e1"
    )


def _event(**kw) -> EventMessage:
    fields = dict(
        site_id="s1",
        camera_id="c1",
        event_id="e1",
        seq=0,
        zone_id="z1",
        violation="piled_goods",
        phase="start",
        ts=1_700_000_000.5,
        score=0.8,
        boxes=[[1, 2, 3, 4]],
        evidence=[_evidence().ref()],
    )
    fields.update(kw)
    return EventMessage(**fields)


MESSAGES = [
    _event(),
    _event(zone_id=None, geo=GeoPoint(lat=31.2, lon=121.5), source_kind="drone"),
    _evidence(),
    StatusMessage(
        site_id="s1", camera_id="c1", edge_id="edge-1", state="online", fps=5, spool_depth=3, spool_bytes=1234
    ),
    CommandMessage(site_id="s1", camera_id="c1", cmd="recheck", zone_id="z1", case_id="case-1"),
    CommandMessage(site_id="s1", camera_id="c1", cmd="set_fps", fps=2.5),
    RecheckResult(site_id="s1", camera_id="c1", command_id="cmd-1", zone_id="z1", result="clear", ts=1.0),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: f"{m.type}")
def test_round_trip(msg) -> None:
    back = decode(encode(msg))
    assert type(back) is type(msg) and back == msg
    if type(msg) is not EvidenceMessage:
        assert decode(encode(msg).decode("utf-8")) == msg  # as a str payload too


def test_evidence_data_and_ref() -> None:
    ev = decode(encode(_evidence()))
    assert ev.data() == JPEG and ev.ref().size == len(JPEG)
    assert ev.ref().sha256 == hashlib.sha256(JPEG).hexdigest()


def _frame(header: bytes, data: bytes = JPEG, *, announced: int | None = None) -> bytes:
    n = len(header) if announced is None else announced
    return BINARY_MAGIC + n.to_bytes(4, "big") + header + data


def _mutated(msg, **changes) -> bytes:
    """The message's payload with fields changed; evidence stays a binary frame (its JPEG after the header),
    or takes `data=` for other bytes after it."""
    data = changes.pop("data", None)
    obj = json.loads(msg.model_dump_json())
    for k, v in changes.items():
        if v is _DROP:
            obj.pop(k)
        else:
            obj[k] = v
    text = json.dumps(obj).encode()
    if isinstance(msg, EvidenceMessage):
        return _frame(text, msg.data() if data is None else data)
    return text


_DROP = object()
_big = JPEG + b"\0" * (MAX_EVIDENCE_BYTES + 1)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{oops", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_mutated(_event(), v=_DROP), "missing schema version"),
        (_mutated(_event(), v=2), "unsupported schema version 2"),
        (_mutated(_event(), v="1"), "unsupported schema version"),
        (_mutated(_event(), type="alarm"), "unknown message type"),
        (_mutated(_event(), colour="red"), "colour"),
        (_mutated(_event(), score=1.5), "score"),
        (_mutated(_event(), violation="loitering"), "violation"),
        (_mutated(_event(), camera_id="c1/../x"), "camera_id"),
        (_mutated(_event(), zone_id=None), "zone_id or a geo point"),
        (_mutated(_event(), boxes=[[1, 2, 3]]), "boxes"),
        (_mutated(_evidence(), sha256="0" * 64), "sha256 does not match"),
        (json.dumps(json.loads(_evidence().model_dump_json()) | {"data_b64": "AAAA"}).encode(), "binary frame"),
        (_mutated(_evidence(), data=b"GIF89a", sha256=hashlib.sha256(b"GIF89a").hexdigest()), "not a JPEG"),
        (_mutated(_evidence(), data=_big, sha256=hashlib.sha256(_big).hexdigest()), "evidence larger than"),
        (b" " * (2 * 1024 * 1024 + 1), "exceeds the limit"),
        (
            _mutated(CommandMessage(site_id="s", camera_id="c", cmd="reload_zones"), cmd="recheck"),
            "needs a zone_id",
        ),
        (
            _mutated(CommandMessage(site_id="s", camera_id="c", cmd="reload_zones"), cmd="set_fps"),
            "needs fps",
        ),
    ],
    ids=[
        "bad-json",
        "bad-utf8",
        "not-object",
        "no-version",
        "wrong-version",
        "string-version",
        "unknown-type",
        "extra-field",
        "score-range",
        "bad-violation",
        "bad-id",
        "no-location",
        "short-box",
        "hash-mismatch",
        "bad-base64",
        "not-jpeg",
        "oversized-evidence",
        "oversized-payload",
        "recheck-no-zone",
        "fps-missing",
    ],
)
def test_rejections(payload: bytes, reason: str) -> None:
    with pytest.raises(SchemaError) as err:
        decode(payload)
    assert reason in err.value.reason, err.value.reason
    assert len(err.value.reason) <= 500


def _header(msg: EvidenceMessage, **changes) -> bytes:
    obj = json.loads(msg.model_dump_json())
    obj.update(changes)
    return json.dumps(obj).encode()


def test_evidence_travels_as_raw_bytes_after_a_json_header() -> None:
    ev = _evidence()
    payload = encode(ev)
    n = int.from_bytes(payload[4:8], "big")
    assert payload.startswith(BINARY_MAGIC) and payload[8 + n :] == JPEG
    header = json.loads(payload[8 : 8 + n])
    assert header["sha256"] == ev.sha256 and "data_b64" not in header
    assert decode(_frame(_header(ev))) == ev  # a frame built by hand, as another implementation would


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (BINARY_MAGIC + b"\0\0", "shorter than its header"),
        (_frame(_header(_evidence()), announced=10**6), "announces a header of 1000000 bytes"),
        (_frame(b"{not json"), "not JSON"),
        (_frame(_header(_evidence(), sha256="0" * 64)), "sha256 does not match"),
        (_frame(_header(_evidence(), data_b64="AAAA")), "data_b64"),
        (
            _frame(
                encode(RecheckResult(site_id="s", camera_id="c", command_id="x", zone_id="z", result="clear", ts=1))
            ),
            "holds evidence, not 'recheck_result'",
        ),
        (_frame(_header(_evidence(), sha256=hashlib.sha256(b"GIF89a").hexdigest()), b"GIF89a"), "not a JPEG"),
        (_frame(_header(_evidence(), sha256=hashlib.sha256(_big).hexdigest()), _big), "evidence larger than"),
        (_frame(_header(_evidence(), width=0)), "width"),
    ],
    ids=[
        "truncated",
        "header-overrun",
        "header-not-json",
        "hash-mismatch",
        "data-twice",
        "not-evidence",
        "not-jpeg",
        "oversized-evidence",
        "bad-field",
    ],
)
def test_binary_frame_rejections(payload: bytes, reason: str) -> None:
    with pytest.raises(SchemaError) as err:
        decode(payload)
    assert reason in err.value.reason, err.value.reason


def test_evidence_cannot_be_built_without_its_data() -> None:
    fields = json.loads(_header(_evidence()))
    with pytest.raises(ValueError, match="carries no data"):
        EvidenceMessage(**fields)


def test_max_bytes_is_configurable() -> None:
    payload = encode(_event())
    with pytest.raises(SchemaError, match="exceeds the limit of 100"):
        decode(payload, max_bytes=100)


def test_topics_round_trip_and_reject_bad_parts() -> None:
    name = topics.topic("site-1", "cam-2", "evidence", prefix="org/doorline")
    assert name == "org/doorline/v1/site-1/cam-2/evidence"
    t = topics.parse(name)
    assert (t.prefix, t.site_id, t.camera_id, t.kind) == ("org/doorline", "site-1", "cam-2", "evidence")
    for bad in ("doorline/v1/s/c/alarm", "doorline/v2/s/c/event", "s/c/event"):
        with pytest.raises(ValueError):
            topics.parse(bad)
    for part in ("", "a/b", "+", "#"):
        with pytest.raises(ValueError):
            topics.topic(part, "c", "event")
    assert topics.shared(topics.upstream_filter("p", "event"), "g") == "$share/g/p/v1/+/+/event"


def test_ids_sort_by_time() -> None:
    ids = [new_id() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == 2000
    assert abs(id_timestamp_ms(ids[-1]) - id_timestamp_ms(ids[0])) < 5000


def test_evidence_phase_reads_the_role_from_an_edge_evidence_id() -> None:
    from wire.schema import evidence_phase

    eid = "0193a0e4-7b1c-7cc0-8000-000000000001"
    assert evidence_phase(f"{eid}.0-start.0") == "start"
    assert evidence_phase(f"{eid}.7-end.3") == "end"
    assert evidence_phase("recheck:0193a0e4-7b1c-7cc0-8000-000000000002.recheck.1") == "recheck"
    assert evidence_phase("some-other-id") is None and evidence_phase(f"{eid}.0-later.0") is None
