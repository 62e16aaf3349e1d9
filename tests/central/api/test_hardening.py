"""Issue 15's smaller findings on the HTTP side: a weak secret key refuses to serve, logout revokes, argon2
runs a bounded number at once, /metrics needs a token, viewers see no edge credentials, `Origin: null` is
refused on cookie writes, every reply carries the browser protections, cookies are Secure behind a trusted
TLS proxy, and the login throttle keys on the client a trusted proxy forwards."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from central import auth
from central.app import create_app
from central.settings import DEFAULT_SECRET_KEY, CentralSettings, InsecureSecretKey, secret_key_weakness

from .conftest import PASSWORDS, Env, make_settings, open_env

# ---------------------------------------------------------------------------------------------- secret key


@pytest.mark.parametrize(("key", "why"), [
    (DEFAULT_SECRET_KEY, "shipped development default"),
    ("change-me-to-something-long-and-random-0123456789", "shipped development default"),
    ("0123456789abcdef0123456789abcdef", "less than 32 random bytes"),  # hex: 16 bytes
    ("a-fine-looking-key-of-40-characters-xyzw", "less than 32 random bytes"),  # base64 alphabet: 30 bytes
    ("ab" * 40, "fewer than 10 distinct"),
])
def test_a_weak_or_default_secret_key_refuses_to_serve(tmp_path: Path, key: str, why: str) -> None:
    settings = make_settings(tmp_path, "sqlite://").model_copy(update={"secret_key": key})
    with pytest.raises(InsecureSecretKey, match=why) as refused:
        create_app(settings)
    message = str(refused.value)
    assert "\n" not in message and "DOORLINE_SECRET_KEY" in message and "secrets.token_urlsafe(48)" in message


@pytest.mark.parametrize("key", [secrets.token_urlsafe(32), secrets.token_urlsafe(48), secrets.token_hex(32),
                                 "correct horse battery staple, then some more words"])
def test_strong_keys_pass(key: str) -> None:
    assert secret_key_weakness(key) is None


def test_the_development_flag_allows_the_default_key(tmp_path: Path) -> None:
    """The one place the flag is switched on: it lets the default key serve, for development."""
    settings = CentralSettings(database_url=f"sqlite:///{tmp_path / 'd.db'}", evidence_dir=tmp_path / "ev",
                               ingest_enabled=False, allow_insecure_key=True)
    assert settings.secret_key == DEFAULT_SECRET_KEY
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code in (200, 503)


def test_serve_with_the_default_key_stops_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DOORLINE_SECRET_KEY", "DOORLINE_ALLOW_INSECURE_KEY")}
    env.update(DOORLINE_DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}", DOORLINE_PORT="18998")
    run = subprocess.run([sys.executable, "-m", "central.cli", "serve"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("doorline-central:")]
    assert len(lines) == 1 and "DOORLINE_SECRET_KEY" in lines[0] and "token_urlsafe" in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "c.db").exists()  # refused before opening anything


# ---------------------------------------------------------------------------------------------- logout


def test_api_logout_revokes_the_token(sqlite_env: Env) -> None:
    headers = sqlite_env.login_http("reviewer")
    assert sqlite_env.client.get("/api/auth/me", headers=headers).status_code == 200
    assert sqlite_env.client.post("/api/auth/logout", headers=headers).status_code == 204
    r = sqlite_env.client.get("/api/auth/me", headers=headers)
    assert r.status_code == 401 and r.json()["detail"] == "token revoked"
    assert sqlite_env.client.get("/api/auth/me", headers=sqlite_env.login_http("reviewer")).status_code == 200


def _console_cookie(client: TestClient, role: str) -> str:
    r = client.post("/console/login", data={"username": role, "password": PASSWORDS[role]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.cookies["doorline_token"]


def test_console_logout_revokes_the_cookie_token(sqlite_env: Env) -> None:
    client = sqlite_env.client
    token = _console_cookie(client, "viewer")
    client.cookies.clear()
    assert client.get("/console/cases", cookies={"doorline_token": token}, follow_redirects=False).status_code == 200
    r = client.post("/console/logout", cookies={"doorline_token": token}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()
    # a copy of the old cookie no longer opens the console or the API
    again = client.get("/console/cases", cookies={"doorline_token": token}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/console/login")
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# ---------------------------------------------------------------------------------------------- argon2


@pytest.mark.slow  # 40 real argon2 verifications, 4 at a time: ~5-20 s
def test_forty_concurrent_unknown_user_logins_hash_at_most_the_bound_at_once(sqlite_env: Env) -> None:
    """Each argon2 verification takes 64 MiB; the bound (settings.password_hash_concurrency, 4) caps how many
    run at once, so 40 logins with made-up names take ~256 MiB, not 2.5 GiB. Measured: the most in flight."""
    bound = sqlite_env.settings.password_hash_concurrency
    slots = auth.hash_slots
    slots.peak = 0

    def login(i: int) -> int:
        return sqlite_env.client.post("/api/auth/token", data={"username": f"nobody-{i}",
                                                               "password": "whatever-pass"}).status_code

    with ThreadPoolExecutor(40) as pool:
        codes = list(pool.map(login, range(40)))
    assert codes == [401] * 40
    assert 1 <= slots.peak <= bound == 4, slots.peak
    assert slots.in_flight == 0


def test_the_hash_bound_is_a_setting(tmp_path: Path) -> None:
    for env in open_env(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", password_hash_concurrency=1):
        auth.hash_slots.peak = 0
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i, c=env.client: c.post("/api/auth/token",
                                                         data={"username": f"x{i}", "password": "p"}), range(8)))
        assert auth.hash_slots.limit == 1 and auth.hash_slots.peak == 1
    auth.set_hash_concurrency(4)



def test_the_hash_cost_is_a_setting_and_a_login_rehashes_an_old_hash(tmp_path: Path) -> None:
    """New hashes take the settings' argon2 cost; a stored hash of another cost still verifies and is
    rehashed at the next login (so a deployment can raise the cost without resetting passwords)."""
    from central.orm.users import User

    old = auth.hash_password("pass-of-old")  # the tests' cheap hashes (tests/conftest.py)
    try:
        for env in open_env(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", password_hash_memory_kib=2048,
                            password_hash_time_cost=2):
            assert "$m=2048,t=2," in auth.hash_password("x")
            with env.factory() as s:
                s.add(User(username="old", password_hash=old, role="viewer", active=True, token_version=0))
                s.commit()
            assert env.client.post("/api/auth/token", data={"username": "old", "password": "pass-of-old"}
                                   ).status_code == 200
            with env.factory() as s:
                stored = s.scalars(select(User).where(User.username == "old")).one().password_hash
                assert "$m=2048,t=2," in stored
    finally:
        auth.set_hash_cost(int(os.environ["DOORLINE_PASSWORD_HASH_MEMORY_KIB"]),
                           int(os.environ["DOORLINE_PASSWORD_HASH_TIME_COST"]))


# ---------------------------------------------------------------------------------------------- /metrics


def test_metrics_need_the_scrape_token_or_an_operator(tmp_path: Path) -> None:
    scrape = secrets.token_urlsafe(24)
    for env in open_env(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", metrics_token=scrape):
        client = env.client
        anonymous = client.get("/metrics")
        assert anonymous.status_code == 401 and "doorline_" not in anonymous.text
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": f"Bearer {scrape}"})
        assert ok.status_code == 200 and "# TYPE doorline_" in ok.text
        assert client.get("/metrics", headers=env.login("viewer")).status_code == 200
        created = client.post("/api/edges/credentials", headers=env.login("admin"),
                              json={"edge_id": "edge-m", "site_id": "s", "camera_ids": ["c"]}).json()
        edge = client.post("/api/auth/edge-token", data={"edge_id": "edge-m", "secret": created["secret"]}).json()
        assert client.get("/metrics", headers={"Authorization": f"Bearer {edge['access_token']}"}).status_code == 401


# ---------------------------------------------------------------------------------------------- console


def test_console_edges_shows_credentials_to_admins_only(sqlite_env: Env) -> None:
    client = sqlite_env.client
    r = client.post("/api/edges/credentials", headers=sqlite_env.login("admin"),
                    json={"edge_id": "edge-hidden-7", "site_id": "site-q", "camera_ids": ["cam-q"]})
    assert r.status_code == 201
    for role, shown in (("viewer", False), ("reviewer", False), ("admin", True)):
        token = sqlite_env.login(role)["Authorization"].split()[1]
        page = client.get("/console/edges", cookies={"doorline_token": token})
        assert page.status_code == 200
        assert ("edge-hidden-7" in page.text) is shown, role
        assert ("cam-q" in page.text) is shown, role


@pytest.mark.parametrize("origin", ["null", "NULL", "https://evil.example"])
def test_cookie_writes_with_a_null_or_foreign_origin_are_refused(sqlite_env: Env, origin: str) -> None:
    client = sqlite_env.client
    token = sqlite_env.login("reviewer")["Authorization"].split()[1]
    for url in ("/api/auth/logout", "/console/logout"):
        r = client.post(url, cookies={"doorline_token": token}, headers={"Origin": origin}, follow_redirects=False)
        assert r.status_code == 403, (url, r.status_code)
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # the same origin passes; a Bearer header is not sent by browsers on their own, so no Origin check
    same = client.post("/api/auth/logout", cookies={"doorline_token": token},
                       headers={"Origin": "http://testserver"})
    assert same.status_code == 204


@pytest.mark.parametrize("url", ["/console/login", "/console/cases", "/api/shops", "/healthz", "/openapi.json",
                                 "/static/console.css", "/shop/bad-token", "/docs", "/nowhere"])
def test_every_reply_carries_the_browser_protections(shared_env: Env, url: str) -> None:
    r = shared_env.client.get(url, follow_redirects=False)
    h = r.headers
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert "object-src 'none'" in h["content-security-policy"]
    assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "same-origin"
    if not url.startswith("/docs"):
        assert "script-src 'self';" in h["content-security-policy"]  # no inline scripts on our own pages


def test_cookie_is_secure_only_behind_a_trusted_tls_proxy(tmp_path: Path) -> None:
    for env in open_env(tmp_path, f"sqlite:///{tmp_path / 's.db'}", trusted_proxies=["10.1.0.0/16"]):
        def cookie_line(client_ip: str, headers: dict[str, str], app=env.client.app) -> str:
            with TestClient(app, client=(client_ip, 5000)) as c:
                r = c.post("/console/login", data={"username": "viewer", "password": PASSWORDS["viewer"]},
                           headers=headers, follow_redirects=False)
                assert r.status_code == 303, r.text
                return r.headers["set-cookie"].lower()

        https = {"X-Forwarded-Proto": "https"}
        assert "secure" in cookie_line("10.1.2.3", https).split("; ")
        assert "secure" not in cookie_line("10.1.2.3", {"X-Forwarded-Proto": "http"}).split("; ")
        assert "secure" not in cookie_line("192.0.2.9", https).split("; ")  # anyone can send the header
        assert "httponly" in cookie_line("10.1.2.3", https)


def test_the_login_throttle_keys_on_the_client_behind_a_trusted_proxy(tmp_path: Path) -> None:
    """Behind the proxy every request comes from the proxy's address: keyed on that, one guesser locked out
    everyone. The throttle keys on the address the trusted proxy forwarded (the right-most X-Forwarded-For
    entry that is not a proxy of ours); a client's own X-Forwarded-For is ignored unless a proxy vouches."""
    for env in open_env(tmp_path, f"sqlite:///{tmp_path / 't.db'}", trusted_proxies=["10.1.0.0/16"]):
        env.client.app.state.login_throttle.max_failures = 3

        def login(peer: str, forwarded: str | None, password: str = "guess", app=env.client.app) -> int:
            headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
            with TestClient(app, client=(peer, 5000)) as c:
                return c.post("/api/auth/token", data={"username": "viewer", "password": password},
                              headers=headers).status_code

        proxy, guesser, colleague = "10.1.2.3", "198.51.100.7", "203.0.113.5"
        assert [login(proxy, guesser) for _ in range(3)] == [401] * 3
        assert login(proxy, guesser, PASSWORDS["viewer"]) == 429
        # someone else behind the same proxy is not locked out by the guesser
        assert login(proxy, colleague, PASSWORDS["viewer"]) == 200
        # the guesser writes an X-Forwarded-For of its own; the proxy appends what it saw: still locked out
        assert login(proxy, f"192.0.2.50, {guesser}", PASSWORDS["viewer"]) == 429
        # through two proxies of ours (the inner one appended the outer one's address)
        assert login(proxy, f"{guesser}, 10.1.9.9", PASSWORDS["viewer"]) == 429
        # a client that is no proxy of ours is keyed on its own address whatever header it sends
        direct = "192.0.2.9"
        assert [login(direct, f"192.0.2.{100 + i}") for i in range(3)] == [401] * 3
        assert login(direct, "192.0.2.200", PASSWORDS["viewer"]) == 429
        assert login("192.0.2.10", direct, PASSWORDS["viewer"]) == 200  # nor can it borrow another's key


