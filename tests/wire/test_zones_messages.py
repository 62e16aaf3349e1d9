"""Zones on the wire: a reload_zones command may carry the camera's zones document, a status its camera's
realigned zones; both are size-bounded and optional (schema v1 unchanged for everyone else)."""

from __future__ import annotations

import pytest

from testkit.footage import bag_zones
from wire.schema import (
    MAX_ZONES_BYTES,
    CommandMessage,
    SchemaError,
    StatusMessage,
    ZoneProposal,
    decode,
    encode,
)


def test_a_reload_carries_a_zones_document_and_old_commands_still_decode() -> None:
    doc = bag_zones(camera_id="cam-1")
    cmd = decode(encode(CommandMessage(site_id="s", camera_id="cam-1", cmd="reload_zones", zones=doc)))
    assert isinstance(cmd, CommandMessage) and cmd.zones == doc
    plain = decode(b'{"v": 1, "type": "command", "site_id": "s", "camera_id": "c", "cmd": "reload_zones"}')
    assert plain.zones is None


def test_only_a_reload_carries_zones_and_never_an_oversized_document() -> None:
    with pytest.raises(ValueError, match="only reload_zones"):
        CommandMessage(site_id="s", camera_id="c", cmd="set_fps", fps=2, zones={"camera_id": "c"})
    huge = {"camera_id": "c", "zones": [{"zone_id": f"z-{i}", "polygon": [[0, 0], [1, 0], [1, 1]] * 50}
                                       for i in range(200)]}
    with pytest.raises(ValueError, match=f"over {MAX_ZONES_BYTES} bytes"):
        CommandMessage(site_id="s", camera_id="c", cmd="reload_zones", zones=huge)
    raw = encode(CommandMessage(site_id="s", camera_id="c", cmd="reload_zones", zones={"camera_id": "c"}))
    with pytest.raises(SchemaError):
        decode(raw.replace(b'"reload_zones"', b'"recheck"'))


def test_a_status_carries_a_proposal() -> None:
    proposal = ZoneProposal(zones=bag_zones(camera_id="cam-1"), shift_px=67.1, inliers=582, at=1.7e9)
    msg = decode(encode(StatusMessage(site_id="s", camera_id="cam-1", edge_id="e", state="degraded",
                                      proposal=proposal)))
    assert msg.proposal == proposal
    assert decode(encode(StatusMessage(site_id="s", camera_id="c", edge_id="e", state="online"))).proposal is None
