"""Every message that crosses MQTT between edge and central. Both sides import this module.

Each payload is one JSON object with `"v": 1` and a `"type"` discriminator, except evidence, which travels
in a binary frame so that a JPEG is neither base64-encoded (a third larger) nor parsed as JSON text:

    b"\x00DLB" | header length (uint32, big-endian) | header: the JSON object | JPEG bytes

The leading NUL can never start JSON text, so `decode()` tells the two forms apart by their first bytes.
Evidence has no JSON form: a JSON evidence object is refused.

An event (or a recheck result) and the pictures it names usually travel together as one `Bundle`, so that
central stores them in one transaction before it acknowledges the one message:

    b"\x00DLE" | header length (uint32, big-endian) | header | JPEG bytes, one after another

where the header is `{"v": 1, "type": "bundle", "head": <the event object>, "evidence": [<evidence
header>, ...]}` and each picture's length is the `size` of the head's reference to it. A picture that does
not fit the message limit, or that the edge spool stripped at its cap, travels (or is missing) on its own.

`decode()` never raises anything but `SchemaError`, whose `reason` is short and safe to store in a
dead-letter table: JSON nested deeper than `MAX_DEPTH` (a payload of 1,000 `[` would make `json.loads` raise
`RecursionError`) is refused by a cheap scan before it is parsed, non-finite numbers (`NaN`, `Infinity`) are
refused while parsing, and any other exception on the way is turned into a `SchemaError` too.

Ids: `message_id` is unique per message (central stores a message at most once by it);
`event_id` names one violation episode in one zone and is shared by its start / update / end messages,
which are ordered by `seq`. Both are UUIDv7 strings, so they sort by creation time.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from wire.ids import new_id

VERSION = 1
MAX_MESSAGE_BYTES = 2 * 1024 * 1024
MAX_EVIDENCE_BYTES = 1024 * 1024
MAX_BOXES = 256
MAX_EVIDENCE_ITEMS = 16  # evidence pictures one event or recheck result references (and a bundle carries)
BINARY_MAGIC = b"\x00DLB"
BUNDLE_MAGIC = b"\x00DLE"
MAX_HEADER_BYTES = 64 * 1024
MAX_DEPTH = 32  # JSON nesting a valid message never comes near (an event's boxes are 3 deep)
MAX_ZONES_BYTES = 32 * 1024  # a zones document (zones/README.md layout) carried by a command or a proposal
_FRAME = struct.Struct(">4sI")
_DATA = "evidence_data"  # validation-context key of a binary frame's JPEG bytes

Violation = Literal["cross_door_trading", "piled_goods"]
CROSS_DOOR_TRADING = "cross_door_trading"
PILED_GOODS = "piled_goods"
VIOLATIONS: tuple[str, ...] = (CROSS_DOOR_TRADING, PILED_GOODS)
Phase = Literal["start", "update", "end"]
EvidenceKind = Literal["annotated", "clean", "crop"]
# Why an episode ended. "cleared": the zone was clear for `clear_s` (the goods were taken away); every other
# reason says the edge stopped watching (zone removed or redrawn, worker stopped, file ended, ...) and says
# nothing about the goods. Free text within the pattern, so a newer edge's reason is not refused.
END_CLEARED = "cleared"
EndReason = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z_]+$")]
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Box = Annotated[list[float], Field(min_length=4, max_length=4)]
# A detector's name: its model file name (e.g. "yolox_nano.onnx"), as the edge's settings and central's
# commands name it; never a path.
ModelName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.+\-]+$")]


def model_name(key: str) -> str:
    """The `ModelName` of a detector key (a file name or a path): the file name, other characters as _."""
    name = re.sub(r"[^A-Za-z0-9_.+\-]", "_", str(key).replace("\\", "/").rsplit("/", 1)[-1])
    return name[:128] or "unknown"


class SchemaError(ValueError):
    """A payload that is not a valid Doorline message. `reason` says why, in one line."""

    def __init__(self, reason: str):
        if len(reason) > 500:  # a reason may quote the payload (an unknown type, a version): never at length
            reason = reason[:499] + "…"
        super().__init__(reason)
        self.reason = reason


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = VERSION
    message_id: Id = Field(default_factory=new_id)
    site_id: Id
    camera_id: Id
    sent_at: float = Field(default_factory=time.time, description="unix seconds when the edge made it")


class EvidenceRef(BaseModel):
    """An event's reference to one of its pictures. A picture's role is its phase (that of the event message
    that references it; the edge also names it in the id, `{event_id}.{seq}-{phase}.{i}`, see
    `evidence_phase`) and its `kind`: `annotated` (full frame, zone and boxes drawn, caption in a band
    outside the picture), `clean` (the full frame untouched) or `crop` (a box with context, no caption over
    it). An event lists its annotated frame first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    evidence_id: Id
    sha256: Sha256
    kind: EvidenceKind = "annotated"
    size: int = Field(ge=0, le=MAX_EVIDENCE_BYTES)


class GeoPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_m: float | None = None
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000,
                                     description="1-sigma radius of a point projected from a drone's camera")


class EventMessage(_Message):
    """One phase of a violation episode in one zone."""

    type: Literal["event"] = "event"
    event_id: Id
    seq: int = Field(ge=0, description="0 for start, then +1 per update; end is the last")
    zone_id: Id | None = Field(default=None, description="None for drone events located by geo only")
    shop_id: Id | None = None
    violation: Violation
    phase: Phase
    ts: float = Field(description="unix seconds of the frame that produced this phase")
    video_ts: float | None = Field(default=None, ge=0, description="seconds from the start of a file source")
    score: float = Field(ge=0, le=1)
    boxes: list[Box] = Field(default_factory=list, max_length=MAX_BOXES)
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=MAX_EVIDENCE_ITEMS)
    source_kind: Literal["fixed", "drone"] = "fixed"
    geo: GeoPoint | None = None
    command_id: Id | None = Field(default=None, description="set when the phase answers a central command")
    end_reason: EndReason | None = Field(
        default=None,
        description="an end's reason: 'cleared' (the zone was clear; also when absent) or why the edge stopped "
        "watching: zone_removed, zone_changed, stopped, end_of_stream, camera_failed (edge.lifecycle)",
    )
    model: ModelName | None = Field(
        default=None, description="the detector that saw it (model file name); None from older edges"
    )

    @model_validator(mode="after")
    def _located(self) -> EventMessage:
        if self.zone_id is None and self.geo is None:
            raise ValueError("an event needs a zone_id or a geo point")
        if self.end_reason is not None and self.phase != "end":
            raise ValueError("only an end carries an end_reason")
        return self

    @property
    def goods_cleared(self) -> bool:
        """An end that saw the zone clear (not one the edge sent because it stopped watching)."""
        return self.phase == "end" and self.end_reason in (None, END_CLEARED)


