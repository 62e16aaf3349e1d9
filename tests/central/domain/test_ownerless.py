"""Events that match no shop wait in the ownerless queue; an operator's assignment is remembered for the
zone. Drone points match the nearest footprint within the tolerance."""

from __future__ import annotations

from datetime import timedelta

import pytest

from central import workflow
from central.domain import ownerless
from central.domain.errors import InvalidTransition
from central.domain.matching import match_event
from central.orm.cases import OwnerlessEvent
from central.orm.shops import ShopZone

from .conftest import T0

SQUARE = [[121.4700, 31.2300], [121.4701, 31.2300], [121.4701, 31.2301], [121.4700, 31.2301]]


def test_ownerless_assignment_is_remembered(any_session, any_world, settings) -> None:
    s, w = any_session, any_world
    w.shop("A", zone="za")
    first = w.event(zone="z-unknown", camera="cam-9")
    second = w.event(zone="z-unknown", camera="cam-9", at=T0 + timedelta(minutes=5))
    assert workflow.handle_event(s, first, settings, now=T0) is None
    assert workflow.handle_event(s, second, settings, now=T0 + timedelta(minutes=5)) is None
    assert [o.event_id for o in ownerless.queue(s)] == [first.event_id, second.event_id]

    touched = ownerless.assign(s, first.event_id, "A", actor="op", settings=settings, now=T0 + timedelta(minutes=6))
    s.commit()
    # both waiting events of that zone went to shop A's one open case
    assert len(touched) == 1 and touched[0].shop_id == "A" and touched[0].event_count == 2
    assert ownerless.queue(s) == []
    zone = s.query(ShopZone).filter_by(camera_id="cam-9", zone_id="z-unknown").one()
    assert zone.shop_id == "A" and zone.source == "assigned" and zone.assigned_by == "op"
    # the next event from that zone matches by itself
    later = workflow.handle_event(
        s,
        w.event(zone="z-unknown", camera="cam-9", violation="cross_door_trading"),
        settings,
        now=T0 + timedelta(minutes=10),
    )
    assert later is not None and later.shop_id == "A"
    with pytest.raises(InvalidTransition):
        ownerless.assign(s, first.event_id, "A", actor="op", settings=settings)


@pytest.mark.parametrize(
    "offset_deg,expect",
    [
        (0.00005, "IN"),  # inside the footprint
        (0.00018, "IN"),  # ~8.9 m north of its edge: within 15 m
        (0.00040, None),  # ~33 m away: too far
    ],
)
def test_drone_point_matches_nearest_footprint(any_session, any_world, settings, offset_deg, expect) -> None:
    session, world = any_session, any_world
    world.shop("IN", camera=None, footprint=SQUARE)
    world.shop("FAR", camera=None, footprint=[[p[0] + 0.01, p[1]] for p in SQUARE])
    msg = world.event(zone=None, geo=(31.2300 + offset_deg if offset_deg > 0.0001 else 31.23005, 121.47005))
    m = match_event(session, msg, settings)
    assert m.shop_id == expect
    if expect:
        assert m.method == "geo" and m.distance_m < settings.match_tolerance_m
    # the unmatched drone event is queued with its location
    if expect is None:
        workflow.handle_event(session, msg, settings, now=T0)
        item = session.get(OwnerlessEvent, msg.event_id)
        assert item.lat == pytest.approx(msg.geo.lat) and item.source_kind == "drone"


def test_index_follows_registry_changes(session, world, settings) -> None:
    world.shop("IN", camera=None, footprint=SQUARE)
    session.commit()
    msg = world.event(zone=None, geo=(31.23005, 121.47005 + 0.01))
    assert match_event(session, msg, settings).shop_id is None
    world.shop("NEW", camera=None, footprint=[[p[0] + 0.01, p[1]] for p in SQUARE])
    session.commit()
    assert match_event(session, msg, settings).shop_id == "NEW"