def test_client_address_walks_the_forwarded_chain_from_the_right() -> None:
    from starlette.requests import Request

    from central.api.security import client_address

    def addr(peer: str, *forwarded: str, proxies=("10.0.0.0/8", "fd00::/8")) -> str:
        headers = [(b"x-forwarded-for", f.encode()) for f in forwarded]
        return client_address(Request({"type": "http", "client": (peer, 1), "headers": headers}), proxies)

    assert addr("10.0.0.1", "198.51.100.7") == "198.51.100.7"
    assert addr("10.0.0.1", "1.2.3.4, 198.51.100.7, 10.0.0.2") == "198.51.100.7"
    assert addr("10.0.0.1", "1.2.3.4", "198.51.100.7") == "198.51.100.7"  # two headers: one list, in order
    assert addr("fd00::1", " 2001:db8::7 ") == "2001:db8::7"
    assert addr("10.0.0.1", "not-an-address") == "10.0.0.1"  # garbled: the proxy, never the client's words
    assert addr("10.0.0.1", "10.0.0.3") == "10.0.0.1"  # only proxies: the request began at one
    assert addr("10.0.0.1") == "10.0.0.1"
    assert addr("192.0.2.9", "198.51.100.7") == "192.0.2.9"  # not a proxy of ours: the header is ignored
    assert addr("10.0.0.1", "198.51.100.7", proxies=()) == "10.0.0.1"  # no proxies configured


def test_a_bad_trusted_proxy_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="not an IP address or network"):
        CentralSettings(trusted_proxies=["proxy.example"])
