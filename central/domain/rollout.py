"""Rolling a detector model out to one camera: central's reload command names the model (wire
CommandMessage.model); the edge loads it for that camera and keeps the previous one loaded, so rolling back
is another rollout naming the previous model. Every rollout is an audit record."""

from __future__ import annotations

from sqlalchemy.orm import Session

from central.domain import audit
from wire.schema import CommandMessage


def roll_out_model(session: Session, *, site_id: str, camera_id: str, model: str, actor: str) -> CommandMessage:
    """Queue the reload command naming `model` for the camera (sent after the caller's commit). A name that is
    not a model file name (wire.schema.ModelName) raises pydantic's ValidationError."""
    from central.outbox import enqueue_command

    cmd = CommandMessage(site_id=site_id, camera_id=camera_id, cmd="reload_zones", model=model)
    enqueue_command(session, cmd)
    audit.record(session, actor=actor, action="camera.model_rollout",
                 details={"site_id": site_id, "camera_id": camera_id, "model": model, "command_id": cmd.command_id})
    return cmd
