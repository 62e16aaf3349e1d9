"""The edge's on-disk outgoing queue: SQLite in WAL mode, one row per message, FIFO by `seq`.

A message is written here before it is published and deleted only after the broker's PUBACK, so a dead
broker, a cut network or a killed process loses nothing: on restart the rows are replayed in order. An edge
that waits for central's receipts (`Publisher(receipts=True)`) keeps a PUBACKed row, marked `sent`, until
central says it stored that `message_id` (`ack_messages`), and sends it again when no receipt came in time:
then even a broker that dies before writing what it acknowledged to disk loses nothing.

Size cap policy: when a new message would push the spool past `max_bytes`, the oldest *evidence* rows
are dropped first; if that is not enough, the oldest *bundles* (an event with its pictures in one payload)
lose their pictures and stay as plain events that still reference them. Every dropped picture is counted
in `dropped_evidence` and logged; events, recheck results and commands are never dropped. If there is still
no room, `SpoolFullError` is raised to the caller. A failed write (disk full, read-only file system,
corrupt file) raises `SpoolError`; nothing is dropped silently.

Disk use: `max_bytes` bounds the spool's files, its write-ahead log included. An eighth of it (at most 1 MiB)
is kept for the WAL: SQLite checkpoints whenever the WAL passes half of that (`wal_autocheckpoint`) and
truncates it back to it afterwards (`journal_size_limit`), and the messages get the rest (`room`). Pages are
4 KiB, so a commit of one small event writes a few KiB of WAL, not a 64 KiB page per table and index touched
(with 64 KiB pages, 300 messages of 5 KB grew the WAL to 62.7 MiB). Deletes do not zero the freed overflow
pages (`secure_delete=FAST`; many builds default to ON, which writes every deleted picture to the WAL once more
as zeros). A single transaction larger than the WAL's share grows it for a moment: it is checkpointed and
truncated right after its commit.

A disk that fills up must still let the spool drain: deleting a sent row writes to the WAL, and a checkpoint
grows the database file. So a write is refused (`SpoolError`, the publisher holds the message in memory)
when the file system would be left with less free space than the write itself twice (WAL, then database),
the WAL not yet checkpointed and room for the deletes: twice what the spool would then hold plus a few pages,
at most `DISK_MARGIN` (free pages inside the file take their share of the database's growth). An emptied spool
on a full disk thus takes messages again: its file's free pages hold them, and there is little left to delete.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from wire.schema import SchemaError, strip_bundle

log = logging.getLogger("doorline.edge.spool")

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
PAGE_SIZE = 4096
WAL_SHARE = 8  # 1/8 of max_bytes is kept for the write-ahead log ...
WAL_MAX_BYTES = 1024 * 1024  # ... but no more than this
DISK_MARGIN = 192 * 1024  # free space kept on the file system for acknowledging (deleting) spooled rows
DROPPABLE_KINDS: tuple[str, ...] = ("evidence",)
STRIPPABLE_KINDS: tuple[str, ...] = ("bundle",)


class SpoolError(RuntimeError):
    """The spool could not store or read a message (disk full, I/O error, bad file)."""


class SpoolFullError(SpoolError):
    """The spool is at its size cap and nothing more may be dropped to make room."""


@dataclass(frozen=True)
class SpooledMessage:
    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: str


_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    created REAL NOT NULL,
    message_id TEXT,
    sent REAL
);
CREATE INDEX IF NOT EXISTS spool_kind ON spool(kind, seq);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected REAL NOT NULL
);
"""


