"""The edge spool on small disks (issue 15, item 4): its write-ahead log counts in `spool_max_bytes`, a 2 MiB
file system keeps all 300 messages of ~5 KB across a stop, and an unopenable spool stops the edge CLI with
one line.

With 64 KiB pages and SQLite's default checkpointing, the WAL grew to 62.7 MiB for 300 messages of ~5 KB;
on a 2 MiB file system 297 of 300 were lost at exit."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from central.orm.events import EventPhaseRecord
from edge.spool import PAGE_SIZE, Spool
from testkit.filesystems import small_tmpfs
from testkit.reliability import record
from testkit.transport import REPO_DIR, SITE, count, wait_for
from wire import topics
from wire.ids import new_id
from wire.schema import EventMessage, encode


def event_of_about_5kb(i: int) -> EventMessage:
    return EventMessage(
        site_id=SITE,
        camera_id="cam-1",
        event_id=new_id(),
        seq=0,
        zone_id=f"zone-{i % 7}",
        violation="piled_goods",
        phase="start",
        ts=time.time(),
        score=0.9,
        boxes=[[100.123456 + k, 200.123456, 300.123456, 400.123456 + i] for k in range(100)],
    )


def _fill(sp: Spool, n: int = 300) -> tuple[int, int, int]:
    """Put n ~5 KB events, one commit each; (largest WAL, largest file + WAL, message bytes) seen."""
    max_wal = max_total = 0
    t = topics.topic(SITE, "cam-1", "event", "doorline")
    for i in range(n):
        sp.put(t, encode(event_of_about_5kb(i)), kind="event")
        db, wal = sp.disk_bytes()
        max_wal, max_total = max(max_wal, wal), max(max_total, db + wal)
    return max_wal, max_total, sp.bytes


@pytest.mark.parametrize("max_bytes", [4 * 1024 * 1024, 512 * 1024 * 1024], ids=["4MiB", "default-512MiB"])
def test_the_wal_stays_within_its_share_of_spool_max_bytes(tmp_path, max_bytes) -> None:
    sp = Spool(tmp_path / "s.db", max_bytes=max_bytes)
    max_wal, max_total, messages = _fill(sp)
    assert sp.depth == 300 and messages > 1_400_000
    # the WAL's share: an eighth, at most 1 MiB; it may pass that by the one transaction in flight
    assert sp.wal_bytes == min(max_bytes // 8, 1024 * 1024)
    assert max_wal <= sp.wal_bytes + 64 * 1024, (max_wal, sp.wal_bytes)
    assert max_total <= max_bytes
    # the spool drains (acks are deletes, in the WAL too) and leaves no WAL behind when closed
    assert sp.ack([m.seq for m in sp.peek(0, 1000)]) == 300
    assert sp.disk_bytes()[1] <= sp.wal_bytes + 64 * 1024
    sp.close()
    assert not (tmp_path / "s.db-wal").exists() or os.path.getsize(tmp_path / "s.db-wal") == 0
    record(
        f"spool-wal-{'default' if max_bytes > 4 * 1024 * 1024 else '4mib'}",
        messages=300,
        message_bytes=messages,
        spool_max_bytes=max_bytes,
        wal_share=sp.wal_bytes,
        max_wal_bytes=max_wal,
        max_file_plus_wal_bytes=max_total,
    )


def test_an_empty_spool_of_64k_pages_is_rebuilt_with_small_pages(tmp_path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size=65536")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    db.close()
    sp = Spool(path)
    assert sp.stats()["depth"] == 0
    assert sp._db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE  # noqa: SLF001
    assert sp._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # noqa: SLF001
    sp.close()


@pytest.fixture
def tiny_fs(tmp_path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs mount permission: skipped without it)."""
    with small_tmpfs(tmp_path / "tiny", "2m") as d:
        yield d


