"""The edge spool on its own: order, durability across reopen, the size-cap policy, write failures."""

from __future__ import annotations

import sqlite3

import pytest

from edge.spool import Spool, SpoolError, SpoolFullError


def test_fifo_ack_and_reopen(tmp_path) -> None:
    sp = Spool(tmp_path / "s.db")
    seqs = [sp.put(f"t/{i}", f"p{i}".encode(), kind="event") for i in range(5)]
    assert seqs == sorted(seqs) and sp.depth == 5
    assert [m.payload for m in sp.peek(0, 3)] == [b"p0", b"p1", b"p2"]
    assert [m.topic for m in sp.peek(seqs[2], 10)] == ["t/3", "t/4"]
    assert sp.ack([seqs[0], seqs[2]]) == 2
    assert sp.ack([seqs[0]]) == 0  # a second PUBACK for the same message changes nothing
    sp.close()
    again = Spool(tmp_path / "s.db")  # a restarted process finds the rest, in order
    assert [m.payload for m in again.peek()] == [b"p1", b"p3", b"p4"]
    assert again.depth == 3 and again.bytes == sum(len(f"t/{i}") + 2 for i in (1, 3, 4))


def test_cap_drops_oldest_evidence_first_and_never_events(tmp_path) -> None:
    sp = Spool(tmp_path / "s.db", max_bytes=1000, wal_bytes=0)  # the cap policy on message bytes alone
    e1 = sp.put("ev", b"x" * 298, kind="evidence")  # 300 bytes with the topic
    sp.put("e", b"y" * 199, kind="event")  # 200
    e2 = sp.put("ev", b"x" * 298, kind="evidence")
    sp.put("e", b"y" * 199, kind="event")
    assert sp.bytes == 1000
    sp.put("e", b"z" * 99, kind="event")  # needs 100 → the oldest evidence goes
    kinds = [(m.seq, m.kind) for m in sp.peek()]
    assert e1 not in [s for s, _ in kinds] and e2 in [s for s, _ in kinds]
    assert sp.stats()["dropped_evidence"] == 1 and sp.bytes == 800
    e3 = sp.put("ev", b"w" * 398, kind="evidence")  # 400 more: e2 (300) goes, then it fits
    assert [m.seq for m in sp.peek() if m.kind == "evidence"] == [e3] and sp.bytes == 900
    with pytest.raises(SpoolFullError, match="never dropped"):
        sp.put("e", b"q" * 500, kind="event")  # dropping e3 would free 400 of the 401 needed: refused, loudly
    # the refusal lost nothing: not even the evidence it considered dropping
    assert [m.kind for m in sp.peek()] == ["event", "event", "event", "evidence"] and sp.bytes == 900
    with pytest.raises(SpoolFullError, match="larger than the whole spool"):
        sp.put("e", b"q" * 2000, kind="event")


@pytest.mark.parametrize(
    "write",
    [
        lambda sp: sp.put("e", b"b" * 200_000, kind="event"),
        lambda sp: sp.put_many([("e", b"small", "event"), ("ev", b"b" * 200_000, "evidence")]),
    ],
    ids=["put", "put_many"],
)
def test_failed_write_raises_instead_of_dropping(tmp_path, write) -> None:
    sp = Spool(tmp_path / "s.db")
    sp.put("e", b"a", kind="event")
    pages = sp._db.execute("PRAGMA page_count").fetchone()[0]  # noqa: SLF001
    sp._db.execute(f"PRAGMA max_page_count = {pages}")  # noqa: SLF001
    with pytest.raises(SpoolError, match="spool write failed"):
        write(sp)  # the "disk" is full
    assert sp.depth == 1 and [m.payload for m in sp.peek()] == [b"a"]
    sp.close()
    assert [m.payload for m in Spool(tmp_path / "s.db").peek()] == [b"a"]  # none of it is on disk either


def test_unopenable_spool_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(SpoolError, match="cannot open spool"):
        Spool(bad)


def test_rejected_messages_are_kept_aside(tmp_path) -> None:
    sp = Spool(tmp_path / "s.db")
    seq = sp.put("t", b"p", kind="event")
    sp.reject(seq, "Not authorized")
    assert sp.depth == 0 and sp.stats()["rejected"] == 1
    row = sqlite3.connect(tmp_path / "s.db").execute("SELECT topic, reason FROM rejected").fetchone()
    assert row == ("t", "Not authorized")


def test_put_many_is_one_ordered_all_or_nothing_write(tmp_path) -> None:
    sp = Spool(tmp_path / "s.db", max_bytes=1000, wal_bytes=0)  # the cap policy on message bytes alone
    seqs = sp.put_many([("ev", b"x" * 298, "evidence"), ("e", b"y" * 99, "event")])
    assert seqs == sorted(seqs) and len(seqs) == 2
    assert [(m.kind, m.payload[:1]) for m in sp.peek()] == [("evidence", b"x"), ("event", b"y")]
    assert sp.depth == 2 and sp.bytes == 400
    sp.put("e", b"z" * 399, kind="event")  # 800 held, 400 of it evidence
    # 300 more would pass the cap by 100: the old evidence (300) is dropped to make room
    got = sp.put_many([("ev", b"w" * 198, "evidence"), ("e", b"v" * 99, "event")])
    assert [m.seq for m in sp.peek()][-2:] == got and sp.stats()["dropped_evidence"] == 1
    before = [(m.seq, m.payload) for m in sp.peek()]
    # 600 more: dropping the only evidence left frees 200 of the 400 needed: refused, and nothing written
    with pytest.raises(SpoolFullError):
        sp.put_many([("e", b"a" * 99, "event"), ("e", b"b" * 499, "event")])
    assert [(m.seq, m.payload) for m in sp.peek()] == before and sp.depth == len(before)
    assert sp.put_many([]) == []

