"""The S3 evidence store against an S3-compatible server over HTTP (moto's standalone server, boto3 client)."""

from __future__ import annotations

import hashlib
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
