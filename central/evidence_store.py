"""Content-addressed evidence storage: a JPEG is stored under its SHA-256, written atomically, never changed.

Storing the same bytes twice is a no-op, so a redelivered evidence message costs nothing. Files whose
transaction later rolled back stay behind as unreferenced blobs (harmless; a sweep may remove them).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import tempfile
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from central.settings import CentralSettings

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class EvidenceStoreError(RuntimeError):
    """The store could not write or read a blob."""


def _check(sha256: str) -> str:
    sha = sha256.lower()
    if not _SHA_RE.fullmatch(sha):
        raise ValueError(f"{sha256!r} is not a SHA-256 hex digest")
    return sha


class EvidenceStore(ABC):
    @abstractmethod
    def put(self, data: bytes, *, durable: bool = True) -> str:
        """Store `data`; returns its sha256 hex digest. `durable=False` defers making it crash-safe until
        `flush()` (one sync for a whole batch instead of one per blob)."""

    def flush(self) -> None:  # noqa: B027  (stores that write durably at once need nothing here)
        """Make every blob put with `durable=False` crash-safe."""

    @abstractmethod
    def get(self, sha256: str) -> bytes:
        """The bytes stored under `sha256`; FileNotFoundError if absent."""

    @abstractmethod
    def exists(self, sha256: str) -> bool: ...

    def path_for(self, sha256: str) -> Path | None:
        """Local file of a blob, if the store keeps files; None otherwise."""
        return None


class LocalEvidenceStore(EvidenceStore):
    """Files under `root/ab/cd/abcd....jpg`; written to a temp file in the same directory, synced, renamed."""

    def __init__(self, root: Path | str, *, fsync: bool = True):
        self.root = Path(root)
        self.fsync = fsync
        self.root.mkdir(parents=True, exist_ok=True)
        # deferred writes made / covered by a finished sync; counted so that a flush() in one thread never
        # marks as synced a blob another thread wrote while the sync was running
        self._lock = threading.Lock()
        self._written = 0
        self._synced = 0

    def path_for(self, sha256: str) -> Path:
        sha = _check(sha256)
        return self.root / sha[:2] / sha[2:4] / f"{sha}.jpg"

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put(self, data: bytes, *, durable: bool = True) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha)
        if path.is_file() and path.stat().st_size == len(data):
            return sha
        try:
            try:  # the directory usually exists: make it only when it does not (a mkdir per write is costly)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    if self.fsync and durable:
                        f.flush()
                        os.fsync(f.fileno())
                os.replace(tmp, path)
                if self.fsync and not durable:
                    with self._lock:
                        self._written += 1
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise EvidenceStoreError(f"cannot write evidence {sha} under {self.root}: {exc}") from exc
        return sha

    def get(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def flush(self) -> None:
        with self._lock:
            target = self._written
        if target == self._synced:
            return
        try:
            _syncfs(self.root)
        except OSError as exc:
            raise EvidenceStoreError(f"cannot sync the evidence store {self.root}: {exc}") from exc
        with self._lock:
            self._synced = max(self._synced, target)


def _syncfs(path: Path) -> None:
    """Flush the file system holding `path` (Linux syncfs: one call for every file written); os.sync()
    elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    finally:
        os.close(fd)


class S3EvidenceStore(EvidenceStore):
    """An S3-compatible bucket (needs the `s3` extra: boto3). Keys are `evidence/ab/abcd....jpg`."""

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, client: Any = None):
        if client is None:
            try:
                import boto3
            except ImportError as exc:
                raise EvidenceStoreError("S3 evidence storage needs boto3: pip install 'doorline[s3]'") from exc
            client = boto3.client("s3", endpoint_url=endpoint_url)
        self.client = client
        self.bucket = bucket

    @staticmethod
    def key_for(sha256: str) -> str:
        sha = _check(sha256)
        return f"evidence/{sha[:2]}/{sha}.jpg"

    def exists(self, sha256: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key_for(sha256))
        except Exception:  # botocore raises ClientError(404); any failure means "not known to be there"
            return False
        return True

    def put(self, data: bytes, *, durable: bool = True) -> str:
        sha = hashlib.sha256(data).hexdigest()
        if not self.exists(sha):
            try:
                self.client.put_object(Bucket=self.bucket, Key=self.key_for(sha), Body=data, ContentType="image/jpeg")
            except Exception as exc:
                raise EvidenceStoreError(f"cannot write evidence {sha} to s3://{self.bucket}: {exc}") from exc
        return sha

    def get(self, sha256: str) -> bytes:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key_for(sha256))
        except Exception as exc:
            raise FileNotFoundError(f"s3://{self.bucket}/{self.key_for(sha256)}: {exc}") from exc
        return obj["Body"].read()


def make_store(settings: CentralSettings) -> EvidenceStore:
    if settings.evidence_s3_bucket:
        return S3EvidenceStore(settings.evidence_s3_bucket, endpoint_url=settings.evidence_s3_endpoint)
    return LocalEvidenceStore(settings.evidence_dir)
