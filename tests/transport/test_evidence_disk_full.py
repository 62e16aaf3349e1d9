"""Central's evidence disk fills up (issue 15's fault list): a real 1 MiB tmpfs under the evidence store while
pictures arrive. Nothing is acknowledged that is not stored: the writer retries, the broker keeps the rest;
once the file system has room again, every event and picture is stored once and none is a dead letter."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from central.ingest import IngestService
from central.orm.events import DeadLetter, EventPhaseRecord, Evidence
from central.settings import CentralSettings
from testkit.filesystems import small_tmpfs
from testkit.reliability import record
from testkit.transport import (
    SITE,
    central_db,
    count,
    evidence_store,
    make_event,
    make_evidence,
    raw_client,
    send,
    wait_for,
)
from wire import topics
from wire.mqtt import MqttSettings
from wire.schema import encode_bundle


@pytest.fixture
def small_fs(tmp_path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "evidence", "1m") as d:
        yield d


@pytest.mark.slow  # a real small file system
def test_a_full_evidence_disk_holds_the_messages_until_there_is_room(broker, topic_prefix, tmp_path, small_fs) -> None:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    engine, f = central_db(url)
    settings = CentralSettings(database_url=url, evidence_dir=small_fs,
                               mqtt=MqttSettings(host=broker.host, port=broker.port, prefix=topic_prefix))
    svc = IngestService(settings, f, evidence_store(small_fs), client_id="central-small-fs", batch_size=4)
    svc.start()
    try:
        assert svc.wait_ready(10)
        c = raw_client(broker)
        t = topics.topic(SITE, "cam-1", "event", topic_prefix)
        n = 10
        for i in range(n):  # ~200 KB each: 2 MB of pictures for a 1 MiB file system
            pic = make_evidence(f"e{i}", kb=200, seed=i)
            send(c, t, encode_bundle(make_event(i, evidence=[pic], event_id=f"e{i}"), [pic]))
        wait_for(lambda: svc.stats()["db_errors"] >= 2, 20, "the writer retrying on the full disk")
        stuck = count(f, EventPhaseRecord)
        assert stuck < n and svc.stats()["unacked"] > 0, svc.stats()
        subprocess.run(["mount", "-o", "remount,size=8m", str(small_fs)], check=True)  # room again
        wait_for(lambda: count(f, EventPhaseRecord) == n, 30, f"all {n} events once there is room")
        c.loop_stop()
        assert count(f, Evidence, Evidence.stored.is_(True)) == n and count(f, DeadLetter) == 0
        assert svc.stats()["unacked"] == 0
        with f() as s:
            for row in s.scalars(select(Evidence)):
                assert len(svc.store.get(row.sha256)) == row.size
        record("central-evidence-disk-full", filesystem_bytes=1024 * 1024, pictures=n, picture_kb=200,
               stored_before_room=stuck, retries=svc.stats()["db_errors"], stored=n, dead_letters=0, lost=0)
    finally:
        svc.stop()
        engine.dispose()
