"""Fixtures for the HTTP tests: a real database (SQLite and PostgreSQL), the real app in a TestClient,
operator accounts of every role, a local evidence store, and helpers to make shops and cases through
the domain code."""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

import central.orm  # noqa: F401  (registers every table)
from central.app import create_app
from central.auth import hash_password
from central.db import make_engine, make_session_factory
from central.evidence_store import LocalEvidenceStore
from central.orm.base import Base
from central.orm.users import User
from central.settings import CentralSettings

TEST_SECRET = secrets.token_urlsafe(48)  # a real random key: central refuses weak ones
OWNER_LINK_SECRET = secrets.token_urlsafe(48)
PASSWORDS = {"admin": "admin-pass-1", "reviewer": "reviewer-pass-1", "officer": "officer-pass-1",
             "viewer": "viewer-pass-1"}


def _import_optional_tables() -> None:
    for name in ("central.orm.events", "central.outbox"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


@lru_cache(maxsize=1)
def user_hashes() -> dict[str, str]:
    """argon2 is slow on purpose: hash the test passwords once per session."""
    return {role: hash_password(pw) for role, pw in PASSWORDS.items()}


def make_settings(tmp_path: Path, db_url: str, **overrides) -> CentralSettings:
    overrides.setdefault("owner_link_secret", OWNER_LINK_SECRET)
    return CentralSettings(database_url=db_url, evidence_dir=tmp_path / "evidence", ingest_enabled=False,
                           secret_key=TEST_SECRET, token_ttl_s=600, **overrides)


@dataclass
class Env:
    settings: CentralSettings
    factory: sessionmaker[Session]
    store: LocalEvidenceStore
    client: TestClient

    def session(self) -> Session:
        return self.factory()

    def login(self, role: str) -> dict[str, str]:
        """Headers with a real access token for the account named after its role (minted directly: the
        password check itself is tested through /api/auth/token)."""
        from sqlalchemy import select

        from central.auth import create_access_token
        from central.orm.users import User

        with self.session() as s:
            user = s.scalar(select(User).where(User.username == role))
            token, _ = create_access_token(self.settings, user)
        return {"Authorization": f"Bearer {token}"}

    def login_http(self, role: str) -> dict[str, str]:
        r = self.client.post("/api/auth/token", data={"username": role, "password": PASSWORDS[role]})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def open_env(tmp_path: Path, db_url: str, **overrides) -> Iterator[Env]:
    _import_optional_tables()
    settings = make_settings(tmp_path, db_url, **overrides)
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        for role, password_hash in user_hashes().items():
            s.add(User(username=role, password_hash=password_hash, role=role, active=True, token_version=0))
        s.commit()
    store = LocalEvidenceStore(tmp_path / "evidence")
    app = create_app(settings, factory, store=store)
    with TestClient(app) as client:
        yield Env(settings, factory, store, client)
    engine.dispose()


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    """The app on SQLite and on PostgreSQL."""
    yield from open_env(tmp_path, db_url)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[Env]:
    """SQLite only, for tests where the back-end does not matter."""
    yield from open_env(tmp_path, f"sqlite:///{tmp_path / 'doorline.db'}")


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One SQLite app for a module's read-only table tests (they must not change it)."""
    tmp = tmp_path_factory.mktemp("shared")
    yield from open_env(tmp, f"sqlite:///{tmp / 'doorline.db'}")


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def tiny_jpeg(seed: int = 0) -> bytes:
    """A real, small JPEG (OpenCV-encoded), different per seed."""
    import cv2
    import numpy as np

    img = np.zeros((90, 160, 3), np.uint8)
    img[:, :, 1] = 60 + seed % 150
    cv2.rectangle(img, (20 + seed % 50, 20), (80 + seed % 50, 70), (40, 90, 220), -1)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def add_shop(session: Session, shop_id: str, *, camera: str = "cam-1", zone: str | None = None,
             **fields) -> str:
    from central.domain import registry
    from central.domain.shop_schema import ShopIn

    data = {"id": shop_id, "name": f"Shop {shop_id}", "address": f"{shop_id} Main Road", "road": "Main Road",
            "area": "North", "owner": f"Owner {shop_id}", "phone": "555",
            "zones": [{"camera_id": camera, "zone_id": zone or f"z-{shop_id}",
                       "polygon": [[0, 0], [10, 0], [10, 10]]}]} | fields
    registry.create_shop(session, ShopIn.model_validate(data), actor="test")
    return shop_id


def event_message(*, zone: str | None, sha: str, camera: str = "cam-1", at: datetime = T0, score: float = 0.8,
                  violation: str = "piled_goods", site: str = "site-1"):
    from wire.ids import new_id
    from wire.schema import EventMessage, EvidenceRef

    return EventMessage(site_id=site, camera_id=camera, event_id=new_id(), seq=0, zone_id=zone,
                        violation=violation, phase="start", ts=at.timestamp(), score=score,
                        evidence=[EvidenceRef(evidence_id=new_id(), sha256=sha, size=100)])


def detected_case(env: Env, shop_id: str = "s1", *, seed: int = 0) -> tuple[str, str]:
    """A shop with a case in `detected` made by the workflow from an event with a real stored JPEG.
    Returns (case id, evidence sha256)."""
    from central.orm.shops import Shop
    from central.workflow import handle_event

    sha = env.store.put(tiny_jpeg(seed))
    with env.session() as s:
        if s.get(Shop, shop_id) is None:
            add_shop(s, shop_id)
        case = handle_event(s, event_message(zone=f"z-{shop_id}", sha=sha), env.settings)
        assert case is not None and case.state == "detected"
        s.commit()
        return case.id, sha
