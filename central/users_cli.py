"""Account chores behind `doorline-central create-user NAME --role admin` (the password
from `central.password_input`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.auth import hash_password, role_rank
from central.orm.users import User


def ensure_user(session: Session, username: str, password: str, role: str = "viewer", *,
                area: str | None = None, road: str | None = None) -> User:
    """Create the account, or reset its password, role and scope (district `area`, street `road`; None for
    everywhere) and re-activate it. The caller commits."""
    role_rank(role)  # raises ValueError naming the valid roles
    if not username.strip():
        raise ValueError("empty username")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, password_hash=hash_password(password), role=role, active=True,
                    token_version=0)
        session.add(user)
    else:
        user.password_hash = hash_password(password)
        user.role = role
        user.active = True
        user.token_version += 1
    user.scope_area, user.scope_road = (area or None), (road or None)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))