@pytest.mark.slow  # real processes, or a real small file system: ~10 s
def test_a_2mib_file_system_keeps_300_messages_across_a_stop(broker, topic_prefix, tiny_fs, make_central) -> None:
    """The broker is down; the edge spools 300 events of ~5 KB on a 2 MiB file system (spool_max_bytes set to
    it, as an operator would), is stopped, started again and the broker comes back: all 300 are stored."""
    from edge.publisher import Publisher
    from wire.mqtt import MqttSettings

    broker.stop()
    spool_max = 2 * 1024 * 1024 - 128 * 1024  # the file system, less room for its own bookkeeping

    def edge() -> Publisher:
        pub = Publisher(
            MqttSettings(host=broker.host, port=broker.port, prefix=topic_prefix),
            edge_id="edge-tiny",
            site_id=SITE,
            camera_ids=["cam-1"],
            spool_path=tiny_fs / "spool.db",
            spool_max_bytes=spool_max,
            receipts=False,
        )
        pub.start()
        return pub

    pub = edge()
    for i in range(300):
        pub.publish(event_of_about_5kb(i))
    st = pub.stats()
    assert (st["depth"], st["held"], st["refused"]) == (300, 0, 0), st
    on_disk = st["file_bytes"] + st["wal_bytes"]
    pub.stop(timeout=2)
    pub = edge()
    assert pub.depth == 300
    broker.start()
    central = make_central(broker, topic_prefix)
    assert pub.wait_drained(30), pub.stats()
    f = central.session_factory
    wait_for(lambda: count(f, EventPhaseRecord) == 300, 15, "300 events stored")
    pub.stop(timeout=3)
    record("spool-2mib-filesystem", sent=300, spooled=300, stored=300, lost=0, on_disk_bytes=on_disk)


@pytest.mark.slow  # real processes, or a real small file system: ~10 s
def test_a_full_2mib_file_system_holds_the_rest_in_memory_and_sends_it_later(
    broker, topic_prefix, tiny_fs, make_central, caplog
) -> None:
    """spool_max_bytes left at its default (512 MiB) on a 2 MiB file system and 450 events of ~5 KB while the
    broker is down: the disk fills, what the spool cannot take waits in memory (in order, with an error in the
    log and a degraded status), and everything is stored once the broker is back."""
    from edge.publisher import Publisher
    from wire.mqtt import MqttSettings

    broker.stop()
    pub = Publisher(MqttSettings(host=broker.host, port=broker.port, prefix=topic_prefix), edge_id="edge-full",
                    site_id=SITE, camera_ids=["cam-1"], spool_path=tiny_fs / "spool.db", receipts=False)
    pub.start()
    try:
        seqs = [pub.publish(event_of_about_5kb(i)) for i in range(450)]
        st = pub.stats()
        assert st["held"] > 0 and st["depth"] + st["held"] == 450 and st["refused"] == 0, st
        assert seqs.count(0) == st["held"]  # publish() says 0 for a held message (it used to raise IndexError)
        assert "holding them in memory" in caplog.text and "full" in st["last_spool_error"]
        held = st["held"]
        broker.start()
        central = make_central(broker, topic_prefix)
        assert pub.wait_drained(60), pub.stats()
        f = central.session_factory
        wait_for(lambda: count(f, EventPhaseRecord) == 450, 20, "450 events stored")
    finally:
        pub.stop(timeout=3)
    record("spool-2mib-filesystem-full", sent=450, held_in_memory=held, stored=450, lost=0)


@pytest.mark.slow  # real processes, or a real small file system: ~10 s
def test_an_unopenable_spool_stops_the_edge_cli_with_one_line(tmp_path, models_dir: Path, data_dir: Path) -> None:
    """Its parent is a regular file (as root, permission bits would not stop anything): exit 2, one line on
    stderr, no traceback."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    zones = tmp_path / "zones.yaml"
    zones.write_text(yaml.safe_dump({"camera_id": "cam-1", "zones": [
        {"zone_id": "z1", "polygon": [[0, 0], [100, 0], [100, 100], [0, 100]]}]}))
    cfg = tmp_path / "edge.yaml"
    cfg.write_text(yaml.safe_dump({
        "edge_id": "edge-x",
        "site_id": SITE,
        "model": str(models_dir / "yolox_nano.onnx"),
        "cameras": [{"id": "cam-1", "source": str(data_dir / "pets2009" / "vtest.avi"), "zones": str(zones)}],
        "mqtt": {"host": "127.0.0.1", "port": 1},
        "spool_path": str(blocker / "spool"),
    }))
    r = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--config", str(cfg), "--no-progress"],
                       cwd=REPO_DIR, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("doorline-edge: error: cannot open spool") and str(blocker) in lines[0]
    record("spool-unopenable", exit_code=r.returncode, stderr_lines=len(lines), traceback="Traceback" in r.stderr)
