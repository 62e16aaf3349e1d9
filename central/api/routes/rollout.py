"""Per-camera model rollout (admin): `POST /api/cameras/{site_id}/{camera_id}/model` queues central's reload
command naming the model; rolling back is the same call naming the previous model (the edge keeps it loaded)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from central.api.deps import AdminUser, SessionDep
from central.domain.rollout import roll_out_model
from wire.schema import ModelName

router = APIRouter(prefix="/api/cameras", tags=["models"])

Id = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class Rollout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: ModelName = Field(description="model file name in the edge's models folder, e.g. piles-v2.onnx")


class RolloutQueued(BaseModel):
    command_id: str
    site_id: str
    camera_id: str
    model: str


@router.post("/{site_id}/{camera_id}/model", response_model=RolloutQueued, status_code=status.HTTP_202_ACCEPTED,
             summary="run another detector model on this camera (reload command naming it)")
def roll_out(site_id: Id, camera_id: Id, body: Rollout, session: SessionDep, user: AdminUser) -> RolloutQueued:
    cmd = roll_out_model(session, site_id=site_id, camera_id=camera_id, model=body.model, actor=user.username)
    session.commit()
    return RolloutQueued(command_id=cmd.command_id, site_id=site_id, camera_id=camera_id, model=body.model)
