"""Map coordinates: WGS84 → GCJ-02 as published (the reference point of the widely used coordtransform
library), its inverse, no shift outside China; the map's features in the tiles' datum."""

from __future__ import annotations

import math

import pytest

from central.web.coords import gcj02_to_wgs84, to_map, wgs84_to_gcj02


def test_wgs84_to_gcj02_matches_the_reference() -> None:
    lat, lon = wgs84_to_gcj02(39.915, 116.404)
    assert lat == pytest.approx(39.91640428150164, abs=1e-12)
    assert lon == pytest.approx(116.41024449916938, abs=1e-12)
    # the shift in Beijing is several hundred metres: drawing WGS84 on GCJ-02 tiles would be visibly off
    metres = math.hypot((lat - 39.915) * 111_000, (lon - 116.404) * 111_000 * math.cos(math.radians(39.915)))
    assert 300 < metres < 800


@pytest.mark.parametrize(("lat", "lon"), [(31.2304, 121.4737), (22.5431, 114.0579), (30.5728, 104.0668)])
def test_gcj02_inverse_round_trips(lat: float, lon: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert back == pytest.approx((lat, lon), abs=1e-8)


def test_outside_china_and_wgs84_tiles_are_not_shifted() -> None:
    assert wgs84_to_gcj02(51.5074, -0.1278) == (51.5074, -0.1278)
    assert to_map(31.2304, 121.4737, "wgs84") == (31.2304, 121.4737)
    assert to_map(31.2304, 121.4737, "gcj02") == wgs84_to_gcj02(31.2304, 121.4737)


def test_map_features_in_the_tiles_datum(tmp_path) -> None:
    import central.orm  # noqa: F401
    from central.db import make_engine, make_session_factory
    from central.domain import registry
    from central.domain.shop_schema import ShopIn
    from central.orm.base import Base
    from central.web.map_data import map_features

    try:
        import central.orm.events  # noqa: F401
    except ImportError:
        pass
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as s:
        lat, lon = 31.2304, 121.4737
        d = 0.0001
        registry.create_shop(s, ShopIn.model_validate({
            "id": "a", "name": "甲", "address": "1 Road", "road": "Road",
            "footprint": [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]],
            "zones": [{"camera_id": "cam-1", "zone_id": "z-a", "polygon": [[0, 0], [9, 0], [9, 9]]}]}), actor="t")
        from central.orm.shops import Camera

        s.add(Camera(camera_id="cam-pole", site_id="site-1", extra={"lat": 31.24, "lon": 121.48}))
        s.commit()
        wgs = map_features(s, "wgs84")
        gcj = map_features(s, "gcj02")
    engine.dispose()
    assert wgs["shops"][0]["lat"] == pytest.approx(lat, abs=1e-6)
    glat, glon = wgs84_to_gcj02(lat, lon)
    assert gcj["shops"][0]["lat"] == pytest.approx(glat, abs=1e-6) and gcj["shops"][0]["lon"] == pytest.approx(glon,
                                                                                                                abs=1e-6)
    assert gcj["cameras"][0] == {"id": "cam-1", "state": "unknown", "lat": gcj["shops"][0]["lat"],
                                 "lon": gcj["shops"][0]["lon"]}
    plat, plon = wgs84_to_gcj02(31.24, 121.48)  # a camera placed in the registry sits where it says
    assert gcj["cameras"][1] == {"id": "cam-pole", "state": "unknown", "lat": round(plat, 7), "lon": round(plon, 7)}
