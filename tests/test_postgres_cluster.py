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
