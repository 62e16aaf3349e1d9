"""Evidence download: authorised, content-addressed, and no name can reach outside the store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from .conftest import Env, tiny_jpeg


def stored(env: Env, seed: int = 0) -> tuple[str, bytes]:
    data = tiny_jpeg(seed)
    sha = env.store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    return sha, data


def test_download_needs_a_viewer(env: Env) -> None:
    sha, data = stored(env)
    assert env.client.get(f"/api/evidence/{sha}").status_code == 401
    r = env.client.get(f"/api/evidence/{sha}", headers=env.login("viewer"))
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "image/jpeg" and r.headers["etag"] == f'"{sha}"'
    assert r.headers["x-content-type-options"] == "nosniff"


def test_uppercase_hash_is_the_same_evidence(sqlite_env: Env) -> None:
    sha, data = stored(sqlite_env)
    r = sqlite_env.client.get(f"/api/evidence/{sha.upper()}", headers=sqlite_env.login("viewer"))
    assert r.status_code == 200 and r.content == data


def test_unknown_hash_is_404(sqlite_env: Env) -> None:
    r = sqlite_env.client.get(f"/api/evidence/{'ab' * 32}", headers=sqlite_env.login("viewer"))
    assert r.status_code == 404


ESCAPES = [
    "../../../../etc/passwd",
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fsecret.txt",
    "%2e%2e",
    "..",
    "secret.txt",
    "g" * 64,                      # 64 characters, not hex
    "a" * 63,
    "a" * 65,
    "a" * 64 + "%00",
    "a" * 64 + "%2f..%2fsecret.txt",
    "%2fetc%2fpasswd",
    " " + "a" * 63,
]


@pytest.mark.parametrize("name", ESCAPES)
def test_path_escape_attempts_never_serve_a_file(shared_env: Env, name: str) -> None:
    # files a path escape could reach: next to the store, above it, and the database
    root = Path(shared_env.settings.evidence_dir)
    for secret in (root / "secret.txt", root.parent / "secret.txt"):
        secret.write_text("TOP SECRET")
    stored(shared_env)
    r = shared_env.client.get(f"/api/evidence/{name}", headers=shared_env.login("viewer"))
    assert r.status_code in (404, 405, 422), (name, r.status_code)
    assert b"TOP SECRET" not in r.content and b"root:" not in r.content


def test_corrupted_store_file_is_not_served(sqlite_env: Env) -> None:
    sha, _ = stored(sqlite_env, seed=4)
    path = Path(sqlite_env.store.path_for(sha))
    path.write_bytes(b"\xff\xd8 not the original")
    r = sqlite_env.client.get(f"/api/evidence/{sha}", headers=sqlite_env.login("viewer"))
    assert r.status_code == 500 and "corrupted" in r.json()["detail"]


@pytest.mark.parametrize("name", ["../secret.txt", "..", "/etc/passwd", "a" * 62 + "/.", "A" * 63 + "\x00"])
def test_reader_refuses_names_even_without_the_router(tmp_path: Path, name: str) -> None:
    """Defence in depth: the function that reads the store validates on its own, whatever routed to it."""
    from fastapi import HTTPException

    from central.api.evidence_response import read_evidence
    from central.evidence_store import LocalEvidenceStore

    (tmp_path / "secret.txt").write_text("TOP SECRET")
    store = LocalEvidenceStore(tmp_path / "store")
    with pytest.raises(HTTPException) as exc:
        read_evidence(store, name)
    assert exc.value.status_code == 422
