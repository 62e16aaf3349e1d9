"""Central's side of the zone editor: a camera's zones checked (which zone, which point), stored with their
shops and sent as a reload_zones command carrying the document; realigned zones an edge proposes in its
status kept until the zones are saved. The round trip runs through a real Mosquitto with central's real
ingest (status in, outbox out) and the edge's real publisher."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from central.domain import registry, zone_editor
from central.domain.shop_schema import ShopIn
from central.orm.events import EdgeStatus, Outbox
from central.orm.shops import Camera, ShopZone
from testkit.footage import bag_zones
from wire.schema import CommandMessage, StatusMessage, ZoneProposal, decode


def _db(url: str):
    import central.orm  # noqa: F401
    from central.db import make_engine, make_session_factory
    from central.orm.base import Base

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    return engine, make_session_factory(engine)


def _seed(factory) -> None:
    with factory() as s:
        for sid in ("shop-1", "shop-2"):
            registry.create_shop(s, ShopIn.model_validate({"id": sid, "name": sid.upper(), "address": "1 Road"}),
                                 actor="test")
        registry.create_shop(s, ShopIn.model_validate({
            "id": "shop-9", "name": "Old", "address": "9 Road",
            "zones": [{"camera_id": "cam-1", "zone_id": "z-gone", "polygon": [[0, 0], [9, 0], [9, 9]]}]}),
            actor="test")
        s.add(EdgeStatus(site_id="site-1", camera_id="cam-1", edge_id="edge-1", state="online"))
        s.commit()


@pytest.fixture
def factory(db_url: str):
    engine, factory = _db(db_url)
    _seed(factory)
    yield factory
    engine.dispose()


def test_problems_name_the_zone_and_the_point(factory) -> None:
    doc = bag_zones(camera_id="cam-1")
    with factory() as s:
        assert zone_editor.problems(s, "cam-1", doc) == []
        out = copy.deepcopy(bag_zones(camera_id="cam-1"))  # its polygons are testkit's own lists
        out["zones"][1]["polygon"][2] = [900, 300]  # 768 px wide
        assert [(p.zone_id, p.point) for p in zone_editor.problems(s, "cam-1", out)] == [("z-road", 2)]
        crossed = copy.deepcopy(bag_zones(camera_id="cam-1"))  # its polygons are testkit's own lists
        crossed["zones"][0]["polygon"] = [[0, 0], [100, 100], [100, 0], [0, 100]]
        (p,) = zone_editor.problems(s, "cam-1", crossed)
        assert p.zone_id == "z-bag" and p.point is None and "not simple" in p.reason
        unknown = copy.deepcopy(bag_zones(camera_id="cam-1"))  # its polygons are testkit's own lists
        unknown["zones"][0]["shop_id"] = "shop-404"
        assert [p.reason for p in zone_editor.problems(s, "cam-1", unknown)] == ["unknown shop 'shop-404'"]
        door = copy.deepcopy(bag_zones(camera_id="cam-1"))  # its polygons are testkit's own lists
        door["zones"][0]["door_line"] = [[20, 100], [165, 100]]  # far above the zone
        assert "off the zone's edge" in zone_editor.problems(s, "cam-1", door)[0].reason
        assert "camera_id must be" in zone_editor.problems(s, "cam-1", bag_zones(camera_id="cam-2"))[0].reason


def test_saving_stores_the_zones_with_their_shops_and_queues_the_reload(factory) -> None:
    doc = bag_zones(camera_id="cam-1")
    with factory() as s:
        s.add(ShopZone(shop_id="shop-9", camera_id="cam-1", zone_id="z-assigned", source="assigned"))
        s.add(Camera(camera_id="cam-1", site_id="site-1", extra={"proposal": {"zones": doc}, "lat": 31.2}))
        s.commit()
        cmd = zone_editor.save(s, "cam-1", doc, actor="rev")
        s.commit()
    with factory() as s:
        zones = {z.zone_id: (z.shop_id, z.source) for z in s.scalars(select(ShopZone))}
        # drawn zones belong to their shops; the registry's z-gone is gone; an operator's assignment stays
        assert zones == {"z-bag": ("shop-1", "editor"), "z-road": ("shop-2", "editor"),
                         "z-assigned": ("shop-9", "assigned")}
        cam = s.get(Camera, "cam-1")
        assert cam.extra == {"zones": doc, "lat": 31.2, "settled_at": None}  # the proposal is settled
        assert zone_editor.stored_document(s, "cam-1") == doc
        (row,) = s.scalars(select(Outbox)).all()
        sent = decode(row.payload.encode())
        assert isinstance(sent, CommandMessage) and sent.cmd == "reload_zones" and sent.zones == doc
        assert (sent.site_id, sent.command_id) == ("site-1", cmd.command_id)


def test_a_status_proposal_is_kept_until_a_status_without_one(factory) -> None:
    proposal = ZoneProposal(zones=bag_zones(camera_id="cam-1"), shift_px=67.1, inliers=500, at=1.0)
    with factory() as s:
        zone_editor.note_status(s, StatusMessage(site_id="site-1", camera_id="cam-1", edge_id="e", state="degraded",
                                                 proposal=proposal))
        s.commit()
        assert zone_editor.proposal(s, "cam-1")["shift_px"] == 67.1
        zone_editor.note_status(s, StatusMessage(site_id="site-1", camera_id="cam-1", edge_id="e", state="offline"))
        assert zone_editor.proposal(s, "cam-1") is not None  # a last will says nothing about zones
        zone_editor.note_status(s, StatusMessage(site_id="site-1", camera_id="cam-1", edge_id="e", state="online"))
        s.commit()
        assert zone_editor.proposal(s, "cam-1") is None
        # accepted: a status the edge sent before it applied the zones does not bring the proposal back
        zone_editor.note_status(s, StatusMessage(site_id="site-1", camera_id="cam-1", edge_id="e", state="degraded",
                                                 proposal=proposal))
        zone_editor.save(s, "cam-1", proposal.zones, actor="rev")
        zone_editor.note_status(s, StatusMessage(site_id="site-1", camera_id="cam-1", edge_id="e", state="degraded",
                                                 proposal=proposal))
        assert zone_editor.proposal(s, "cam-1") is None
        later = proposal.model_copy(update={"at": 2.0})  # bumped again
        zone_editor.note_status(s, StatusMessage(site_id="site-1", camera_id="cam-1", edge_id="e", state="degraded",
                                                 proposal=later))
        assert zone_editor.proposal(s, "cam-1")["at"] == 2.0


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def test_proposal_in_and_zones_out_through_a_real_broker(tmp_path: Path, broker, topic_prefix: str) -> None:
    """The edge's publisher sends a status with a proposal; central's ingest keeps it; the operator saves the
    zones; central's outbox sends the reload carrying them; the edge's publisher receives it."""
    from central.evidence_store import LocalEvidenceStore
    from central.ingest import IngestService
    from central.settings import CentralSettings
    from edge.publisher import Publisher
    from wire.mqtt import MqttSettings

    url = f"sqlite:///{tmp_path / 'central.db'}"
    engine, factory = _db(url)
    _seed(factory)
    mqtt_settings = MqttSettings(host=broker.host, port=broker.port, prefix=topic_prefix)
    central = IngestService(CentralSettings(database_url=url, mqtt=mqtt_settings), factory,
                            LocalEvidenceStore(tmp_path / "ev"), client_id="central-zones", outbox_interval_s=0.1)
    edge = Publisher(mqtt_settings, edge_id="edge-1", site_id="site-1", camera_ids=["cam-1"],
                     spool_path=tmp_path / "spool", receipts=False)
    got: list[CommandMessage] = []
    arrived = threading.Event()
    edge.on_command(lambda cmd: (got.append(cmd), arrived.set()))
    central.start()
    edge.start()
    try:
        doc = bag_zones(camera_id="cam-1")
        proposal = ZoneProposal(zones=doc, shift_px=12.5, inliers=300, at=1.0)
        wait_for(lambda: edge.listening, 20, "the edge subscribed")
        edge.set_status("degraded", detail="cam-1: the view changed", proposals={"cam-1": proposal})

        def kept() -> bool:
            with factory() as s:
                return zone_editor.proposal(s, "cam-1") is not None
        wait_for(kept, 20, "central kept the proposal")
        with factory() as s:
            assert zone_editor.proposal(s, "cam-1")["zones"] == doc
            cmd = zone_editor.save(s, "cam-1", zone_editor.proposal(s, "cam-1")["zones"], actor="rev")
            s.commit()
        assert arrived.wait(20), "the reload never reached the edge"
        assert got[0].command_id == cmd.command_id and got[0].zones == doc
    finally:
        edge.stop()
        central.stop()
        engine.dispose()
