"""The bundle form: an event (or recheck result) with its pictures in one payload, checked as a whole."""

from __future__ import annotations

import json
import struct

import pytest

from tests.wire.test_schema import _event as schema_event
from wire.schema import (
    BUNDLE_MAGIC,
    Bundle,
    EventMessage,
    EvidenceMessage,
    RecheckResult,
    SchemaError,
    decode,
    encode_bundle,
    recheck_evidence_owner,
    strip_bundle,
)

JPEG_A = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"
JPEG_B = b"\xff\xd8\xff\xe0" + bytes(range(255, -1, -1)) * 3 + b"\xff\xd9"


def _pic(data: bytes, evidence_id: str, owner: str = "e1", **kw) -> EvidenceMessage:
    fields = dict(site_id="s1", camera_id="c1", evidence_id=evidence_id, event_id=owner)
    fields.update(kw)
    return EvidenceMessage.from_jpeg(data, width=64, height=48, **fields)


PICS = [_pic(JPEG_A, "ev1"), _pic(JPEG_B, "ev2", kind="clean")]


def _event(pictures=PICS) -> EventMessage:
    return schema_event(evidence=[p.ref() for p in pictures])


def _split(payload: bytes) -> tuple[dict, bytes]:
    n = struct.unpack(">I", payload[4:8])[0]
    return json.loads(payload[8 : 8 + n]), payload[8 + n :]


def _join(header: dict, data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return BUNDLE_MAGIC + struct.pack(">I", len(raw)) + raw + data


def test_round_trip_keeps_every_picture_byte_for_byte() -> None:
    head = _event()
    back = decode(encode_bundle(head, PICS))
    assert isinstance(back, Bundle) and back.head == head
    assert [p.data() for p in back.evidence] == [JPEG_A, JPEG_B] and back.evidence == tuple(PICS)
    assert (back.message_id, back.site_id, back.camera_id) == (head.message_id, "s1", "c1")


def test_a_bundle_may_carry_only_some_of_its_references() -> None:
    back = decode(encode_bundle(_event(), PICS[1:]))
    assert [p.evidence_id for p in back.evidence] == ["ev2"] and len(back.head.evidence) == 2


def test_recheck_result_bundles_with_its_own_owner() -> None:
    pic = _pic(JPEG_A, "ev9", owner=recheck_evidence_owner("cmd-1"))
    head = RecheckResult(
        site_id="s1", camera_id="c1", command_id="cmd-1", zone_id="z1", result="present", ts=1.0, evidence=[pic.ref()]
    )
    assert decode(encode_bundle(head, [pic])).head == head
    with pytest.raises(ValueError, match="another event"):
        encode_bundle(head, [_pic(JPEG_A, "ev9")])  # a picture of event e1, not of this recheck


def test_strip_leaves_the_event_with_its_references() -> None:
    head = _event()
    plain, n = strip_bundle(encode_bundle(head, PICS))
    assert n == 2 and decode(plain) == head


def _tampered_picture() -> bytes:
    header, data = _split(encode_bundle(_event(), PICS))
    return _join(header, data[:10] + bytes([data[10] ^ 1]) + data[11:])


def _unreferenced() -> bytes:
    header, data = _split(encode_bundle(_event(), PICS))
    header["head"]["evidence"] = header["head"]["evidence"][:1]
    return _join(header, data)


def _wrong_owner() -> bytes:
    header, data = _split(encode_bundle(_event(), PICS))
    header["evidence"][0]["event_id"] = "e2"
    return _join(header, data)


def _version(v) -> bytes:
    header, data = _split(encode_bundle(_event(), PICS))
    header["v"] = v
    return _join(header, data)


def _head_type() -> bytes:
    header, data = _split(encode_bundle(_event(), PICS))
    header["head"] = json.loads(PICS[0].model_dump_json())
    return _join(header, data)


def _twice() -> bytes:
    header, data = _split(encode_bundle(_event(), PICS[:1]))
    header["evidence"] = header["evidence"] * 2
    return _join(header, data * 2)


@pytest.mark.parametrize(
    ("payload_fn", "reason"),
    [
        (_tampered_picture, "sha256 does not match"),
        (lambda: encode_bundle(_event(), PICS) + b"\0", "after the last picture"),
        (lambda: encode_bundle(_event(), PICS)[:-1], "its references need more"),
        (_unreferenced, "not referenced by its head"),
        (_wrong_owner, "another event or camera"),
        (lambda: _version(2), "unsupported schema version"),
        (_head_type, "not an event or recheck result"),
        (_twice, "attached twice"),
        (lambda: BUNDLE_MAGIC + struct.pack(">I", 5) + b"{nope", "not JSON"),
        (lambda: BUNDLE_MAGIC + b"\0", "shorter than its header"),
    ],
    ids=["tampered", "trailing", "truncated", "unreferenced", "owner", "version", "head", "twice", "json", "short"],
)
def test_bad_bundles_are_refused_with_a_reason(payload_fn, reason: str) -> None:
    with pytest.raises(SchemaError, match=reason):
        decode(payload_fn())
