"""Fixtures for the central domain tests: a real database (SQLite or PostgreSQL), settings, and a small
helper that builds shops and wire messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import central.orm  # noqa: F401  (registers every table)
from central.db import make_engine, make_session_factory
from central.domain import registry
from central.domain.shop_schema import ShopIn
from central.orm.base import Base
from central.settings import CentralSettings
from wire.ids import new_id
from wire.schema import EventMessage, EvidenceRef, GeoPoint, RecheckResult

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _import_optional_tables() -> None:
    for name in ("central.orm.events", "central.outbox"):
        try:
            __import__(name)
        except ImportError:
            pass


def _open(url: str) -> Iterator[Session]:
    _import_optional_tables()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        yield session
    engine.dispose()


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """SQLite only: for tests where the back-end does not matter."""
    yield from _open(f"sqlite:///{tmp_path / 'doorline.db'}")


@pytest.fixture
def any_session(db_url_icu: str) -> Iterator[Session]:
    """SQLite and PostgreSQL (collated by ICU en-US, not C)."""
    yield from _open(db_url_icu)


@pytest.fixture
def settings() -> CentralSettings:
    return CentralSettings(
        database_url="sqlite://",
        self_rectify_window_s=1800,
        strike_window_days=365,
        lenient_self_rectified=True,
        recheck_timeout_s=600,
        grade_rules="counts",
    )


class World:
    """Builds registry rows and wire messages for a test."""

    def __init__(self, session: Session, site: str = "site-1"):
        self.session = session
        self.site = site

    def shop(
        self,
        shop_id: str,
        *,
        camera: str | None = "cam-1",
        zone: str | None = None,
        footprint: list[list[float]] | None = None,
        **fields,
    ) -> str:
        zones = (
            [{"camera_id": camera, "zone_id": zone or f"z-{shop_id}", "polygon": [[0, 0], [10, 0], [10, 10]]}]
            if camera
            else []
        )
        data = {
            "id": shop_id,
            "name": f"Shop {shop_id}",
            "address": f"{shop_id} Main Road",
            "road": "Main Road",
            "area": "North",
            "owner": f"Owner {shop_id}",
            "phone": "555",
            "zones": zones,
            "footprint": footprint,
        } | fields
        registry.create_shop(self.session, ShopIn.model_validate(data), actor="test")
        return shop_id

    def event(
        self,
        *,
        zone: str | None,
        camera: str = "cam-1",
        phase: str = "start",
        event_id: str | None = None,
        violation: str = "piled_goods",
        at: datetime = T0,
        score: float = 0.8,
        seq: int = 0,
        geo: tuple[float, float] | None = None,
        sha: str | None = None,
    ) -> EventMessage:
        evidence = [EvidenceRef(evidence_id=new_id(), sha256=sha or new_id().replace("-", "")[:32] * 2, size=100)]
        return EventMessage(
            site_id=self.site,
            camera_id=camera,
            event_id=event_id or new_id(),
            seq=seq,
            zone_id=zone,
            violation=violation,
            phase=phase,
            ts=at.timestamp(),
            score=score,
            evidence=evidence,
            source_kind="drone" if geo else "fixed",
            geo=GeoPoint(lat=geo[0], lon=geo[1]) if geo else None,
        )

    def recheck(self, case, result: str, at: datetime) -> RecheckResult:
        return RecheckResult(
            site_id=self.site,
            camera_id=case.camera_id,
            command_id=case.recheck_command_id,
            case_id=case.id,
            zone_id=case.zone_id,
            result=result,
            ts=at.timestamp(),
            score=0.9 if result == "present" else 0.0,
            evidence=[EvidenceRef(evidence_id=new_id(), sha256="ab" * 32, size=10)],
        )


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


@pytest.fixture
def any_world(any_session: Session) -> World:
    return World(any_session)
