"""Fixtures for the central tests: a PostgreSQL database whose collation is not C.

Deployments create their databases with the system's locale (en_US.UTF-8, zh_CN.UTF-8), where text sorts
differently from Python; a test on a C-collated database cannot see code that relies on SQL ordering.
The test machine may have no such OS locale, so the database takes an ICU collation (PostgreSQL ≥ 15).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.postgres import clone_options, fresh_database, migrated_template

ICU_LOCALE = "en-US"


@pytest.fixture(scope="session")
def pg_icu_template(pg_admin_url: str) -> Iterator[str]:
    """An ICU 'en-US' collated database at central's newest schema, made once per run, that `pg_icu_url`
    copies (a copy keeps its template's collation)."""
    icu = f"TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{ICU_LOCALE}' LOCALE 'C.UTF-8' ENCODING 'UTF8'"
    with migrated_template(pg_admin_url, "doorline_icu_tpl", icu) as name:
        yield name


@pytest.fixture
def pg_icu_url(pg_admin_url: str, pg_icu_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database collated by ICU 'en-US' on the server `pg_url` uses, dropped after."""
    with fresh_database(pg_admin_url, "doorline_icu", clone_options(pg_icu_template)) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql-icu"])
def db_url_icu(request, tmp_path: Path) -> str:
    """SQLite, and PostgreSQL with a non-C (ICU en-US) collation."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'doorline.db'}"
    return request.getfixturevalue("pg_icu_url")
