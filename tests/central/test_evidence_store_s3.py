"""The S3 evidence store against an S3-compatible server over HTTP (moto's standalone server, boto3 client)."""

from __future__ import annotations

import hashlib
import secrets
import socket

import pytest

from central.evidence_store import EvidenceStoreError, S3EvidenceStore, make_store
from central.settings import CentralSettings

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"


@pytest.fixture
def s3_endpoint(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "doorline")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "doorline-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="evidence")
    yield url
    server.stop()


def test_put_get_is_content_addressed_and_idempotent(s3_endpoint: str) -> None:
    store = make_store(CentralSettings(evidence_s3_bucket="evidence", evidence_s3_endpoint=s3_endpoint))
    assert isinstance(store, S3EvidenceStore)
    sha = store.put(JPEG)
    assert sha == hashlib.sha256(JPEG).hexdigest()
    assert store.put(JPEG) == sha
    assert store.exists(sha)
    assert store.get(sha) == JPEG
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint)
            .list_objects_v2(Bucket="evidence")["Contents"]]
    assert keys == [f"evidence/{sha[:2]}/{sha}.jpg"]


@pytest.mark.parametrize("name", ["../../etc/passwd", "ab" * 31, "Z" * 64, ""])
def test_names_that_are_not_a_sha256_are_refused(s3_endpoint: str, name: str) -> None:
    store = S3EvidenceStore("evidence", endpoint_url=s3_endpoint)
    with pytest.raises((ValueError, EvidenceStoreError)):
        store.get(name)


def test_missing_object_and_missing_bucket_are_clear_errors(s3_endpoint: str) -> None:
    store = S3EvidenceStore("evidence", endpoint_url=s3_endpoint)
    with pytest.raises(FileNotFoundError):
        store.get("0" * 64)
    with pytest.raises(EvidenceStoreError, match="s3://no-such-bucket"):
        S3EvidenceStore("no-such-bucket", endpoint_url=s3_endpoint).put(JPEG)


def test_app_serves_evidence_from_s3_to_viewers_only(s3_endpoint: str, tmp_path) -> None:
    """With `evidence_s3_bucket` set, the app's store is the bucket: downloads come from S3, authorised,
    checked against their hash, and a missing object is a 404."""
    from fastapi.testclient import TestClient

    import central.orm  # noqa: F401  (registers every table)
    from central.app import create_app
    from central.db import make_engine, make_session_factory
    from central.orm.base import Base
    from central.users_cli import ensure_user

    url = f"sqlite:///{tmp_path / 'c.db'}"
    settings = CentralSettings(database_url=url, ingest_enabled=False, evidence_s3_bucket="evidence",
                               evidence_s3_endpoint=s3_endpoint, secret_key=secrets.token_urlsafe(48))
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        ensure_user(s, "viewer", "viewer-pass-1", "viewer")
        s.commit()
    sha = S3EvidenceStore("evidence", endpoint_url=s3_endpoint).put(JPEG)
    app = create_app(settings, factory)
    assert isinstance(app.state.store, S3EvidenceStore)
    with TestClient(app) as client:
        assert client.get(f"/api/evidence/{sha}").status_code == 401
        token = client.post("/api/auth/token", data={"username": "viewer", "password": "viewer-pass-1"})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        r = client.get(f"/api/evidence/{sha}", headers=auth)
        assert r.status_code == 200 and r.content == JPEG and r.headers["content-type"] == "image/jpeg"
        assert client.get(f"/api/evidence/{'0' * 64}", headers=auth).status_code == 404
        # an object overwritten in the bucket no longer matches its name: refused, not served
        boto3.client("s3", endpoint_url=s3_endpoint).put_object(
            Bucket="evidence", Key=S3EvidenceStore.key_for(sha), Body=b"tampered")
        assert client.get(f"/api/evidence/{sha}", headers=auth).status_code == 500
    engine.dispose()
