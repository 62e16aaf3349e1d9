"""The Alembic migrations build exactly the schema the ORM declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import central.orm  # noqa: F401
from central.migrate import upgrade
from central.orm.base import Base


def test_migrations_match_the_models(db_url: str) -> None:
    upgrade(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert diff == [], f"models and migrations differ: {diff[:5]}"


def test_upgrade_twice_is_harmless(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    upgrade(url)
