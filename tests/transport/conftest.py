from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.ingest import IngestService
from central.settings import CentralSettings
from edge.publisher import Publisher
from testkit.transport import METRICS_TOKEN, central_db, evidence_store
from wire.mqtt import MqttSettings


@pytest.fixture
def central_factory(db_url: str) -> Iterator:
    """A session factory on `db_url` (SQLite or PostgreSQL), with central's tables; disposed before the
    database fixture drops the database."""
    engine, factory = central_db(db_url)
    yield factory
    engine.dispose()


@pytest.fixture
def make_central(tmp_path: Path) -> Iterator:
    """Start in-process IngestServices on one database; stopped afterwards."""
    started: list[IngestService] = []
    engines = []

    def make(
        broker,
        prefix: str,
        db_url: str | None = None,
        *,
        client_id: str = "central-1",
        mqtt: MqttSettings | None = None,
        edge_accounts: Path | None = None,
        **kw,
    ) -> IngestService:
        url = db_url or f"sqlite:///{tmp_path / 'central.db'}"
        engine, factory = central_db(url)
        engines.append(engine)
        settings = CentralSettings(
            database_url=url,
            evidence_dir=tmp_path / "evidence",
            mqtt=mqtt or MqttSettings(host=broker.host, port=broker.port, prefix=prefix),
            edge_accounts=edge_accounts,
            secret_key=secrets.token_urlsafe(48),  # a real random key, for tests that also serve HTTP
            metrics_token=METRICS_TOKEN,
        )
        svc = IngestService(
            settings, factory, evidence_store(tmp_path / "evidence"), client_id=client_id, **kw
        )
        svc.start()
        assert svc.wait_ready(10), f"ingest not subscribed: {svc.stats()}"
        started.append(svc)
        return svc

    yield make
    for svc in started:
        svc.stop()
    for e in engines:
        e.dispose()


@pytest.fixture
def make_edge(tmp_path: Path) -> Iterator:
    started: list[Publisher] = []

    def make(
        broker,
        prefix: str,
        *,
        edge_id: str = "edge-1",
        cameras: tuple[str, ...] = ("cam-1",),
        mqtt: MqttSettings | None = None,
        start: bool = True,
        **kw,
    ) -> Publisher:
        pub = Publisher(
            mqtt or MqttSettings(host=broker.host, port=broker.port, prefix=prefix),
            edge_id=edge_id,
            site_id="site-a",
            camera_ids=list(cameras),
            spool_path=tmp_path / f"spool-{edge_id}.db",
            **({"receipts": False} | kw),  # PUBACK mode unless a test asks for receipts
        )
        if start:
            pub.start()
            started.append(pub)
        return pub

    yield make
    for pub in started:
        pub.stop(timeout=3)
