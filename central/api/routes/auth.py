"""Logging in: OAuth2 password flow for operators, client credentials for edges."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from central.api.deps import CurrentUser, SessionDep, SettingsDep, unauthorized
from central.api.routes.users import UserPublic
from central.api.throttle import LoginThrottle, get_throttle
from central.auth import (
    authenticate,
    authenticate_edge,
    create_access_token,
    create_edge_token,
    hash_password,
    revoke_tokens,
    verify_password,
)
from central.domain.clock import now_utc

router = APIRouter(prefix="/api/auth", tags=["auth"])

ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    role: str


class PasswordChange(BaseModel):
    current_password: str
    new_password: str = Field(min_length=8, max_length=200)


@router.post("/token", response_model=Token, summary="operator login (OAuth2 password flow)",
             responses={401: {"description": "wrong username or password"},
                        429: {"description": "too many failed logins from this address"}})
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, session: SessionDep,
          settings: SettingsDep, throttle: ThrottleDep) -> Token:
    key = throttle.key(request, form.username)
    throttle.check(key)
    user = authenticate(session, form.username, form.password)
    if user is None:
        throttle.failed(key)
        raise unauthorized("wrong username or password")
    throttle.succeeded(key)
    user.last_login_at = now_utc()
    session.commit()
    token, expires = create_access_token(settings, user)
    return Token(access_token=token, expires_at=expires, role=user.role)


@router.post("/edge-token", response_model=Token, summary="edge login with its per-edge credential",
             responses={401: {"description": "unknown edge, disabled, or wrong secret"}})
def edge_login(edge_id: Annotated[str, Form()], secret: Annotated[str, Form()], request: Request,
               session: SessionDep, settings: SettingsDep, throttle: ThrottleDep) -> Token:
    key = throttle.key(request, f"edge:{edge_id}")
    throttle.check(key)
    cred = authenticate_edge(session, edge_id, secret)
    if cred is None:
        throttle.failed(key)
        raise unauthorized("wrong edge id or secret")
    throttle.succeeded(key)
    token, expires = create_edge_token(settings, cred)
    return Token(access_token=token, expires_at=expires, role="edge")


@router.get("/me", response_model=UserPublic, summary="who the token belongs to")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT,
             summary="revoke this token and every other token of the account (log out everywhere)")
def logout(user: CurrentUser, session: SessionDep) -> Response:
    revoke_tokens(user)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/password", response_model=Token, summary="change your password; older tokens stop working")
def change_password(body: PasswordChange, user: CurrentUser, session: SessionDep,
                    settings: SettingsDep) -> Token:
    if not verify_password(user.password_hash, body.current_password):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "current password is wrong")
    user.password_hash = hash_password(body.new_password)
    user.token_version += 1
    session.commit()
    token, expires = create_access_token(settings, user)
    return Token(access_token=token, expires_at=expires, role=user.role)
