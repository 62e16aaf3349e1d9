"""Operator accounts (admin only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from central.api.deps import AdminUser, SessionDep, lookup
from central.auth import hash_password
from central.orm.users import User

router = APIRouter(prefix="/api/users", tags=["users"])

Role = Literal["viewer", "officer", "reviewer", "admin"]
Username = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@\-]+$")]


Scope = Annotated[str | None, Field(default=None, max_length=200,
                                    description="district (shop area) / street (shop road); none: everywhere")]


class UserBase(BaseModel):
    username: Username
    role: Role = "viewer"
    scope_area: Scope = None
    scope_road: Scope = None


class UserCreate(UserBase):
    password: str = Field(min_length=8, max_length=200)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    active: bool | None = None
    scope_area: Scope = None
    scope_road: Scope = None
    password: str | None = Field(default=None, min_length=8, max_length=200)


class UserPublic(UserBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    active: bool
    created_at: datetime
    last_login_at: datetime | None = None


UserByName = Annotated[User, Depends(lookup(User, "username", role="admin", what="user", by=User.username))]


@router.get("", response_model=list[UserPublic])
def list_users(session: SessionDep, _: AdminUser) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "username taken"}})
def create_user(body: UserCreate, session: SessionDep, _: AdminUser) -> User:
    if session.scalar(select(User.id).where(User.username == body.username)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"user {body.username} exists")
    user = User(username=body.username, role=body.role, password_hash=hash_password(body.password),
                active=True, token_version=0, scope_area=body.scope_area or None, scope_road=body.scope_road or None)
    session.add(user)
    session.commit()
    return user


@router.get("/{username}", response_model=UserPublic)
def get_user(user: UserByName) -> User:
    return user


@router.patch("/{username}", response_model=UserPublic,
              responses={409: {"description": "an admin cannot demote or disable themselves"}})
def update_user(body: UserUpdate, user: UserByName, me: AdminUser, session: SessionDep) -> User:
    if user.id == me.id and ((body.role not in (None, "admin")) or body.active is False):
        raise HTTPException(status.HTTP_409_CONFLICT, "you cannot demote or disable your own account")
    if body.role is not None:
        user.role = body.role
    for field in ("scope_area", "scope_road"):
        if field in body.model_fields_set:
            setattr(user, field, getattr(body, field) or None)
    if body.active is not None:
        user.active = body.active
    if body.password is not None:
        user.password_hash = hash_password(body.password)
    if body.password is not None or body.active is False or body.role is not None:
        user.token_version += 1  # sessions end when access changes
    session.commit()
    return user


@router.delete("/{username}", status_code=status.HTTP_204_NO_CONTENT,
               summary="disable an account (kept for the audit trail)")
def disable_user(user: UserByName, me: AdminUser, session: SessionDep) -> Response:
    if user.id == me.id:
        raise HTTPException(status.HTTP_409_CONFLICT, "you cannot disable your own account")
    user.active = False
    user.token_version += 1
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
