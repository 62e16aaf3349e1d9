"""The shops of a dev-events clip (`../shared/data/dev-events/clip_NN.json`), registered with a running central
through its API: one shop per zone, the zone on the given camera. Used by the demo and the site script."""

from __future__ import annotations

from collections.abc import Callable

import httpx


def clip_shops(spec: dict, camera_id: str, street: str) -> list[dict]:
    """One shop per zone of the clip's layout, as POST /api/shops takes it."""
    return [{"id": z["shop_id"], "name": f"Shop at {z['zone_id']}", "address": f"{z['zone_id']} {street}",
             "road": street, "area": street.split()[0], "business_type": "grocery", "owner": f"{street} owner",
             "phone": "000", "zones": [{"camera_id": camera_id, "zone_id": z["zone_id"], "polygon": z["polygon"]}]}
            for z in spec["zones"]]


def register_clip_shops(client: httpx.Client, spec: dict, camera_id: str, street: str,
                        say: Callable[[str], None]) -> None:
    """Register them (the client carries an admin token); SystemExit naming the shop central refused."""
    for shop in clip_shops(spec, camera_id, street):
        r = client.post("/api/shops", json=shop)
        if r.status_code >= 300:
            raise SystemExit(f"could not register shop {shop['id']}: {r.status_code} {r.text}")
    say(f"registered {len(spec['zones'])} shops with their zones on camera {camera_id}")