class EvidenceMessage(_Message):
    """A JPEG that proves an event. Travels on its own topic; the event carries its id and hash."""

    type: Literal["evidence"] = "evidence"
    evidence_id: Id
    event_id: Id
    kind: EvidenceKind = "annotated"
    content_type: Literal["image/jpeg"] = "image/jpeg"
    sha256: Sha256
    width: int = Field(gt=0, le=16384)
    height: int = Field(gt=0, le=16384)
    # The JPEG: the bytes after the binary frame's header. Passed in through the validation context, so no
    # copy of it is a field.
    _data: bytes = PrivateAttr(default=b"")

    @model_validator(mode="after")
    def _hash_matches(self, info: ValidationInfo) -> EvidenceMessage:
        data = info.context.get(_DATA) if isinstance(info.context, dict) else None
        if data is None:
            raise ValueError("evidence carries no data (build it with EvidenceMessage.from_jpeg)")
        if len(data) > MAX_EVIDENCE_BYTES:
            raise ValueError(f"evidence larger than {MAX_EVIDENCE_BYTES} bytes")
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise ValueError("evidence sha256 does not match its data")
        if not data.startswith(b"\xff\xd8"):
            raise ValueError("evidence data is not a JPEG")
        self._data = bytes(data)
        return self

    def data(self) -> bytes:
        return self._data

    @classmethod
    def from_jpeg(cls, jpeg: bytes, *, width: int, height: int, **fields: Any) -> EvidenceMessage:
        """Raises pydantic.ValidationError like the constructor."""
        return cls.model_validate(
            {"sha256": hashlib.sha256(jpeg).hexdigest(), "width": width, "height": height, **fields},
            context={_DATA: jpeg},
        )

    def ref(self) -> EvidenceRef:
        return EvidenceRef(evidence_id=self.evidence_id, sha256=self.sha256, kind=self.kind, size=len(self.data()))


def _bounded_zones(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """A zones document travels as JSON of at most MAX_ZONES_BYTES; its content is checked by zones.io."""
    if doc is not None and len(json.dumps(doc, separators=(",", ":"))) > MAX_ZONES_BYTES:
        raise ValueError(f"zones document over {MAX_ZONES_BYTES} bytes")
    return doc


class ZoneProposal(BaseModel):
    """Realigned zones the edge proposes for a camera whose view moved (edge/realign.py), until an operator
    accepts them or redraws the zones."""

    model_config = ConfigDict(extra="forbid")

    zones: dict[str, Any]
    shift_px: float = Field(ge=0)
    inliers: int = Field(ge=0)
    at: float = Field(description="unix seconds of the view change")

    @model_validator(mode="after")
    def _size(self) -> ZoneProposal:
        _bounded_zones(self.zones)
        return self


class StatusMessage(_Message):
    """Edge heartbeat, retained per camera; the broker publishes the `offline` last will."""

    type: Literal["status"] = "status"
    edge_id: Id
    state: Literal["online", "degraded", "offline"]
    source_state: str = Field(default="", max_length=200)
    fps: float = Field(default=0.0, ge=0)
    spool_depth: int = Field(default=0, ge=0)
    spool_bytes: int = Field(default=0, ge=0)
    detail: str = Field(default="", max_length=1000)
    proposal: ZoneProposal | None = None  # this camera's realigned zones, while they wait for an operator


class CommandMessage(_Message):
    """Central → edge."""

    type: Literal["command"] = "command"
    command_id: Id = Field(default_factory=new_id)
    cmd: Literal["recheck", "reload_zones", "set_fps"]
    zone_id: Id | None = None
    case_id: Id | None = None
    fps: float | None = Field(default=None, gt=0, le=60)
    zones: dict[str, Any] | None = None  # reload_zones: the camera's new zones document (else its file is re-read)
    model: ModelName | None = Field(
        default=None,
        description="reload_zones only: the detector this camera runs from now on (a model file name the edge "
        "finds in its models folder); the edge keeps the previous one loaded, so naming it again rolls back",
    )

    @model_validator(mode="after")
    def _args(self) -> CommandMessage:
        if self.cmd == "recheck" and not self.zone_id:
            raise ValueError("recheck needs a zone_id")
        if self.zones is not None:
            if self.cmd != "reload_zones":
                raise ValueError("only reload_zones carries zones")
            _bounded_zones(self.zones)
        if self.cmd == "set_fps" and self.fps is None:
            raise ValueError("set_fps needs fps")
        if self.model is not None and self.cmd != "reload_zones":
            raise ValueError("only reload_zones names a model")
        return self


class ReceiptMessage(_Message):
    """Central → edge: these messages (by `message_id`) are stored, or dead-lettered for good; an edge that
    waits for receipts may now delete them from its spool."""

    type: Literal["receipt"] = "receipt"
    message_ids: list[Id] = Field(min_length=1, max_length=1024)


def evidence_phase(evidence_id: str) -> str | None:
    """"start", "update" or "end" for an edge's evidence id `{event_id}.{seq}-{phase}.{i}`; "recheck" for a
    recheck's picture; None for an id of another form."""
    parts = evidence_id.rsplit(".", 2)
    if len(parts) == 3:
        tag = parts[1].rpartition("-")[2]
        if tag in ("start", "update", "end", "recheck"):
            return tag
    return None


def recheck_evidence_owner(command_id: str) -> str:
    """The `event_id` of the evidence pictures that answer recheck command `command_id`."""
    return f"recheck:{command_id}"


class RecheckResult(_Message):
    """Edge → central: the answer to a recheck command, judged on fresh frames. Its evidence pictures carry
    `event_id = recheck_evidence_owner(command_id)`."""

    type: Literal["recheck_result"] = "recheck_result"
    command_id: Id
    case_id: Id | None = None
    zone_id: Id
    result: Literal["clear", "present", "unknown"]
    ts: float
    score: float = Field(default=0.0, ge=0, le=1)
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=MAX_EVIDENCE_ITEMS)
    detail: str = Field(default="", max_length=1000)


