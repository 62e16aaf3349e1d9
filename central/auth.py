"""Passwords (argon2), access tokens (JWT, HS256, signed with `settings.secret_key`, expiring after
`settings.token_ttl_s`), edge credentials, and the signed links shop owners get for their page.

Tokens carry the username, the role and the user's `token_version`; every request re-reads the user, so a
deactivated account or a changed password stops old tokens at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.domain.clock import now_utc
from central.orm.users import ROLES, EdgeCredential, User
from central.settings import CentralSettings

ALGORITHM = "HS256"
ACCESS = "access"
EDGE = "edge"
SHOP_LINK_SIG_LEN = 24  # hex characters of HMAC in a shop-owner link

_hasher = PasswordHasher()
# verified against when the username does not exist, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(Exception):
    """A token or credential that does not let anybody in. `reason` is safe to show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def role_rank(role: str) -> int:
    try:
        return ROLES.index(role)
    except ValueError:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}") from None


def has_role(user_role: str, needed: str) -> bool:
    return user_role in ROLES and role_rank(user_role) >= role_rank(needed)


# ---- passwords -------------------------------------------------------------------------------------------

class HashSlots:
    """Bounds how many argon2 computations run at once: each takes `_hasher.memory_cost` KiB (64 MiB), so
    40 concurrent logins with made-up names would otherwise take 2.5 GiB. Callers over the bound wait.
    Counts the most ever in flight (`peak`), which the tests read."""

    def __init__(self, limit: int):
        self.limit = limit
        self._sem = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._sem:
            with self._lock:
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
            try:
                yield
            finally:
                with self._lock:
                    self.in_flight -= 1


hash_slots = HashSlots(4)


def set_hash_cost(memory_kib: int, time_cost: int) -> None:
    """argon2 parameters of new hashes (settings.password_hash_memory_kib, password_hash_time_cost). A stored
    hash keeps the parameters it was made with (verifying reads them from it) and is rehashed at its next
    login."""
    global _hasher, _DUMMY_HASH
    if (memory_kib, time_cost) != (_hasher.memory_cost, _hasher.time_cost):
        _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def set_hash_concurrency(limit: int) -> None:
    """Set the bound (settings.password_hash_concurrency); calls already waiting finish under the old one."""
    global hash_slots
    if limit != hash_slots.limit:
        hash_slots = HashSlots(limit)


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("empty password")
    with hash_slots.slot():
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with hash_slots.slot():
            return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, or None. Upgrades outdated hashes in place."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# ---- access tokens ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenClaims:
    subject: str
    kind: str  # "access" (operator) or "edge"
    role: str
    version: int
    expires_at: datetime
    site_id: str | None = None
    camera_ids: tuple[str, ...] = ()


def _encode(settings: CentralSettings, claims: dict, now: datetime | None, ttl_s: int | None
            ) -> tuple[str, datetime]:
    now = now or now_utc()
    expires = now + timedelta(seconds=settings.token_ttl_s if ttl_s is None else ttl_s)
    payload = {**claims, "iat": int(now.timestamp()), "exp": int(expires.timestamp())}
    return jwt.encode(payload, settings.secret_key, algorithm=ALGORITHM), expires


def create_access_token(settings: CentralSettings, user: User, *, now: datetime | None = None,
                        ttl_s: int | None = None) -> tuple[str, datetime]:
    """(token, expires_at) for an operator."""
    return _encode(settings, {"sub": user.username, "typ": ACCESS, "role": user.role,
                              "ver": user.token_version}, now, ttl_s)


def _edge_version(cred: EdgeCredential) -> int:
    """Changes when the secret is rotated, so tokens issued for the old secret stop working."""
    if cred.rotated_at is None:
        return 0
    at = cred.rotated_at if cred.rotated_at.tzinfo else cred.rotated_at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


def create_edge_token(settings: CentralSettings, cred: EdgeCredential, *, now: datetime | None = None,
                      ttl_s: int | None = None) -> tuple[str, datetime]:
    return _encode(settings, {"sub": cred.edge_id, "typ": EDGE, "role": EDGE, "ver": _edge_version(cred),
                              "site": cred.site_id, "cams": list(cred.camera_ids or [])}, now, ttl_s)


def decode_token(settings: CentralSettings, token: str) -> TokenClaims:
    try:
        payload = jwt.decode(token, settings.secret_key, algorithms=[ALGORITHM],
                             options={"require": ["exp", "sub", "typ"]})
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidTokenError:
        raise AuthError("invalid token") from None
    return TokenClaims(subject=str(payload["sub"]), kind=str(payload["typ"]),
                       role=str(payload.get("role", "")),
                       version=int(payload.get("ver", 0)),
                       expires_at=datetime.fromtimestamp(payload["exp"], UTC),
                       site_id=payload.get("site"), camera_ids=tuple(payload.get("cams", ())))


def user_for_token(session: Session, settings: CentralSettings, token: str) -> User:
    """The active operator a token names; raises AuthError otherwise."""
    claims = decode_token(settings, token)
    if claims.kind != ACCESS:
        raise AuthError("not an operator token")
    user = session.scalar(select(User).where(User.username == claims.subject))
    if user is None or not user.active:
        raise AuthError("account disabled or gone")
    if user.token_version != claims.version:
        raise AuthError("token revoked")
    return user


def revoke_tokens(user: User) -> None:
    """Every token issued to `user` so far stops working (logout); the caller commits."""
    user.token_version += 1


def edge_for_token(session: Session, settings: CentralSettings, token: str) -> EdgeCredential:
    """The active edge credential an edge token names; raises AuthError otherwise."""
    claims = decode_token(settings, token)
    if claims.kind != EDGE:
        raise AuthError("not an edge token")
    cred = session.get(EdgeCredential, claims.subject)
    if cred is None or not cred.active:
        raise AuthError("edge credential disabled or gone")
    if claims.version != _edge_version(cred):
        raise AuthError("token revoked")
    return cred


# ---- edge credentials ------------------------------------------------------------------------------------

def new_edge_secret() -> str:
    return secrets.token_urlsafe(32)


def authenticate_edge(session: Session, edge_id: str, secret: str) -> EdgeCredential | None:
    cred = session.get(EdgeCredential, edge_id)
    if cred is None:
        verify_password(_DUMMY_HASH, secret)
        return None
    if not cred.active or not verify_password(cred.secret_hash, secret):
        return None
    return cred


# ---- shop-owner links ------------------------------------------------------------------------------------

def _shop_sig(settings: CentralSettings, shop_id: str) -> str:
    mac = hmac.new(settings.secret_key.encode(), f"shop-page:{shop_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:SHOP_LINK_SIG_LEN]


def shop_link_token(settings: CentralSettings, shop_id: str) -> str:
    """An unguessable, stable token for a shop's public page: `<signature>-<shop id>`."""
    return f"{_shop_sig(settings, shop_id)}-{shop_id}"


def shop_id_from_link(settings: CentralSettings, token: str) -> str | None:
    sig, sep, shop_id = token.partition("-")
    if not sep or len(sig) != SHOP_LINK_SIG_LEN or not shop_id:
        return None
    return shop_id if hmac.compare_digest(sig, _shop_sig(settings, shop_id)) else None
