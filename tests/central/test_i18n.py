"""Languages: every string people see is in the zh_CN catalog; language tags, Accept-Language, local times
and numbers formatted for the language."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from central import i18n
from central.i18n import check


def test_every_marked_string_has_a_zh_cn_translation() -> None:
    found = check.extracted()
    assert len(found) > 50, "the extraction found too few strings: is babel.cfg right?"
    assert "Review queue" in found and "Wrong username or password." in found
    gaps = check.missing("zh_CN")
    assert not gaps, f"{len(gaps)} strings without a zh_CN translation (run `make i18n`, fill them in): " + \
        ", ".join(f"{f}: {m!r}" for m, f in sorted(gaps.items())[:20])


def test_the_check_reports_a_template_string_missing_from_the_catalog(tmp_path: Path) -> None:
    shutil.copy(check.ROOT / "babel.cfg", tmp_path / "babel.cfg")
    templates = tmp_path / "central" / "web" / "templates"
    templates.mkdir(parents=True)
    (templates / "new.html").write_text('<p>{{ _("Review queue") }}</p><p>{{ _("A brand new sentence") }}</p>\n'
                                        '{% trans %}Another new one{% endtrans %}')
    (tmp_path / "central" / "labels.py").write_text('from central.i18n import N_\nX = N_("Third new one")\n')
    gaps = check.missing("zh_CN", root=tmp_path)
    assert set(gaps) == {"A brand new sentence", "Another new one", "Third new one"}


@pytest.mark.parametrize(("tag", "want"), [("zh-CN", "zh-CN"), ("zh", "zh-CN"), ("zh_Hans_CN", "zh-CN"),
                                           ("en-GB", "en"), ("EN", "en"), ("fr", None), ("", None)])
def test_normalize(tag: str, want: str | None) -> None:
    assert i18n.normalize(tag) == want


@pytest.mark.parametrize(("header", "want"), [
    ("en-US,en;q=0.9", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("fr-FR, en;q=0.5, zh;q=0.7", "zh-CN"),
    ("de, fr", None), ("en;q=0, zh;q=0.1", "zh-CN"), ("*", None), (None, None)])
def test_negotiate_accept_language(header: str | None, want: str | None) -> None:
    assert i18n.negotiate(header) == want


def test_translated_messages_with_variables() -> None:
    zh, en = i18n.translator("zh-CN"), i18n.translator("en")
    assert zh.gettext("Review queue") == "待审核"
    assert en.gettext("Review queue") == "Review queue"
    assert en.gettext("Wrong username or password.") == "Wrong username or password."
    assert "12" in zh.gettext("Too many failed logins: try again in %(s)s seconds.", s=12)
    assert zh.gettext("a sentence nobody marked") == "a sentence nobody marked"  # falls back to the source


def test_local_times_and_numbers_per_language() -> None:
    at = datetime(2026, 12, 6, 17, 5, tzinfo=UTC)  # 01:05 on 7 December in Shanghai
    zh = i18n.translator("zh-CN", tz="Asia/Shanghai")
    en = i18n.translator("en", tz="Asia/Shanghai")
    assert zh.datetime(at) == "2026/12/7 01:05"
    assert en.datetime(at).startswith("12/7/2026") and "01:05" in en.datetime(at)
    naive = at.replace(tzinfo=None)  # SQLite hands back naive UTC
    assert zh.datetime(naive) == zh.datetime(at)
    assert zh.date(at) == "2026/12/7" and zh.date(date(2026, 12, 6)) == "2026/12/6"
    assert zh.timestamp(at.timestamp()) == "2026/12/7 01:05:00"
    assert i18n.translator("en", tz="Europe/London").datetime(at).endswith("17:05")
    assert zh.number(12345.5) == "12,345.5" and zh.decimal(0.914) == "0.91"
    assert zh.percent(0.125) == "12.5%"
    assert zh.datetime(None) == "—" and zh.timestamp(0) == "—"


def test_current_translator_follows_use() -> None:
    assert i18n.current().language == "zh-CN"
    with i18n.use(i18n.translator("en")):
        assert i18n.gettext("Review queue") == "Review queue"
    assert i18n.gettext("Review queue") == "待审核"