Message = Annotated[
    EventMessage | EvidenceMessage | StatusMessage | CommandMessage | RecheckResult | ReceiptMessage,
    Field(discriminator="type"),
]
_adapter: TypeAdapter[Message] = TypeAdapter(Message)


def evidence_owner(head: EventMessage | RecheckResult) -> str:
    """The `event_id` that the evidence pictures of `head` carry."""
    return head.event_id if isinstance(head, EventMessage) else recheck_evidence_owner(head.command_id)


@dataclass(frozen=True)
class Bundle:
    """An event (or recheck result) with some or all of the evidence pictures it names, as one payload.
    `decode()` checks that every picture is one the head references, by id, hash, kind and size."""

    head: EventMessage | RecheckResult
    evidence: tuple[EvidenceMessage, ...]

    type = "bundle"

    @property
    def message_id(self) -> str:
        return self.head.message_id

    @property
    def site_id(self) -> str:
        return self.head.site_id

    @property
    def camera_id(self) -> str:
        return self.head.camera_id

    def __post_init__(self) -> None:
        refs = {r.evidence_id: r for r in self.head.evidence}
        owner = evidence_owner(self.head)
        seen: set[str] = set()
        for ev in self.evidence:
            ref = refs.get(ev.evidence_id)
            if ref is None:
                raise ValueError(f"evidence {ev.evidence_id} is not referenced by its {self.head.type}")
            if (ref.sha256, ref.kind, ref.size) != (ev.sha256, ev.kind, len(ev.data())):
                raise ValueError(f"evidence {ev.evidence_id} differs from its reference (sha256, kind or size)")
            if ev.event_id != owner or (ev.site_id, ev.camera_id) != (self.head.site_id, self.head.camera_id):
                raise ValueError(f"evidence {ev.evidence_id} belongs to another event or camera")
            if ev.evidence_id in seen:
                raise ValueError(f"evidence {ev.evidence_id} attached twice")
            seen.add(ev.evidence_id)


def encode_bundle(head: EventMessage | RecheckResult, evidence: list[EvidenceMessage]) -> bytes:
    """The payload of `head` carrying `evidence` (each one must be referenced by `head`)."""
    Bundle(head, tuple(evidence))  # the same checks decode() makes, so a bad bundle fails at the sender
    header = b"".join(
        (
            b'{"v":1,"type":"bundle","head":',
            head.model_dump_json().encode("utf-8"),
            b',"evidence":[',
            b",".join(e.model_dump_json().encode("utf-8") for e in evidence),
            b"]}",
        )
    )
    return b"".join((_FRAME.pack(BUNDLE_MAGIC, len(header)), header, *(e.data() for e in evidence)))


