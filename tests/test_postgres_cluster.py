"""The tests' throwaway PostgreSQL: it serves, and leaves nothing behind."""

from __future__ import annotations

import socket

import sqlalchemy

from testkit.postgres import ENV_URL, ThrowawayCluster, admin_url, fresh_database


def test_throwaway_cluster_serves_a_fresh_database_and_is_removed_afterwards() -> None:
    cluster = ThrowawayCluster().start()
    try:
        with fresh_database(cluster.url) as url:
            engine = sqlalchemy.create_engine(url)
            with engine.connect() as conn:
                assert conn.exec_driver_sql("select current_database()").scalar() == url.rsplit("/", 1)[1]
            engine.dispose()
    finally:
        cluster.remove()
    assert not cluster.dir.exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", cluster.port)) != 0, "the server still listens"


def test_a_given_server_is_used_as_is(monkeypatch) -> None:
    monkeypatch.setenv(ENV_URL, "postgresql+psycopg://someone@db.example:5433/x")
    with admin_url() as url:
        assert url == "postgresql+psycopg://someone@db.example:5433/x"


def test_each_test_database_is_a_fresh_copy_at_the_newest_schema(pg_url: str, pg_empty_url: str) -> None:
    """`pg_url` is copied from a migrated template (at alembic's head, no rows from another test);
    `pg_empty_url` has no tables at all."""
    from alembic.script import ScriptDirectory

    from central.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(pg_url)).get_current_head()
    engine = sqlalchemy.create_engine(pg_url)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("select version_num from alembic_version").scalar() == head
        assert conn.exec_driver_sql("select count(*) from shops").scalar() == 0
        conn.exec_driver_sql("create table left_behind (x int)")
    engine.dispose()
    empty = sqlalchemy.create_engine(pg_empty_url)
    with empty.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from pg_tables where schemaname = 'public'").scalar() == 0
    empty.dispose()


def test_the_next_copy_holds_nothing_the_last_test_wrote(pg_url: str) -> None:
    engine = sqlalchemy.create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from shops").scalar() == 0
        assert conn.exec_driver_sql("select to_regclass('left_behind')").scalar() is None
    engine.dispose()
