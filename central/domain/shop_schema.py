"""Pydantic shapes of a shop as it enters and leaves the registry (API bodies and import rows)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ShopId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
CamId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class ZoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera_id: CamId
    zone_id: CamId
    polygon: list[list[float]] | None = Field(default=None, description="image pixels [[x, y], ...]")

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is None:
            return v
        if len(v) < 3 or any(len(p) != 2 or not all(math.isfinite(c) for c in p) for p in v):
            raise ValueError("zone polygon needs at least 3 finite [x, y] points")
        return v


class ShopFields(BaseModel):
    """Every editable field except the id."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    address: str = Field(default="", max_length=300)
    road: str = Field(default="", max_length=200)
    area: str = Field(default="", max_length=200)
    business_type: str = Field(default="", max_length=100)
    owner: str = Field(default="", max_length=200)
    operator: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=50)
    licence_no: str = Field(default="", max_length=100)
    photo: str = Field(default="", max_length=300, description="storefront photo: evidence sha256 or path")
    agreement_signed: bool = False
    sign_permit: str = Field(default="", max_length=100)
    footprint: list[list[float]] | None = Field(default=None, description="WGS84 polygon [[lon, lat], ...]")
    zones: list[ZoneIn] = Field(default_factory=list, max_length=64)

    @field_validator("footprint")
    @classmethod
    def _footprint(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is None:
            return v
        if len(v) < 3:
            raise ValueError("footprint needs at least 3 [lon, lat] points")
        for p in v:
            if len(p) != 2 or not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90):
                raise ValueError(f"footprint point {p} is not [lon, lat] in WGS84 range")
        if len({(p[0], p[1]) for p in v}) < 3:
            raise ValueError("footprint needs at least 3 distinct points")
        return v


class ShopIn(ShopFields):
    id: ShopId


class ShopPatch(BaseModel):
    """Partial update: only the fields given change; `zones` if given replaces the registry zones."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    road: str | None = Field(default=None, max_length=200)
    area: str | None = Field(default=None, max_length=200)
    business_type: str | None = Field(default=None, max_length=100)
    owner: str | None = Field(default=None, max_length=200)
    operator: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    licence_no: str | None = Field(default=None, max_length=100)
    photo: str | None = Field(default=None, max_length=300)
    agreement_signed: bool | None = None
    sign_permit: str | None = Field(default=None, max_length=100)
    footprint: list[list[float]] | None = None
    zones: list[ZoneIn] | None = None

    _footprint = field_validator("footprint")(ShopFields._footprint.__func__)  # type: ignore[attr-defined]

    @model_validator(mode="after")
    def _explicit_nulls(self) -> ShopPatch:
        """`null` clears a text field (to ""); the name and the agreement flag cannot be cleared."""
        for name in self.model_fields_set:
            if getattr(self, name) is not None or name in ("footprint", "zones"):
                continue
            if name in ("name", "agreement_signed"):
                raise ValueError(f"{name} cannot be null")
            setattr(self, name, "")
        return self


class ZonePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    camera_id: str
    zone_id: str
    shop_id: str
    polygon: list[list[float]] | None
    source: str


class ShopPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    address: str
    road: str
    area: str
    business_type: str
    owner: str
    operator: str
    phone: str
    licence_no: str
    photo: str
    agreement_signed: bool
    sign_permit: str
    footprint: list[list[float]] | None
    lon: float | None
    lat: float | None
    grade: str | None
    grade_since: datetime | None
    zones: list[ZonePublic]
