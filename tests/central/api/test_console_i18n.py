"""The console's language: zh-CN by default, English by Accept-Language or by the switch (a cookie),
the deployment's language last; friendly pages for bad query values."""

from __future__ import annotations

from .conftest import PASSWORDS, Env


def _login(env: Env, role: str = "viewer") -> None:
    r = env.client.post("/console/login", data={"username": role, "password": PASSWORDS[role]},
                        follow_redirects=False)
    assert r.status_code == 303


def test_chinese_by_default_with_html_lang(sqlite_env: Env) -> None:
    page = sqlite_env.client.get("/console/login")
    assert '<html lang="zh-CN">' in page.text and "用户名" in page.text and "Username" not in page.text
    wrong = sqlite_env.client.post("/console/login", data={"username": "viewer", "password": "nope"})
    assert wrong.status_code == 401 and "用户名或密码错误。" in wrong.text


def test_accept_language_then_switch_cookie_wins(sqlite_env: Env) -> None:
    c = sqlite_env.client
    en = c.get("/console/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in en.text and "Username" in en.text
    assert 'href="/lang/zh-CN?next=' in en.text  # the switch offers the other language
    r = c.get("/lang/zh-CN", params={"next": "/console/login?x=1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login?x=1"
    assert "doorline_lang=zh-CN" in r.headers["set-cookie"]
    zh = c.get("/console/login", headers={"Accept-Language": "en"})  # the cookie beats the header
    assert '<html lang="zh-CN">' in zh.text and "密码" in zh.text
    assert c.get("/lang/fr", follow_redirects=False).status_code == 404
    off_site = c.get("/lang/en", params={"next": "//evil.example/"}, follow_redirects=False)
    assert off_site.headers["location"] == "/console"


def test_deployment_language_is_the_fallback(tmp_path) -> None:
    from contextlib import contextmanager

    from .conftest import open_env

    with contextmanager(open_env)(tmp_path, f"sqlite:///{tmp_path / 'en.db'}", language="en") as env:
        assert '<html lang="en">' in env.client.get("/console/login").text
        assert '<html lang="zh-CN">' in env.client.get("/console/login", headers={"Accept-Language": "zh"}).text


def test_bad_query_value_gets_a_page_not_json(sqlite_env: Env) -> None:
    _login(sqlite_env)
    r = sqlite_env.client.get("/console/cases", params={"page": "zero"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert "地址中有无效的参数" in r.text and "page" in r.text
    api = sqlite_env.client.get("/api/cases", params={"limit": "many"}, headers=sqlite_env.login("viewer"))
    assert api.status_code == 422 and api.headers["content-type"] == "application/json"
