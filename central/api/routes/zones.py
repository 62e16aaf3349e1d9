"""Camera zones → shops, and cameras (whether their alerts may confirm themselves)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from central.api.bounds import Offset
from central.api.deps import AdminUser, ScopeDep, SessionDep, ViewerUser
from central.domain import audit, registry
from central.domain.errors import Conflict, NotFound
from central.domain.shop_schema import ZoneIn, ZonePublic
from central.orm.shops import Camera, ShopZone

router = APIRouter(prefix="/api/zones", tags=["zones"])

IdPath = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class ZoneAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: str = Field(min_length=1, max_length=64)
    polygon: list[list[float]] | None = None


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str = Field(default="", max_length=128)
    trusted: bool = False
    description: str = Field(default="", max_length=2000)


class CameraOut(CameraIn):
    model_config = ConfigDict(from_attributes=True)

    camera_id: str


@router.get("", response_model=list[ZonePublic])
def list_zones(
    session: SessionDep,
    _: ViewerUser,
    scope: ScopeDep,
    camera_id: str | None = None,
    shop_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Offset = 0,
) -> Any:
    stmt = (select(ShopZone).where(scope.by_shop(ShopZone.shop_id))
            .order_by(ShopZone.camera_id, ShopZone.zone_id).limit(limit).offset(offset))
    if camera_id:
        stmt = stmt.where(ShopZone.camera_id == camera_id)
    if shop_id:
        stmt = stmt.where(ShopZone.shop_id == shop_id)
    return list(session.scalars(stmt))


@router.get("/cameras", response_model=list[CameraOut])
def list_cameras(session: SessionDep, _: ViewerUser) -> Any:
    return list(session.scalars(select(Camera).order_by(Camera.camera_id)))


@router.put("/cameras/{camera_id}", response_model=CameraOut)
def put_camera(camera_id: IdPath, body: CameraIn, session: SessionDep, user: AdminUser) -> Any:
    cam = session.get(Camera, camera_id) or Camera(camera_id=camera_id)
    cam.site_id, cam.trusted, cam.description = body.site_id, body.trusted, body.description
    session.add(cam)
    session.flush()
    audit.record(
        session,
        actor=user.username,
        action="camera.update",
        details={"camera_id": camera_id, "trusted": body.trusted},
    )
    session.commit()
    return cam


def _zone(session, camera_id: str, zone_id: str) -> ShopZone:
    zone = session.scalar(select(ShopZone).where(ShopZone.camera_id == camera_id, ShopZone.zone_id == zone_id))
    if zone is None:
        raise NotFound(f"no zone {camera_id}/{zone_id}")
    return zone


@router.get("/{camera_id}/{zone_id}", response_model=ZonePublic)
def get_zone(camera_id: IdPath, zone_id: IdPath, session: SessionDep, _: ViewerUser, scope: ScopeDep) -> Any:
    zone = _zone(session, camera_id, zone_id)
    scope.check_shop_id(session, zone.shop_id, f"zone {camera_id}/{zone_id}")
    return zone


@router.put(
    "/{camera_id}/{zone_id}",
    response_model=ZonePublic,
    responses={409: {"description": "the zone belongs to another shop"}},
)
def put_zone(camera_id: IdPath, zone_id: IdPath, body: ZoneAssign, session: SessionDep, user: AdminUser) -> Any:
    """Give a camera zone to a shop (or update its polygon). Moving a zone: delete it first."""
    try:
        ZoneIn(camera_id=camera_id, zone_id=zone_id, polygon=body.polygon)  # validates the polygon
    except ValidationError as exc:  # bad input found late is still bad input: 422, not 500
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    registry.get_shop(session, body.shop_id)
    zone = session.scalar(select(ShopZone).where(ShopZone.camera_id == camera_id, ShopZone.zone_id == zone_id))
    if zone is not None and zone.shop_id != body.shop_id:
        raise Conflict(f"zone {camera_id}/{zone_id} belongs to shop {zone.shop_id}")
    if zone is None:
        zone = ShopZone(camera_id=camera_id, zone_id=zone_id, shop_id=body.shop_id, source="registry")
        session.add(zone)
    zone.polygon = body.polygon
    session.flush()
    audit.record(
        session,
        actor=user.username,
        action="zone.put",
        shop_id=body.shop_id,
        details={"camera_id": camera_id, "zone_id": zone_id},
    )
    session.commit()
    return zone


@router.delete("/{camera_id}/{zone_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_zone(camera_id: IdPath, zone_id: IdPath, session: SessionDep, user: AdminUser) -> None:
    zone = _zone(session, camera_id, zone_id)
    audit.record(
        session,
        actor=user.username,
        action="zone.delete",
        shop_id=zone.shop_id,
        details={"camera_id": camera_id, "zone_id": zone_id},
    )
    session.delete(zone)
    session.commit()
