"""Which shop answers for an event.

Fixed cameras: the (camera_id, zone_id) → shop table (`shop_zones`, filled by the registry and by operators
assigning ownerless events). Then the shop id the edge reported, if that shop exists. Drone events: the
nearest shop footprint within `settings.match_tolerance_m`, found with a shapely STRtree over all
footprints projected to local metres (equirectangular around the registry's mean latitude, good to well
under a metre across a city). The tree is cached per database and rebuilt when the registry changes.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from itertools import chain
from typing import Literal

import numpy as np
import shapely
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from central.domain.registry import registry_stamp
from central.orm.shops import Shop, ShopZone
from central.settings import CentralSettings
from wire.schema import EventMessage

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQ = 111_320.0

Method = Literal["zone", "reported", "geo"]


@dataclass(frozen=True)
class Match:
    shop_id: str | None
    method: Method | None
    distance_m: float | None = None


class FootprintIndex:
    """STRtree over shop footprints in local metres; vectorised nearest-within-tolerance queries."""

    def __init__(self, shop_ids: list[str], footprints: list[list[list[float]]]):
        self.shop_ids = np.array(shop_ids, dtype=object)
        sizes = np.fromiter((len(f) for f in footprints), dtype=np.int64, count=len(footprints))
        n_pts = int(sizes.sum())
        flat = chain.from_iterable(chain.from_iterable(footprints))
        lonlat = np.fromiter(flat, dtype=float, count=2 * n_pts).reshape(-1, 2)
        self.lat0 = float(lonlat[:, 1].mean()) if n_pts else 0.0
        self.lon0 = float(lonlat[:, 0].mean()) if n_pts else 0.0
        self.kx = M_PER_DEG_LON_EQ * math.cos(math.radians(self.lat0))
        xy = self.project(lonlat[:, 1], lonlat[:, 0])
        if len(sizes):
            # close the rings that are not closed (GeoJSON rings are; input may not be), all at once
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            ends = starts + sizes - 1
            is_open = np.any(xy[starts] != xy[ends], axis=1)
            if is_open.any():
                xy = np.insert(xy, ends[is_open] + 1, xy[starts[is_open]], axis=0)
                sizes = sizes + is_open
            ring_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            poly_offsets = np.arange(len(sizes) + 1, dtype=np.int64)
            offsets = (ring_offsets, poly_offsets)
            self.geoms = shapely.from_ragged_array(shapely.GeometryType.POLYGON, xy, offsets)
        else:
            self.geoms = np.array([], dtype=object)
        self.tree = shapely.STRtree(self.geoms)

    def project(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return np.column_stack([(np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * M_PER_DEG_LAT])

    def __len__(self) -> int:
        return len(self.shop_ids)

    def nearest(self, lat: np.ndarray, lon: np.ndarray, tolerance_m: float) -> tuple[np.ndarray, np.ndarray]:
        """For each point: the shop id (None if none within tolerance) and the distance in metres (nan)."""
        lat, lon = np.atleast_1d(lat), np.atleast_1d(lon)
        ids = np.full(len(lat), None, dtype=object)
        dist = np.full(len(lat), np.nan)
        if not len(self) or not len(lat):
            return ids, dist
        pts = shapely.points(self.project(lat, lon))
        (src, tgt), d = self.tree.query_nearest(pts, max_distance=tolerance_m, return_distance=True, all_matches=False)
        ids[src] = self.shop_ids[tgt]
        dist[src] = d
        return ids, dist


_cache: dict[str, tuple[str, FootprintIndex]] = {}
_cache_lock = threading.Lock()


def load_index(session: Session) -> FootprintIndex:
    # every footprint as JSON text, parsed in one call: per-row JSON decoding dominates otherwise
    stmt = select(Shop.id, cast(Shop.footprint, Text)).where(Shop.footprint.is_not(None))
    rows = session.execute(stmt).all()
    rows = [r for r in rows if r[1] and r[1] != "null"]
    footprints = json.loads("[" + ",".join(r[1] for r in rows) + "]") if rows else []
    return FootprintIndex([r[0] for r in rows], footprints)


def footprint_index(session: Session) -> FootprintIndex:
    """The cached index for this database, rebuilt when the registry stamp changed."""
    key = session.get_bind().url.render_as_string(hide_password=True)
    stamp = registry_stamp(session)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    index = load_index(session)
    with _cache_lock:
        _cache[key] = (stamp, index)
    return index


def zone_owner(session: Session, camera_id: str, zone_id: str) -> str | None:
    return session.scalar(select(ShopZone.shop_id).where(ShopZone.camera_id == camera_id, ShopZone.zone_id == zone_id))


def match_event(session: Session, msg: EventMessage, settings: CentralSettings) -> Match:
    if msg.zone_id is not None:
        shop = zone_owner(session, msg.camera_id, msg.zone_id)
        if shop is not None:
            return Match(shop, "zone")
    if msg.shop_id is not None and session.get(Shop, msg.shop_id) is not None:
        return Match(msg.shop_id, "reported")
    if msg.geo is not None:
        ids, dist = footprint_index(session).nearest(
            np.array([msg.geo.lat]), np.array([msg.geo.lon]), settings.match_tolerance_m
        )
        if ids[0] is not None:
            return Match(str(ids[0]), "geo", float(dist[0]))
    return Match(None, None)


def remember_zone(session: Session, camera_id: str, zone_id: str, shop_id: str, *, actor: str) -> ShopZone:
    """Record that (camera, zone) belongs to this shop, so its later events match automatically."""
    existing = session.scalar(select(ShopZone).where(ShopZone.camera_id == camera_id, ShopZone.zone_id == zone_id))
    if existing is not None:
        return existing
    zone = ShopZone(
        shop_id=shop_id,
        camera_id=camera_id,
        zone_id=zone_id,
        polygon=None,
        source="assigned",
        assigned_by=actor,
    )
    session.add(zone)
    session.flush()
    return zone