class Spool:
    """Thread-safe FIFO of outgoing MQTT messages on disk."""

    def __init__(
        self,
        path: Path | str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        synchronous: str = "NORMAL",
        wal_bytes: int | None = None,
    ):
        """`wal_bytes`: how much of `max_bytes` is kept for the write-ahead log (default: an eighth, at most
        1 MiB); the messages may use the rest."""
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.wal_bytes = min(max_bytes // WAL_SHARE, WAL_MAX_BYTES) if wal_bytes is None else wal_bytes
        if not 0 <= self.wal_bytes < max_bytes:
            raise ValueError("wal_bytes must be at least 0 and less than max_bytes")
        self.room = max_bytes - self.wal_bytes  # for the messages themselves
        self._lock = threading.Lock()
        self.dropped_evidence = 0
        self.rejected = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            # small pages keep the WAL small (see the module doc); only takes effect when the file is created,
            # before WAL is switched on (an empty spool of older, 64 KiB pages is rebuilt below)
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._limit_wal()
            # NORMAL survives a killed process (WAL); FULL also survives power loss, at a cost per message.
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(spool)")}
            for column, kind in (("message_id", "TEXT"), ("sent", "REAL")):  # a spool from before receipts
                if column not in columns:
                    self._db.execute(f"ALTER TABLE spool ADD COLUMN {column} {kind}")
            self._db.execute("CREATE INDEX IF NOT EXISTS spool_message ON spool(message_id)")
            self._depth, self._bytes = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM spool"
            ).fetchone()
            self.rejected = self._db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]
            if self._page_size() != PAGE_SIZE and self._depth == 0 and self.rejected == 0:
                self._rebuild_with_small_pages()
        except (sqlite3.Error, OSError) as exc:
            raise SpoolError(f"cannot open spool {self.path}: {exc}") from exc

    def _page_size(self) -> int:
        return int(self._db.execute("PRAGMA page_size").fetchone()[0])

    def _limit_wal(self) -> None:
        """Checkpoint when the WAL holds half its share, and truncate it to its share after a checkpoint."""
        limit = max(self.wal_bytes, 64 * 1024)  # below this, checkpoints would run every commit or two
        self._wal_limit = limit
        self._wal_path = self.path.with_name(self.path.name + "-wal")
        self._db.execute("PRAGMA secure_delete=FAST")
        self._db.execute(f"PRAGMA journal_size_limit={limit}")
        self._db.execute(f"PRAGMA wal_autocheckpoint={max(1, limit // 2 // self._page_size())}")

    def _rebuild_with_small_pages(self) -> None:
        """An empty spool made with 64 KiB pages: rebuild it with PAGE_SIZE pages (VACUUM outside WAL)."""
        self._db.execute("PRAGMA journal_mode=DELETE")
        self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        self._db.execute("VACUUM")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._limit_wal()

    # ------------------------------------------------------------------ writing

    def put(self, topic: str, payload: bytes, *, kind: str, qos: int = 1, retain: bool = False) -> int:
        """Append one message; returns its seq. Raises SpoolFullError / SpoolError instead of losing it."""
        return self.put_many([(topic, payload, kind)], qos=qos, retain=retain)[0]

    def check_fits(self, total: int, count: int = 1) -> None:
        """Raise SpoolFullError when `count` messages of `total` bytes could never fit, not even in an empty
        spool."""
        if total > self.room:
            raise SpoolFullError(
                f"{'message' if count == 1 else f'{count} messages'} of {total} bytes "
                f"larger than the whole spool ({self.room} of its {self.max_bytes} bytes are for messages, the "
                "rest for its write-ahead log)"
            )

    def put_many(
        self,
        messages: Sequence[tuple[str, bytes, str]],
        *,
        qos: int = 1,
        retain: bool = False,
        message_ids: Sequence[str | None] | None = None,
    ) -> list[int]:
        """Append (topic, payload, kind) messages in one transaction, in order: all of them or none (an
        event and the evidence it names land together, at the cost of one commit). Returns their seqs."""
        if not messages:
            return []
        sizes = [len(payload) + len(topic) for topic, payload, _ in messages]
        total = sum(sizes)
        self.check_fits(total, len(messages))
        now = time.time()
        with self._lock:
            self._check_disk(total)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if self._bytes + total > self.room:
                        self._make_room(total, messages[-1][2])
                    ids = message_ids if message_ids is not None else [None] * len(messages)
                    seqs = [
                        self._db.execute(
                            "INSERT INTO spool(topic, payload, qos, retain, kind, size, created, message_id) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (topic, payload, qos, int(retain), kind, size, now, mid),
                        ).lastrowid
                        for (topic, payload, kind), size, mid in zip(messages, sizes, ids, strict=True)
                    ]
                    self._db.execute("COMMIT")
                    self._after_commit()
                except BaseException:
                    self._rollback()
                    self._reload_counts()
                    raise
            except sqlite3.Error as exc:
                raise SpoolError(f"spool write failed ({self.path}): {exc}") from exc
            self._depth += len(messages)
            self._bytes += total
            return [int(seq) for seq in seqs]

    def _make_room(self, size: int, kind: str) -> None:
        """Drop oldest evidence, then strip the oldest bundles' pictures, until `size` more bytes fit; inside
        the caller's transaction."""
        need = self._bytes + size - self.room
        freed = dropped = rows = 0
        for seq, row_size in self._db.execute(
            f"SELECT seq, size FROM spool WHERE kind IN ({','.join('?' * len(DROPPABLE_KINDS))}) "
            "ORDER BY seq",
            DROPPABLE_KINDS,
        ).fetchall():
            if freed >= need:
                break
            self._db.execute("DELETE FROM spool WHERE seq = ?", (seq,))
            freed += row_size
            dropped += 1
            rows += 1
        if freed < need:
            for seq, topic, payload, row_size in self._db.execute(
                f"SELECT seq, topic, payload, size FROM spool WHERE kind IN "
                f"({','.join('?' * len(STRIPPABLE_KINDS))}) ORDER BY seq",
                STRIPPABLE_KINDS,
            ).fetchall():
                if freed >= need:
                    break
                try:
                    plain, pictures = strip_bundle(bytes(payload))
                except (SchemaError, ValueError, KeyError, TypeError) as exc:
                    log.error("spool row %d is not a readable bundle (%s); left as it is", seq, exc)
                    continue
                new_size = len(plain) + len(topic)
                self._db.execute(
                    "UPDATE spool SET payload = ?, kind = 'stripped', size = ? WHERE seq = ?",
                    (plain, new_size, seq),
                )
                freed += row_size - new_size
                dropped += pictures
        if freed < need:
            raise SpoolFullError(
                f"spool full: {self._bytes} of {self.room} bytes held by messages that are never "
                "dropped; "
                f"cannot add a {kind} message of {size} bytes (is the broker reachable?)"
            )
        self._depth -= rows
        self._bytes -= freed
        self.dropped_evidence += dropped
        log.warning(
            "spool at its cap (%d bytes for messages): dropped the %d oldest evidence image(s) to make room",
            self.room,
            dropped,
        )

    def _check_disk(self, total: int) -> None:
        """Raise SpoolError when writing `total` bytes would leave the file system too full for the spool to
        checkpoint its WAL and delete what it sends (see the module doc); the caller holds the lock."""
        try:
            fs = os.statvfs(self.path.parent)
            free = fs.f_bavail * fs.f_frsize
            if free >= 2 * total + 4 * self._wal_limit + DISK_MARGIN:
                return  # the common case, decided without asking SQLite anything
            page = self._page_size()
            in_file = int(self._db.execute("PRAGMA freelist_count").fetchone()[0]) * page
            # near full: checkpoint now, and count what is still not in the database file (its growth to come)
            _busy, frames, done = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            pending = max(0, frames - done) * (page + 24)
            wal_size = os.path.getsize(self._wal_path) if self._wal_path.exists() else 0
        except (OSError, AttributeError, sqlite3.Error):
            return  # no statvfs here, or it failed: SQLite reports a full disk itself
        # the write goes to the WAL first (after a complete checkpoint SQLite rewrites the WAL file from its
        # start, so its present size is room), with DISK_MARGIN kept for the deletes that follow; then into the
        # database file at the checkpoint, where the file's free pages take what they can
        wal_room = wal_size if frames == done else max(0, wal_size - frames * (page + 24))
        margin = min(DISK_MARGIN, 2 * (self._bytes + total) + 8 * page)
        need = max(0, total + 2 * page + margin - wal_room) + max(0, total + pending - in_file)
        if free < need:
            raise SpoolError(
                f"spool write refused ({self.path}): disk nearly full, {free} bytes free and {need} needed for "
                f"{total} bytes of messages plus room to checkpoint and acknowledge"
            )

    def _after_commit(self) -> None:
        """A transaction larger than the WAL's share left a WAL beyond it: checkpoint and truncate it now. On a
        nearly full disk, checkpoint after every commit, so that the next transaction rewrites the WAL file
        from its start instead of growing it into the last free bytes (which would leave the spool unable to
        delete what it sent). The caller holds the lock. Failing (a full disk) is harmless: SQLite retries."""
        try:
            if os.path.getsize(self._wal_path) > self._wal_limit:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return
            fs = os.statvfs(self.path.parent)
            if fs.f_bavail * fs.f_frsize < 2 * self._wal_limit + DISK_MARGIN:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except (OSError, AttributeError, sqlite3.Error) as exc:
            log.debug("spool %s: WAL checkpoint after a large transaction failed: %s", self.path, exc)

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # no transaction was open

    def _reload_counts(self) -> None:
        try:
            self._depth, self._bytes = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM spool"
            ).fetchone()
        except sqlite3.Error:
            pass

    # ------------------------------------------------------------------ reading / acknowledging

    def peek(self, after_seq: int = 0, limit: int = 100, *, sent_before: float = -1.0) -> list[SpooledMessage]:
        """Up to `limit` messages with seq > after_seq, oldest first: those not sent yet, and those sent
        (awaiting a receipt) before `sent_before` (on the clock given to `mark_sent`)."""
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT seq, topic, payload, qos, retain, kind FROM spool "
                    "WHERE seq > ? AND (sent IS NULL OR sent < ?) ORDER BY seq LIMIT ?",
                    (after_seq, sent_before, limit),
                ).fetchall()
            except sqlite3.Error as exc:
                raise SpoolError(f"spool read failed ({self.path}): {exc}") from exc
        return [SpooledMessage(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5]) for r in rows]

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete delivered messages (the broker PUBACKed them). Returns how many were still there."""
        return self._delete("seq", list(seqs))

    def _delete(self, column: str, keys: list) -> int:
        """Delete the rows whose `column` is one of `keys`, in one transaction; how many were there."""
        with self._lock:
            sizes = self._in_chunks(f"DELETE FROM spool WHERE {column} IN ({{}}) RETURNING size", keys, (), "ack")
            self._depth -= len(sizes)
            self._bytes -= sum(size for (size,) in sizes)
            return len(sizes)

    def mark_sent(self, seqs: Iterable[int], now: float | None = None) -> None:
        """The broker PUBACKed these; keep them until central's receipt (`ack_messages`). `now` is the time
        recorded as sent, on the caller's clock (the publisher uses the monotonic clock; default unix)."""
        now = time.time() if now is None else now
        with self._lock:
            self._in_chunks("UPDATE spool SET sent = ? WHERE seq IN ({})", list(seqs), (now,), "update")

    def forget_sent(self) -> int:
        """Mark every row sent by an earlier process as not sent (its send times are of another clock), so it
        goes out again; how many."""
        with self._lock:
            try:
                return self._db.execute("UPDATE spool SET sent = NULL WHERE sent IS NOT NULL").rowcount
            except sqlite3.Error as exc:
                raise SpoolError(f"spool update failed ({self.path}): {exc}") from exc

    def _in_chunks(self, sql: str, keys: list, params: tuple, what: str) -> list:
        """Run `sql` (its `{}` the placeholders of up to 500 keys, after `params`) over all `keys` in one
        transaction, the caller holding the lock; the rows it returned. SpoolError (`what` failed) when the
        database refuses."""
        if not keys:
            return []
        rows: list = []
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                rows += self._db.execute(sql.format(",".join("?" * len(chunk))), (*params, *chunk)).fetchall()
            self._db.execute("COMMIT")
            self._after_commit()
        except sqlite3.Error as exc:
            self._rollback()
            raise SpoolError(f"spool {what} failed ({self.path}): {exc}") from exc
        return rows

    def ack_messages(self, message_ids: Iterable[str]) -> int:
        """Delete the rows of these message ids (central's receipt). Returns how many were still there."""
        return self._delete("message_id", list(message_ids))

    def oldest_sent(self) -> float | None:
        """Send time (`mark_sent`'s clock) of the oldest row still waiting for a receipt, or None."""
        with self._lock:
            try:
                return self._db.execute("SELECT MIN(sent) FROM spool").fetchone()[0]
            except sqlite3.Error as exc:
                raise SpoolError(f"spool read failed ({self.path}): {exc}") from exc

    def reject(self, seq: int, reason: str) -> None:
        """The broker refused the message for good (e.g. not authorised): move it aside, keep it for an
        operator, and stop retrying it."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                row = self._db.execute(
                    "SELECT topic, payload, kind, size FROM spool WHERE seq = ?", (seq,)
                ).fetchone()
                if row is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO rejected(seq, topic, payload, kind, reason, rejected) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (seq, row[0], row[1], row[2], reason, time.time()),
                    )
                    self._db.execute("DELETE FROM spool WHERE seq = ?", (seq,))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise SpoolError(f"spool reject failed ({self.path}): {exc}") from exc
            if row is not None:
                self._depth -= 1
                self._bytes -= row[3]
                self.rejected += 1
        log.error(
            "broker refused spooled message %d on %s: %s (kept in the spool's rejected table)",
            seq,
            row[0] if row else "?",
            reason,
        )

    # ------------------------------------------------------------------ state

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def bytes(self) -> int:
        return self._bytes

    def disk_bytes(self) -> tuple[int, int]:
        """(database file, write-ahead log) sizes on disk now, in bytes."""
        sizes = []
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                sizes.append(os.path.getsize(p))
            except OSError:
                sizes.append(0)
        return sizes[0], sizes[1]

    def stats(self) -> dict[str, int]:
        file_bytes, wal_bytes = self.disk_bytes()
        return {
            "depth": self._depth,
            "bytes": self._bytes,
            "max_bytes": self.max_bytes,
            "file_bytes": file_bytes,
            "wal_bytes": wal_bytes,
            "dropped_evidence": self.dropped_evidence,
            "rejected": self.rejected,
        }

    def close(self) -> None:
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # leave no WAL behind
            except sqlite3.Error:
                pass  # e.g. a full disk: the WAL stays and is replayed on the next open
            try:
                self._db.close()
            except sqlite3.Error:
                pass