def strip_bundle(payload: bytes) -> tuple[bytes, int]:
    """A bundle without its pictures: (the head's plain JSON payload, how many pictures were dropped). The
    head keeps its references, so central records the pictures as missing."""
    header, _ = _split_frame(payload)
    obj = json.loads(header)
    return json.dumps(obj["head"], separators=(",", ":")).encode("utf-8"), len(obj["evidence"])


def bundle_overhead(head: EventMessage | RecheckResult) -> int:
    """Bytes of a bundle of `head` beyond its pictures, with room for the evidence headers (~400 bytes each)."""
    return _FRAME.size + 64 + len(head.model_dump_json()) + 512 * len(head.evidence)

# a JSON string, or an unterminated one up to the end: possessive, so it never backtracks and never fails to
# match at a quote (a pattern that can fail there rescans the rest of the payload from every quote: quadratic)
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_TO_PARENS = bytes.maketrans(b"[]{}", b"()()")


def check_depth(raw: bytes, limit: int = MAX_DEPTH) -> None:
    """Raise SchemaError when the JSON text `raw` nests arrays/objects deeper than `limit` (or has brackets
    that can never balance), before anything parses it. C-speed work only: strings are cut out, the
    brackets kept, and innermost pairs removed `limit` times; an opening bracket left over is too deep."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return  # cannot nest deeper than it has brackets
    brackets = _JSON_STRING.sub(b"", raw).translate(_TO_PARENS, _NOT_BRACKET)
    for _ in range(limit):
        if b"()" not in brackets:
            break
        brackets = brackets.replace(b"()", b"")
    if b"(" in brackets:
        raise SchemaError(f"JSON nested deeper than {limit} levels (or unbalanced brackets)")


def _reject_constant(name: str) -> Any:
    raise SchemaError(f"not JSON: {name} is not a number a message may carry")


def _loads(text: bytes, what: str) -> Any:
    """`json.loads` after the depth check; only SchemaError escapes (RecursionError, a 5,000-digit integer's
    ValueError, MemoryError, ... included)."""
    check_depth(text)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except SchemaError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{what} is not JSON: {exc}"[:500]) from None
    except Exception as exc:  # noqa: BLE001 -- whatever the parser throws, the payload is refused, not the caller
        raise SchemaError(f"{what} is not JSON: {type(exc).__name__}: {exc}"[:500]) from None


def _decode_bundle(raw: bytes) -> Bundle:
    header, data = _split_frame(raw)
    obj = _loads(header, "bundle header")
    if not isinstance(obj, dict) or obj.get("type") != "bundle":
        raise SchemaError("bundle header is not a bundle object")
    if obj.get("v") != VERSION:
        raise SchemaError(f"unsupported schema version {obj.get('v')!r} (this side speaks v{VERSION})")
    head_obj, parts = obj.get("head"), obj.get("evidence")
    if not isinstance(head_obj, dict) or head_obj.get("type") not in ("event", "recheck_result"):
        raise SchemaError("bundle head is not an event or recheck result")
    if not isinstance(parts, list) or len(parts) > MAX_EVIDENCE_ITEMS or not all(isinstance(p, dict) for p in parts):
        raise SchemaError(f"bundle evidence is not a list of at most {MAX_EVIDENCE_ITEMS} objects")
    head = _validate_obj(head_obj, None)
    sizes = {r.evidence_id: r.size for r in head.evidence}
    offset = 0
    evidence = []
    for part in parts:
        if part.get("type") != "evidence":
            raise SchemaError("invalid bundle: an attached part is not evidence")
        key = part.get("evidence_id")
        size = sizes.get(key) if isinstance(key, str) else None
        if size is None:
            raise SchemaError(f"invalid bundle: evidence {part.get('evidence_id')!r} is not referenced by its head")
        if offset + size > len(data):
            raise SchemaError(f"invalid bundle: {len(data)} bytes of pictures, its references need more")
        evidence.append(_validate_obj(part, {_DATA: data[offset : offset + size]}))
        offset += size
    if offset != len(data):
        raise SchemaError(f"invalid bundle: {len(data) - offset} bytes after the last picture")
    try:
        return Bundle(head, tuple(evidence))
    except ValueError as exc:
        raise SchemaError(f"invalid bundle: {exc}") from None


def _validate_obj(obj: dict[str, Any], context: dict[str, bytes] | None) -> Any:
    try:
        return _adapter.validate_python(obj, context=context)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != obj.get("type"))
        raise SchemaError(f"invalid {obj.get('type')}: {where}: {first.get('msg')}"[:500]) from None


def encode(message: _Message) -> bytes:
    """The payload of `message`: JSON, or for evidence the binary frame."""
    if isinstance(message, EvidenceMessage):
        header = message.model_dump_json().encode("utf-8")
        return b"".join((_FRAME.pack(BINARY_MAGIC, len(header)), header, message.data()))
    return message.model_dump_json().encode("utf-8")


def _split_frame(raw: bytes) -> tuple[bytes, bytes]:
    """(header JSON, JPEG bytes) of a binary evidence frame."""
    if len(raw) < _FRAME.size:
        raise SchemaError("binary frame shorter than its header")
    _, n = _FRAME.unpack_from(raw)
    if n > MAX_HEADER_BYTES or _FRAME.size + n > len(raw):
        raise SchemaError(f"binary frame announces a header of {n} bytes in a payload of {len(raw)}")
    return raw[_FRAME.size : _FRAME.size + n], raw[_FRAME.size + n :]


def decode(payload: bytes | str, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Message | Bundle:
    """Parse and validate one payload (JSON, a binary evidence frame or a bundle). Raises only `SchemaError`,
    whatever the payload holds."""
    try:
        return _decode(payload, max_bytes)
    except SchemaError:
        raise
    except Exception as exc:  # noqa: BLE001 -- a bug here must refuse the payload, not stop its consumer
        raise SchemaError(f"undecodable payload: {type(exc).__name__}: {exc}"[:500]) from None


def _decode(payload: bytes | str, max_bytes: int) -> Message | Bundle:
    if isinstance(payload, str):
        if len(payload) > max_bytes:  # before encoding it: a huge str is refused without a copy
            raise SchemaError(f"payload of {len(payload)} characters exceeds the limit of {max_bytes} bytes")
        payload = payload.encode("utf-8", "surrogatepass")
    raw = bytes(payload)
    if len(raw) > max_bytes:
        raise SchemaError(f"payload of {len(raw)} bytes exceeds the limit of {max_bytes}")
    if raw.startswith(BUNDLE_MAGIC):
        return _decode_bundle(raw)
    context: dict[str, bytes] | None = None
    if raw.startswith(BINARY_MAGIC):
        raw, data = _split_frame(raw)
        context = {_DATA: data}
    obj = _loads(raw, "payload")
    if not isinstance(obj, dict):
        raise SchemaError("payload is not a JSON object")
    if "v" not in obj:
        raise SchemaError("missing schema version 'v'")
    if obj["v"] != VERSION:
        raise SchemaError(f"unsupported schema version {obj['v']!r} (this side speaks v{VERSION})")
    if obj.get("type") not in {"event", "evidence", "status", "command", "recheck_result", "receipt"}:
        raise SchemaError(f"unknown message type {obj.get('type')!r}")
    if context is not None and obj["type"] != "evidence":
        raise SchemaError(f"a binary frame holds evidence, not {obj['type']!r}")
    if obj["type"] == "evidence" and context is None:
        raise SchemaError("invalid evidence: evidence travels in a binary frame (a JSON evidence object is refused)")
    return _validate_obj(obj, context)
