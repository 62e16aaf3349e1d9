"""The real app in a TestClient over a real database, with operators of every role (for the domain routes)."""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

import central.orm  # noqa: F401  (registers every table)
from central.app import create_app
from central.db import make_engine, make_session_factory
from central.evidence_store import LocalEvidenceStore
from central.orm.base import Base
from central.settings import CentralSettings
from central.users_cli import ensure_user

PASSWORDS = {"admin": "admin-pass-1", "reviewer": "reviewer-pass-1", "viewer": "viewer-pass-1"}


@dataclass
class Api:
    settings: CentralSettings
    factory: sessionmaker[Session]
    client: TestClient
    headers: dict[str, dict[str, str]]

    def get(self, path: str, role: str = "viewer", **kw):
        return self.client.get(path, headers=self.headers[role], **kw)

    def post(self, path: str, role: str = "admin", **kw):
        return self.client.post(path, headers=self.headers[role], **kw)

    def put(self, path: str, role: str = "admin", **kw):
        return self.client.put(path, headers=self.headers[role], **kw)

    def patch(self, path: str, role: str = "admin", **kw):
        return self.client.patch(path, headers=self.headers[role], **kw)


def _open(tmp_path: Path, db_url: str) -> Iterator[Api]:
    for name in ("central.orm.events", "central.outbox"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    settings = CentralSettings(
        database_url=db_url,
        evidence_dir=tmp_path / "evidence",
        ingest_enabled=False,
        secret_key=secrets.token_urlsafe(48),
        token_ttl_s=600,
    )
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        for role, pw in PASSWORDS.items():
            ensure_user(s, role, pw, role)
        s.commit()
    app = create_app(settings, factory, store=LocalEvidenceStore(tmp_path / "evidence", fsync=False))
    with TestClient(app) as client:
        headers = {}
        for role, pw in PASSWORDS.items():
            r = client.post("/api/auth/token", data={"username": role, "password": pw})
            assert r.status_code == 200, r.text
            headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield Api(settings, factory, client, headers)
    engine.dispose()


@pytest.fixture
def api(tmp_path: Path, db_url_icu: str) -> Iterator[Api]:
    """SQLite and PostgreSQL (collated by ICU en-US, not C)."""
    yield from _open(tmp_path, db_url_icu)


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    yield from _open(tmp_path, f"sqlite:///{tmp_path / 'doorline.db'}")
