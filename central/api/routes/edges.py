"""Edge boxes: their last reported status (`EdgeStatus` rows) and their credentials (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from central.api.deps import AdminUser, CurrentEdge, SessionDep, SettingsDep, ViewerUser, lookup
from central.auth import hash_password, new_edge_secret
from central.domain.clock import now_utc
from central.domain.edge_status import edge_statuses
from central.orm.users import EdgeCredential

router = APIRouter(prefix="/api/edges", tags=["edges"])

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]


def issue_secret(cred: EdgeCredential) -> str:
    """A new secret for `cred`: kept as an argon2 hash (HTTP edge login) and as a Mosquitto `passwd` line
    (MQTT login, see `mosquitto_files`). Returned once; nowhere else in clear."""
    from central.broker_config import password_line

    secret = new_edge_secret()
    cred.secret_hash = hash_password(secret)
    cred.mqtt_password_line = password_line(cred.edge_id, secret)
    return secret


class EdgeCredentialBase(BaseModel):
    site_id: Id
    camera_ids: list[Id] = Field(default_factory=list, max_length=256)


class EdgeCredentialCreate(EdgeCredentialBase):
    edge_id: Id


class EdgeCredentialUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: Id | None = None
    camera_ids: list[Id] | None = Field(default=None, max_length=256)
    active: bool | None = None


class EdgeCredentialPublic(EdgeCredentialBase):
    model_config = ConfigDict(from_attributes=True)

    edge_id: str
    active: bool
    created_at: datetime
    created_by: str
    rotated_at: datetime | None = None


class EdgeCredentialIssued(EdgeCredentialPublic):
    secret: str = Field(description="shown once; store it on the edge (only its argon2 hash is kept here)")


CredentialDep = Annotated[EdgeCredential, Depends(lookup(EdgeCredential, "edge_id", role="admin",
                                                          what="edge credential"))]


@router.get("", summary="last status reported by every edge")
def list_status(session: SessionDep, _: ViewerUser) -> list[dict[str, Any]]:
    return edge_statuses(session).rows


class EdgeSelf(EdgeCredentialBase):
    edge_id: str
    status: list[dict[str, Any]] = Field(description="the last status central holds for each of its cameras")


@router.get("/self", response_model=EdgeSelf, summary="for an edge: who central thinks it is (edge token)")
def edge_self(edge: CurrentEdge, session: SessionDep) -> EdgeSelf:
    mine = [r for r in edge_statuses(session).rows if r.get("edge_id") == edge.edge_id
            or (r.get("site_id") == edge.site_id and r.get("camera_id") in (edge.camera_ids or []))]
    return EdgeSelf(edge_id=edge.edge_id, site_id=edge.site_id, camera_ids=list(edge.camera_ids or []),
                    status=mine)


@router.get("/credentials", response_model=list[EdgeCredentialPublic])
def list_credentials(session: SessionDep, _: AdminUser) -> list[EdgeCredential]:
    return list(session.scalars(select(EdgeCredential).order_by(EdgeCredential.edge_id)))


@router.post("/credentials", response_model=EdgeCredentialIssued, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "edge id taken"}})
def create_credential(body: EdgeCredentialCreate, session: SessionDep,
                      admin: AdminUser) -> EdgeCredentialIssued:
    if session.get(EdgeCredential, body.edge_id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"edge {body.edge_id} already has a credential")
    cred = EdgeCredential(edge_id=body.edge_id, site_id=body.site_id, camera_ids=list(body.camera_ids),
                          active=True, created_by=admin.username, created_at=now_utc())
    secret = issue_secret(cred)
    session.add(cred)
    session.commit()
    return EdgeCredentialIssued(**EdgeCredentialPublic.model_validate(cred).model_dump(), secret=secret)


class MosquittoFiles(BaseModel):
    passwd: str = Field(description="Mosquitto password file lines for the active edges (no central account)")
    acl: str = Field(description="ACL: each edge writes only its cameras' upstream topics, reads their cmd")
    edges: list[str]
    skipped: list[str] = Field(description="active edges left out: no cameras, or issued before MQTT lines")


@router.get("/credentials/mosquitto", response_model=MosquittoFiles,
            summary="broker password file and ACL for the active edge credentials")
def mosquitto_files(session: SessionDep, settings: SettingsDep, _: AdminUser,
                    central_username: Annotated[str, Query(min_length=1, max_length=128,
                                                           pattern=r"^[A-Za-z0-9_.:\-]+$")] = "central"
                    ) -> MosquittoFiles:
    from central.broker_config import Accounts, CentralAccount, EdgeAccount, acl_text

    creds = list(session.scalars(select(EdgeCredential).where(EdgeCredential.active.is_(True))
                                 .order_by(EdgeCredential.edge_id)))
    usable = [c for c in creds if c.camera_ids and c.mqtt_password_line]
    try:
        edges = [EdgeAccount(edge_id=c.edge_id, site_id=c.site_id, camera_ids=list(c.camera_ids)) for c in usable]
        accounts = Accounts(prefix=settings.mqtt.prefix, central=CentralAccount(username=central_username),
                            edges=edges)
    except ValueError as exc:  # e.g. two credentials claim one camera: the files would be wrong, say why
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise HTTPException(status.HTTP_409_CONFLICT, f"cannot write broker files: {reason}") from None
    return MosquittoFiles(passwd="".join(f"{c.mqtt_password_line}\n" for c in usable),
                          acl=acl_text(accounts), edges=[c.edge_id for c in usable],
                          skipped=[c.edge_id for c in creds if c not in usable])


@router.patch("/credentials/{edge_id}", response_model=EdgeCredentialPublic)
def update_credential(body: EdgeCredentialUpdate, cred: CredentialDep, session: SessionDep) -> EdgeCredential:
    if body.site_id is not None:
        cred.site_id = body.site_id
    if body.camera_ids is not None:
        cred.camera_ids = list(body.camera_ids)
    if body.active is not None:
        cred.active = body.active
    session.commit()
    return cred


@router.post("/credentials/{edge_id}/rotate", response_model=EdgeCredentialIssued,
             summary="issue a new secret; the old one stops working")
def rotate_credential(cred: CredentialDep, session: SessionDep) -> EdgeCredentialIssued:
    secret = issue_secret(cred)
    cred.rotated_at = now_utc()
    session.commit()
    return EdgeCredentialIssued(**EdgeCredentialPublic.model_validate(cred).model_dump(), secret=secret)


@router.delete("/credentials/{edge_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_credential(cred: CredentialDep, session: SessionDep) -> Response:
    session.delete(cred)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
