"""What the console map draws: shops coloured by grade, hot spots, cameras and drones with their online
state, open cases. Stored coordinates are WGS84; each point is converted to the tiles' datum (`to_map`).

A camera sits where its registry entry says (`cameras.extra` with `lat` and `lon`), else at the middle of the
shops whose zones it watches; a hot spot at the middle of the shops at its address."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.domain.scope import EVERYWHERE, Scope
from central.orm.cases import OPEN_STATES, Case
from central.orm.shops import Camera, Shop, ShopZone
from central.web.coords import to_map

DRONE_RECENT = timedelta(hours=1)


def _mid(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    if not points:
        return None
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def addresses_on_map(session: Session, addresses: set[str]) -> set[str]:
    """Which of these addresses the map can show a hot spot at: those with a shop that has coordinates."""
    if not addresses:
        return set()
    return set(session.scalars(select(Shop.address).where(Shop.address.in_(addresses), Shop.lat.is_not(None),
                                                          Shop.lon.is_not(None)).distinct()))


def map_features(session: Session, crs: str, now: datetime | None = None, scope: Scope = EVERYWHERE
                 ) -> dict[str, list[dict[str, Any]]]:
    """Every layer, limited to `scope`: its shops, their hot spots and open cases, the cameras watching them
    and the drone episodes in its area."""
    now = now or datetime.now(UTC)
    located = list(session.scalars(select(Shop).where(Shop.lat.is_not(None), Shop.lon.is_not(None),
                                                      scope.place(Shop.area, Shop.road))))
    where = {s.id: (s.lat, s.lon) for s in located}

    def pt(lat: float, lon: float) -> dict[str, float]:
        mlat, mlon = to_map(lat, lon, crs)
        return {"lat": round(mlat, 7), "lon": round(mlon, 7)}

    shops = [{"id": s.id, "name": s.name, "address": s.address, "grade": s.grade or "none", **pt(s.lat, s.lon)}
             for s in located]

    by_address: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in located:
        by_address[s.address].append((s.lat, s.lon))
    hot: list[dict[str, Any]] = []
    try:
        from central.domain.hotspots import hotspots
    except ImportError:
        spots = []
    else:
        spots = hotspots(session, scope=scope)
    for h in spots:
        mid = _mid(by_address.get(h.address, []))
        if mid:
            hot.append({"address": h.address, "tickets": h.tickets, **pt(*mid)})

    watched: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for z in session.scalars(select(ShopZone).where(scope.by_shop(ShopZone.shop_id))):
        if z.shop_id in where:
            watched[z.camera_id].append(where[z.shop_id])
    cameras: list[dict[str, Any]] = []
    drones: list[dict[str, Any]] = []
    try:
        from central.orm.events import EdgeStatus, Event
    except ImportError:
        statuses, recent = [], []
    else:
        statuses = list(session.scalars(select(EdgeStatus)))
        from central.domain.events import in_scope

        recent = list(session.scalars(select(Event).where(Event.source_kind == "drone", Event.lat.is_not(None),
                                                          Event.last_ts >= now - DRONE_RECENT, in_scope(scope))
                                      .order_by(Event.last_ts)))
    state = {st.camera_id: st.state for st in statuses}
    placed = {}  # a camera whose registry entry says where it is (cameras.extra {"lat": .., "lon": ..})
    for cam in session.scalars(select(Camera) if scope.everywhere
                               else select(Camera).where(Camera.camera_id.in_(scope.cameras()))):
        extra = cam.extra or {}
        if isinstance(extra.get("lat"), int | float) and isinstance(extra.get("lon"), int | float):
            placed[cam.camera_id] = (float(extra["lat"]), float(extra["lon"]))
    for camera_id in sorted(set(watched) | set(placed)):
        mid = placed.get(camera_id) or _mid(watched.get(camera_id, []))
        if mid:
            cameras.append({"id": camera_id, "state": state.get(camera_id, "unknown"), **pt(*mid)})
    last_seen: dict[str, Any] = {}
    for ev in recent:
        last_seen[ev.camera_id] = ev
    for camera_id, ev in sorted(last_seen.items()):
        drones.append({"id": camera_id, "state": state.get(camera_id, "unknown"), **pt(ev.lat, ev.lon)})

    cases = []
    for c in session.scalars(select(Case).where(Case.state.in_(OPEN_STATES), scope.by_shop(Case.shop_id))):
        lat, lon = (c.lat, c.lon) if c.lat is not None and c.lon is not None else where.get(c.shop_id, (None, None))
        if lat is not None and lon is not None:
            cases.append({"id": c.id, "state": c.state, "violation": c.violation, "shop": c.shop_id, **pt(lat, lon)})
    return {"shops": shops, "hotspots": hot, "cameras": cameras, "drones": drones, "cases": cases}
