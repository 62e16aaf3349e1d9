"""The shop registry ("one shop, one file"), the zones each shop answers for, the cameras watching them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from central.domain.clock import now_utc
from central.orm.base import Base


class Shop(Base):
    __tablename__ = "shops"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="", index=True)
    road: Mapped[str] = mapped_column(String(200), default="", index=True)
    area: Mapped[str] = mapped_column(String(200), default="", index=True)
    business_type: Mapped[str] = mapped_column(String(100), default="")
    owner: Mapped[str] = mapped_column(String(200), default="")
    operator: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    licence_no: Mapped[str] = mapped_column(String(100), default="")
    photo: Mapped[str] = mapped_column(String(300), default="", doc="storefront photo: evidence sha256 or path")
    agreement_signed: Mapped[bool] = mapped_column(Boolean, default=False)
    sign_permit: Mapped[str] = mapped_column(String(100), default="", doc="shop-sign permit number, '' if none")
    # WGS84 footprint polygon as [[lon, lat], ...] (GeoJSON order); lon/lat its centroid, for maps and sorting
    footprint: Mapped[list[list[float]] | None] = mapped_column(JSON, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    grade: Mapped[str | None] = mapped_column(
        String(10), default=None, index=True, doc="red | yellow | green; None until the first grading"
    )
    grade_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc, onupdate=now_utc, index=True)

    zones: Mapped[list[ShopZone]] = relationship(back_populates="shop", cascade="all, delete-orphan", lazy="selectin")


class ShopZone(Base):
    """A door strip on one camera that belongs to one shop. Rows made by an operator assigning an ownerless
    event have `source='assigned'` and may have no polygon."""

    __tablename__ = "shop_zones"
    __table_args__ = (UniqueConstraint("camera_id", "zone_id", name="uq_shop_zone_camera_zone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    camera_id: Mapped[str] = mapped_column(String(128))
    zone_id: Mapped[str] = mapped_column(String(128))
    polygon: Mapped[list[list[float]] | None] = mapped_column(JSON, default=None, doc="image pixels [[x, y], ...]")
    source: Mapped[str] = mapped_column(String(20), default="registry")
    assigned_by: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)

    shop: Mapped[Shop] = relationship(back_populates="zones")


class Camera(Base):
    """What central knows about a camera beyond its events: whether its alerts may confirm themselves."""

    __tablename__ = "cameras"

    camera_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(128), default="")
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


Index("ix_shops_area_road", Shop.area, Shop.road)
