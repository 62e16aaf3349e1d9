"""Languages for people: zh-CN (the default) and English, from the Babel message catalogs in
central/i18n/locale/<locale>/LC_MESSAGES/messages.po.

The source strings (msgids) are English; the zh_CN catalog translates them. The .po files are the only
catalog files in the repository and in the wheel: they are compiled in memory when first used (`_load`),
so a fresh clone, an editable install and a wheel behave the same and no build step can be forgotten.
`make i18n` extracts the strings (babel.cfg: templates and Python) and updates the catalogs.

Use outside templates (notices, flash messages):

    t = translator("zh-CN", tz="Asia/Shanghai")
    t.gettext("Case %(case)s dismissed.", case=case.id)
    t.datetime(case.opened_at)          # local time, formatted for the language
    t.number(1234.5)

Inside a request the console sets the current translator (`use(t)`), so `gettext(...)` without a
translator and the templates' `{{ _("...") }}` / `{% trans %}` use the request's language.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from central.domain.clock import as_utc, zone

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"
LANGUAGES: tuple[str, ...] = ("zh-CN", "en")  # the first is the default
DEFAULT_LANGUAGE = LANGUAGES[0]
DEFAULT_TZ = "Asia/Shanghai"
# what each language is called in its own words, for the switch in the page header
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}
_BABEL_LOCALE = {"zh-CN": "zh_Hans_CN", "en": "en"}
_CATALOG = {"zh-CN": "zh_CN", "en": None}  # English is the source language: no catalog needed


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark for extraction only"
    """Marks a string for extraction without translating it (labels in module-level tables)."""
    return message


def normalize(tag: str | None) -> str | None:
    """One of LANGUAGES for a language tag ("zh", "zh-Hans-CN", "zh_TW", "en-GB", ...), or None."""
    if not tag:
        return None
    parts = tag.strip().replace("_", "-").lower().split("-")
    if parts[0] == "zh":
        return "zh-CN"
    if parts[0] == "en":
        return "en"
    return None


def negotiate(accept_language: str | None) -> str | None:
    """The best of LANGUAGES for an Accept-Language header (q-values honoured), or None."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, i, tag))
    for _, _, tag in sorted(ranked):
        lang = normalize(tag)
        if lang:
            return lang
    return None


@lru_cache(maxsize=8)
def _load(language: str) -> _gettext.NullTranslations:
    """The catalog of one language, compiled from its .po file in memory."""
    name = _CATALOG.get(language)
    if name is None:
        return _gettext.NullTranslations()
    po = LOCALE_DIR / name / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=name, domain=DOMAIN)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


@lru_cache(maxsize=8)
def _babel_locale(language: str) -> Locale:
    return Locale.parse(_BABEL_LOCALE[language])


@dataclass(frozen=True)
class Translator:
    """Messages, dates and numbers in one language and one time zone."""

    language: str = DEFAULT_LANGUAGE
    tz: str = DEFAULT_TZ
    translations: _gettext.NullTranslations = field(default_factory=_gettext.NullTranslations, repr=False)

    @property
    def locale(self) -> Locale:
        return _babel_locale(self.language)

    def gettext(self, message: str, **variables: object) -> str:
        text = self.translations.gettext(message)
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, n: int, **variables: object) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return text % {"num": n, **variables}

    # -- times: stored UTC, shown in the deployment's zone

    def local(self, value: datetime) -> datetime:
        return as_utc(value).astimezone(zone(self.tz))  # type: ignore[union-attr]

    def datetime(self, value: datetime | None, date_fmt: str = "yMd", time_fmt: str = "Hm") -> str:
        """A stored datetime as local time: the CLDR skeletons of the date and the time (24-hour clock),
        joined the language's way."""
        if value is None:
            return "—"
        local = self.local(value)
        day = babel_dates.format_skeleton(date_fmt, local, locale=self.locale)
        clock = babel_dates.format_skeleton(time_fmt, local, locale=self.locale)
        return str(self.locale.datetime_formats["short"]).replace("{1}", day).replace("{0}", clock)

    def date(self, value: date | datetime | None, fmt: str = "yMd") -> str:
        if value is None:
            return "—"
        if isinstance(value, datetime):
            value = self.local(value).date()
        return babel_dates.format_skeleton(fmt, value, locale=self.locale)

    def time(self, value: datetime | None, fmt: str = "Hms") -> str:
        if value is None:
            return "—"
        return babel_dates.format_skeleton(fmt, self.local(value), locale=self.locale)

    def timestamp(self, unix_s: float | None, time_fmt: str = "Hms") -> str:
        """Unix seconds (edge clocks) as local time, to the second."""
        if unix_s is None or unix_s <= 0:
            return "—"
        return self.datetime(datetime.fromtimestamp(unix_s, UTC), time_fmt=time_fmt)

    def ago(self, value: datetime | None, now: datetime | None = None) -> str:
        """'3 minutes ago' / '3分钟前'."""
        if value is None:
            return "—"
        delta = as_utc(value) - (now or datetime.now(UTC))  # type: ignore[operator]
        return babel_dates.format_timedelta(delta, add_direction=True, locale=self.locale)

    def duration(self, seconds: float) -> str:
        return babel_dates.format_timedelta(timedelta(seconds=seconds), locale=self.locale)

    # -- numbers

    def number(self, value: float | int | None) -> str:
        if value is None:
            return "—"
        return babel_numbers.format_decimal(value, locale=self.locale)

    def decimal(self, value: float | None, fmt: str = "0.00") -> str:
        if value is None:
            return "—"
        return babel_numbers.format_decimal(value, format=fmt, locale=self.locale)

    def percent(self, value: float | None, fmt: str = "#,##0.0%") -> str:
        if value is None:
            return "—"
        return babel_numbers.format_percent(value, format=fmt, locale=self.locale)


def translator(language: str | None = None, tz: str | None = None) -> Translator:
    """The translator for a language (any tag `normalize` knows; unknown → the default) and a time zone."""
    lang = normalize(language) or DEFAULT_LANGUAGE
    return Translator(lang, tz or DEFAULT_TZ, _load(lang))


_current: ContextVar[Translator | None] = ContextVar("doorline_translator", default=None)


def current() -> Translator:
    """The translator set by `use` (the request's), else the default language."""
    return _current.get() or translator()


@contextmanager
def use(t: Translator) -> Iterator[Translator]:
    token = _current.set(t)
    try:
        yield t
    finally:
        _current.reset(token)


def gettext(message: str, **variables: object) -> str:
    return current().gettext(message, **variables)


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    return current().ngettext(singular, plural, n, **variables)


_ = gettext
