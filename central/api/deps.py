"""What routes declare they need. Routes stay short:

    @router.post("/{case_id}/confirm")
    def confirm(case: Annotated[Case, Depends(lookup(Case, "case_id", role="reviewer"))],
                session: SessionDep, user: ReviewerUser) -> CasePublic: ...

- `SessionDep`: one SQLAlchemy session per request, closed (rolled back if not committed) afterwards.
  Routes that write call `session.commit()` themselves, once, at the end.
- `CurrentUser`: the operator named by a Bearer token or the console cookie; 401 otherwise.
- `require_role("reviewer")`: 403 for lower roles. Ready-made: `ViewerUser`, `ReviewerUser`, `AdminUser`.
- `lookup(Model, "param", role=...)`: loads the row named by a path parameter, 404 if absent, after the
  role check (so a viewer asking for a missing case learns nothing more than 403 would tell).
- `ScopeDep`: the current user's area (`central.domain.scope.Scope`), handed to the domain's queries and
  writes; a row out of scope is 404, as if absent. Admins and unscoped accounts: everywhere.
- `StoreDep`: the evidence store (`EvidenceStore`).
- `CurrentEdge`: the edge box named by a Bearer edge token (routes an edge calls itself).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.auth import AuthError, edge_for_token, has_role, user_for_token
from central.domain.scope import Scope
from central.evidence_store import EvidenceStore
from central.orm.users import ROLES, EdgeCredential, User
from central.settings import CentralSettings

COOKIE_NAME = "doorline_token"
TOKEN_URL = "/api/auth/token"

_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def get_settings(request: Request) -> CentralSettings:
    return request.app.state.settings


SettingsDep = Annotated[CentralSettings, Depends(get_settings)]


def get_session(request: Request) -> Iterator[Session]:
    factory = request.app.state.session_factory
    if factory is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database not open")
    with factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_store(request: Request) -> EvidenceStore:
    store = request.app.state.store
    if store is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "evidence store not configured")
    return store


StoreDep = Annotated[EvidenceStore, Depends(get_store)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_same_origin(request: Request) -> None:
    """Refuse a cookie-authenticated write whose Origin names another site, or is `null` (sandboxed frames,
    data: and file: pages, cross-site redirects: nothing this site's own pages send). SameSite=Lax already
    keeps the cookie off cross-site posts; this also covers sibling subdomains and old browsers."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    if origin.strip().lower() == "null" or urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def request_token(request: Request, bearer: str | None) -> str | None:
    """The Bearer token, else the console cookie."""
    return bearer or request.cookies.get(COOKIE_NAME) or None


def get_current_user(request: Request, session: SessionDep, settings: SettingsDep,
                     bearer: Annotated[str | None, Depends(_bearer)]) -> User:
    token = request_token(request, bearer)
    if not token:
        raise unauthorized("not authenticated")
    if not bearer and request.method not in SAFE_METHODS:
        check_same_origin(request)  # a cookie rides along on forged requests; a Bearer header does not
    try:
        return user_for_token(session, settings, token)
    except AuthError as exc:
        raise unauthorized(exc.reason) from None


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_edge(session: SessionDep, settings: SettingsDep,
                     bearer: Annotated[str | None, Depends(_bearer)]) -> EdgeCredential:
    """The edge box named by a Bearer edge token (POST /api/auth/edge-token); its credential must still be
    active. Operator tokens and cookies do not pass."""
    if not bearer:
        raise unauthorized("not authenticated")
    try:
        return edge_for_token(session, settings, bearer)
    except AuthError as exc:
        raise unauthorized(exc.reason) from None


CurrentEdge = Annotated[EdgeCredential, Depends(get_current_edge)]


def require_role(role: str) -> Callable[[User], User]:
    """A dependency that returns the current user if their role is `role` or higher, else 403."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")

    def dependency(user: CurrentUser) -> User:
        if not has_role(user.role, role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs role {role} (you are {user.role})")
        return user

    dependency.__name__ = f"require_{role}"
    return dependency


ViewerUser = Annotated[User, Depends(require_role("viewer"))]
OfficerUser = Annotated[User, Depends(require_role("officer"))]
ReviewerUser = Annotated[User, Depends(require_role("reviewer"))]
AdminUser = Annotated[User, Depends(require_role("admin"))]


def get_scope(user: CurrentUser) -> Scope:
    return Scope.of(user)


ScopeDep = Annotated[Scope, Depends(get_scope)]

M = TypeVar("M")


def lookup(model: type[M], param: str = "id", *, role: str = "viewer", what: str | None = None,
           key_type: type = str, by: Any = None) -> Callable[..., M]:
    """A dependency loading `model` by primary key (or by the unique column `by`) from path parameter
    `param` (documented in OpenAPI), for users with at least `role`: 401/403 first, then 404 naming what
    was missing."""
    guard = require_role(role)
    noun = what or model.__name__.lower()

    def dependency(session: SessionDep, user: Annotated[User, Depends(guard)], **path: Any) -> M:
        key = path[param]
        row = session.get(model, key) if by is None else session.scalar(select(model).where(by == key))
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{noun} {key} not found")
        return row

    # FastAPI reads the signature: give the path parameter its real name.
    dependency.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("session", inspect.Parameter.KEYWORD_ONLY, annotation=SessionDep),
        inspect.Parameter("user", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[User, Depends(guard)]),
        inspect.Parameter(param, inspect.Parameter.KEYWORD_ONLY,
                          annotation=Annotated[key_type, Path(description=f"{noun} id")]),
    ], return_annotation=model)
    dependency.__name__ = f"lookup_{noun}"
    return dependency
