"""Fixtures for the notice tests: a real database, a shop with a detected case, and the real local servers
of `notice_receivers` (webhook receiver, SMTP, Web Push endpoint, MQTT subscriber)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

import central.orm  # noqa: F401
from central.db import make_engine, make_session_factory
from central.orm.base import Base
from central.orm.cases import Case
from central.orm.shops import Shop
from central.settings import CentralSettings, NoticeSettings
from wire.ids import new_id

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'doorline.db'}")
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def pg_factory(pg_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(pg_url)
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def make_settings(**notices) -> CentralSettings:
    base = {"backoff_s": 0.05, "backoff_max_s": 0.2, "max_attempts": 3, "poll_s": 0.05, "lease_s": 5,
            "timeout_s": 2}
    return CentralSettings(database_url="sqlite://", public_base_url="https://doorline.example",
                           owner_link_secret=secrets.token_urlsafe(48),
                           notices=NoticeSettings(**(base | notices)))


@pytest.fixture
def settings() -> CentralSettings:
    return make_settings()


def add_shop(session: Session, shop_id: str, **fields) -> Shop:
    shop = Shop(id=shop_id, name=fields.pop("name", f"老王小吃 {shop_id}"), address=f"人民路 {shop_id} 号",
                road="人民路", area="姑苏区", owner="王先生", phone="13800000000", grade="yellow", **fields)
    session.add(shop)
    session.flush()
    return shop


def add_case(session: Session, shop_id: str, *, at: datetime = T0, violation: str = "piled_goods") -> Case:
    case = Case(id=new_id(), shop_id=shop_id, violation=violation, state="detected", is_open=True,
                site_id="site-1", camera_id="cam-1", zone_id=f"z-{shop_id}", source_kind="fixed",
                score=0.9, event_count=1, evidence=["ab" * 32], opened_at=at, first_seen_at=at, last_seen_at=at)
    session.add(case)
    session.flush()
    return case
