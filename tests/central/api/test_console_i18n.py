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


def test_zh_pages_show_no_english_from_the_catalog(sqlite_env: Env) -> None:
    """Every console page, rendered in zh-CN, contains none of the catalog's English source sentences or
    labels: what was extracted is also what the page shows translated."""
    import html as html_lib
    import re

    from central.i18n import check

    from .conftest import detected_case

    env = sqlite_env
    case_id, _ = detected_case(env, "s1")
    _login(env, "reviewer")
    english = {m for m, zh in check.catalog("zh_CN").items()
               if zh != m and len(m) > 3 and re.search(r"[A-Za-z]{3}", m) and "%(" not in m} - set(PASSWORDS)
    # (the test accounts are named after their roles: "reviewer" next to "Log out" is a user name)
    pages = ["/console", f"/console/cases/{case_id}", "/console/cases", "/console/events", "/console/ownerless",
             "/console/shops", "/console/grades", "/console/inspections", "/console/edges",
             "/console/map", "/console/shops/s1", "/console/stats", "/console/hotspots"]
    for path in pages:
        r = sqlite_env.client.get(path)
        assert r.status_code == 200, path
        body = r.text[r.text.index("<body"):]
        body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
        body = re.sub(r"<svg.*?</svg>", " ", body, flags=re.S)  # grade faces: their titles are checked below
        text = html_lib.unescape(re.sub(r"<[^>]+>", "\n", body))
        lines = {line.strip() for line in text.splitlines() if line.strip()}
        leaked = sorted(m for m in english if m in lines)
        assert not leaked, f"{path} shows untranslated strings: {leaked}"
        assert "UTC" not in text, f"{path} shows a UTC time"


def test_edge_status_times_are_local_and_readable(sqlite_env: Env) -> None:
    from datetime import UTC, datetime

    from central.orm.events import EdgeStatus

    env = sqlite_env
    sent = datetime(2026, 12, 6, 17, 5, 9, tzinfo=UTC)
    with env.session() as s:
        s.add(EdgeStatus(site_id="site-1", camera_id="cam-1", edge_id="edge-1", state="degraded",
                         source_state="reading", fps=9.5, spool_depth=3, spool_bytes=4096, detail="view changed",
                         sent_at=sent.timestamp(), updated_at=sent))
        s.commit()
    _login(env)
    page = env.client.get("/console/edges").text
    assert "2026/12/7 01:05:09" in page  # the edge clock, in Shanghai time, to the second
    assert "2026/12/7 01:05" in page and "异常" in page and "3 条消息，4 KB" in page
    assert str(int(sent.timestamp())) not in page


def test_a_page_compiled_in_one_language_renders_in_the_other(sqlite_env: Env) -> None:
    """Labels of constants ({{ "green" | grade_name }}) follow each request, not the first one that
    compiled the template."""
    from central.web.render import templates

    templates.env.cache.clear()  # compile afresh, in English first
    _login(sqlite_env)
    en = sqlite_env.client.get("/console/grades", headers={"Accept-Language": "en"}).text
    zh = sqlite_env.client.get("/console/grades", headers={"Accept-Language": "zh-CN"}).text
    assert '<span class="key green"></span> green' in en
    assert '<span class="key green"></span> 绿色' in zh


def test_a_bad_form_leads_back_to_its_page(sqlite_env: Env) -> None:
    from .conftest import detected_case

    case_id, _ = detected_case(sqlite_env, "s1")
    _login(sqlite_env, "reviewer")
    page = f"http://testserver/console/cases/{case_id}"
    r = sqlite_env.client.post(f"/console/cases/{case_id}/penalty", data={"amount": "-3"},
                               headers={"referer": page, "origin": "http://testserver"})
    assert r.status_code == 400 and f'href="/console/cases/{case_id}"' in r.text and "ticket_no" in r.text
    off = sqlite_env.client.post(f"/console/cases/{case_id}/penalty", data={"amount": "-3"},
                                 headers={"referer": "https://evil.example/x"})
    assert off.status_code == 400 and 'href="/console"' in off.text
