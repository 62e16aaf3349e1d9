"""Login, token expiry and revocation, roles, password storage — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import select

from central.auth import create_access_token, decode_token, hash_password, verify_password
from central.orm.users import User

from .conftest import PASSWORDS, TEST_SECRET, Env


def test_login_returns_expiring_token_and_me(env: Env) -> None:
    r = env.client.post("/api/auth/token", data={"username": "reviewer", "password": PASSWORDS["reviewer"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["role"] == "reviewer"
    claims = jwt.decode(body["access_token"], env.settings.secret_key, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == env.settings.token_ttl_s
    me = env.client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == "reviewer" and "password_hash" not in me.json()


@pytest.mark.parametrize(("username", "password"), [
    ("reviewer", "wrong-password"),
    ("reviewer", ""),
    ("nobody", "whatever-pass"),
    ("REVIEWER", PASSWORDS["reviewer"]),
])
def test_wrong_credentials_are_401(shared_env: Env, username: str, password: str) -> None:
    r = shared_env.client.post("/api/auth/token", data={"username": username, "password": password})
    assert r.status_code in (401, 422)
    if r.status_code == 401:
        assert r.json()["detail"] == "wrong username or password"
        assert r.headers["www-authenticate"] == "Bearer"


def test_expired_token_is_refused(env: Env) -> None:
    with env.session() as s:
        user = s.scalar(select(User).where(User.username == "admin"))
        issued = datetime.now(UTC) - timedelta(seconds=env.settings.token_ttl_s + 5)
        old, expires = create_access_token(env.settings, user, now=issued)
    assert expires < datetime.now(UTC)
    r = env.client.get("/api/users", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401 and r.json()["detail"] == "token expired"


@pytest.mark.parametrize("token", [
    "not-a-jwt",
    jwt.encode({"sub": "admin", "typ": "access", "role": "admin", "ver": 0,
                "exp": int((datetime.now(UTC) + timedelta(hours=1)).timestamp())},
               "some-other-secret-key-0123456789-xyz", algorithm="HS256"),
    # right key, no expiry
    jwt.encode({"sub": "admin", "typ": "access", "role": "admin", "ver": 0}, TEST_SECRET, algorithm="HS256"),
])
def test_forged_or_unbounded_tokens_are_refused(shared_env: Env, token: str) -> None:
    r = shared_env.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_no_token_is_401(shared_env: Env) -> None:
    assert shared_env.client.get("/api/auth/me").status_code == 401


def test_passwords_are_argon2_hashes(env: Env) -> None:
    with env.session() as s:
        user = s.scalar(select(User).where(User.username == "viewer"))
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORDS["viewer"] not in user.password_hash
        assert verify_password(user.password_hash, PASSWORDS["viewer"])
        assert not verify_password(user.password_hash, PASSWORDS["viewer"] + "x")
    with pytest.raises(ValueError):
        hash_password("")


def test_disabled_account_loses_access_at_once(env: Env) -> None:
    viewer = env.login_http("viewer")
    admin = env.login("admin")
    assert env.client.get("/api/auth/me", headers=viewer).status_code == 200
    assert env.client.delete("/api/users/viewer", headers=admin).status_code == 204
    assert env.client.get("/api/auth/me", headers=viewer).status_code == 401
    r = env.client.post("/api/auth/token", data={"username": "viewer", "password": PASSWORDS["viewer"]})
    assert r.status_code == 401


def test_password_change_revokes_old_tokens(sqlite_env: Env) -> None:
    env = sqlite_env
    old = env.login_http("reviewer")
    r = env.client.post("/api/auth/password", headers=old,
                        json={"current_password": "wrong", "new_password": "new-password-2"})
    assert r.status_code == 400
    r = env.client.post("/api/auth/password", headers=old,
                        json={"current_password": PASSWORDS["reviewer"], "new_password": "new-password-2"})
    assert r.status_code == 200
    new = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert env.client.get("/api/auth/me", headers=old).json()["detail"] == "token revoked"
    assert env.client.get("/api/auth/me", headers=new).status_code == 200
    assert env.client.post("/api/auth/token", data={"username": "reviewer", "password": "new-password-2"}
                           ).status_code == 200


ROLE_TABLE = [
    # (role, method, path, expected status)
    ("viewer", "GET", "/api/users", 403),
    ("reviewer", "GET", "/api/users", 403),
    ("admin", "GET", "/api/users", 200),
    ("viewer", "GET", "/api/edges", 200),
    ("viewer", "GET", "/api/edges/credentials", 403),
    ("admin", "GET", "/api/edges/credentials", 200),
    ("viewer", "GET", "/api/users/nobody", 403),  # role checked before existence
    ("admin", "GET", "/api/users/nobody", 404),
]


@pytest.mark.parametrize(("role", "method", "path", "expected"), ROLE_TABLE)
def test_roles(shared_env: Env, role: str, method: str, path: str, expected: int) -> None:
    r = shared_env.client.request(method, path, headers=shared_env.login(role))
    assert r.status_code == expected, r.text


def test_admin_manages_users(env: Env) -> None:
    admin = env.login("admin")
    r = env.client.post("/api/users", headers=admin,
                        json={"username": "ops1", "password": "short", "role": "viewer"})
    assert r.status_code == 422  # password too short
    r = env.client.post("/api/users", headers=admin,
                        json={"username": "ops1", "password": "long-enough-1", "role": "viewer"})
    assert r.status_code == 201 and r.json()["role"] == "viewer"
    assert env.client.post("/api/users", headers=admin,
                           json={"username": "ops1", "password": "long-enough-1"}).status_code == 409
    r = env.client.patch("/api/users/ops1", headers=admin, json={"role": "reviewer"})
    assert r.status_code == 200 and r.json()["role"] == "reviewer"
    assert env.client.patch("/api/users/ops1", headers=admin, json={"role": "boss"}).status_code == 422
    assert env.client.patch("/api/users/admin", headers=admin, json={"role": "viewer"}).status_code == 409
    assert env.client.delete("/api/users/admin", headers=admin).status_code == 409
    names = [u["username"] for u in env.client.get("/api/users", headers=admin).json()]
    assert names == sorted(["admin", "officer", "ops1", "reviewer", "viewer"])


def test_token_claims_round_trip(sqlite_env: Env) -> None:
    with sqlite_env.session() as s:
        user = s.scalar(select(User).where(User.username == "admin"))
        token, expires = create_access_token(sqlite_env.settings, user)
    claims = decode_token(sqlite_env.settings, token)
    assert (claims.subject, claims.kind, claims.role) == ("admin", "access", "admin")
    assert abs((claims.expires_at - expires).total_seconds()) < 1


def test_ensure_user_creates_then_resets(sqlite_env: Env) -> None:
    from central.users_cli import ensure_user

    with sqlite_env.session() as s:
        with pytest.raises(ValueError, match="roles are viewer, officer, reviewer, admin"):
            ensure_user(s, "ops", "pw-123456", "boss")
        user = ensure_user(s, "ops", "pw-123456", "viewer")
        s.commit()
        assert verify_password(user.password_hash, "pw-123456") and user.token_version == 0
        again = ensure_user(s, "ops", "pw-654321", "admin")
        s.commit()
        assert again.id == user.id and again.role == "admin" and again.token_version == 1
        assert not verify_password(again.password_hash, "pw-123456")
    r = sqlite_env.client.post("/api/auth/token", data={"username": "ops", "password": "pw-654321"})
    assert r.status_code == 200 and r.json()["role"] == "admin"


def test_password_guessing_is_throttled(sqlite_env: Env) -> None:
    env = sqlite_env
    throttle = env.client.app.state.login_throttle
    throttle.max_failures = 3  # keep the test short; the default is 10 per 5 minutes
    for _ in range(3):
        assert env.client.post("/api/auth/token", data={"username": "viewer", "password": "guess"}
                               ).status_code == 401
    blocked = env.client.post("/api/auth/token", data={"username": "viewer", "password": PASSWORDS["viewer"]})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    form = env.client.post("/console/login", data={"username": "Viewer", "password": PASSWORDS["viewer"]},
                           headers={"Accept-Language": "en"})
    assert form.status_code == 429 and "Too many failed logins" in form.text
    # another account from the same address is not locked out
    assert env.client.post("/api/auth/token", data={"username": "admin", "password": PASSWORDS["admin"]}
                           ).status_code == 200
    # the window passes
    assert throttle.check(throttle.key(_Req(), "viewer"), now=10**9) is None


class _Req:
    class client:  # noqa: N801  (mimics starlette's Request.client)
        host = "testclient"


def test_throttle_window_and_success_reset() -> None:
    from central.api.throttle import LoginThrottle

    t = LoginThrottle(max_failures=2, window_s=60)
    for now in (0.0, 1.0):
        t.check("k", now=now)
        t.failed("k", now=now)
    with pytest.raises(Exception) as exc:
        t.check("k", now=2.0)
    assert exc.value.status_code == 429 and exc.value.headers["Retry-After"] == "59"
    t.check("k", now=61.5)  # the first failure has aged out
    t.failed("k", now=62.0)
    t.succeeded("k")
    t.check("k", now=62.5)
