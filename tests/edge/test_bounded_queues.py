"""The publisher's command queue is bounded like the pipeline's: a stuck handler never makes paho's network
thread block or the queue grow without end; the oldest commands make room, counted."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt

from edge.command_inbox import COMMAND_QUEUE_SIZE
from edge.publisher import Publisher
from wire import topics
from wire.mqtt import MqttSettings
from wire.schema import CommandMessage, encode

PREFIX, SITE, CAMERA = "doorline-bounded", "site-b", "cam-b"


def test_a_full_command_queue_drops_its_oldest_commands_and_counts_them(tmp_path: Path) -> None:
    pub = Publisher(MqttSettings(prefix=PREFIX), edge_id="edge-b", site_id=SITE, camera_ids=[CAMERA],
                    spool_path=tmp_path / "spool.db", receipts=False)  # never started: nothing takes the commands
    try:
        sent = [CommandMessage(site_id=SITE, camera_id=CAMERA, cmd="set_fps", fps=1.0 + i % 10)
                for i in range(COMMAND_QUEUE_SIZE + 44)]
        for cmd in sent:
            message = mqtt.MQTTMessage(mid=1, topic=topics.topic(SITE, CAMERA, "cmd", PREFIX).encode())
            message.payload = encode(cmd)
            pub._on_message(None, None, message)  # noqa: SLF001 -- what paho's network thread calls
        assert pub.stats()["commands"] == len(sent)
        assert pub.stats()["commands_dropped"] == 44
        assert pub.inbox._commands.qsize() == COMMAND_QUEUE_SIZE  # noqa: SLF001
        assert pub.inbox._commands.get_nowait().command_id == sent[44].command_id  # noqa: SLF001 -- oldest kept
    finally:
        pub.spool.close()
