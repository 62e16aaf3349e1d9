"""Fixtures for the central tests: a PostgreSQL database whose collation is not C.

Deployments create their databases with the system's locale (en_US.UTF-8, zh_CN.UTF-8), where text sorts
differently from Python; a test on a C-collated database cannot see code that relies on SQL ordering.
The test machine may have no such OS locale, so the database takes an ICU collation (PostgreSQL ≥ 15).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL

ICU_LOCALE = "en-US"


@pytest.fixture
def pg_icu_url() -> Iterator[str]:
    """A fresh PostgreSQL database collated by ICU 'en-US' on the server `pg_url` uses, dropped after."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"doorline_icu_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{ICU_LOCALE}' "
                "LOCALE 'C.UTF-8' ENCODING 'UTF8'"
            )
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        pytest.skip(f"PostgreSQL (≥ 15, with ICU) not reachable at {PG_ADMIN_URL}: {exc}")
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql-icu"])
def db_url_icu(request, tmp_path: Path) -> str:
    """SQLite, and PostgreSQL with a non-C (ICU en-US) collation."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'doorline.db'}"
    return request.getfixturevalue("pg_icu_url")
