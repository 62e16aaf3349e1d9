"""Commands from central, as the edge takes them: parsed and checked on paho's network thread (never blocking
it), de-duplicated by message id, queued (bounded: a full queue drops its oldest command, counted) and handed
to the `on_command` callbacks on a thread of their own."""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable

from edge.bounded import put_dropping_oldest
from edge.failures import log_some
from wire import topics
from wire.schema import CommandMessage, SchemaError, decode

log = logging.getLogger("doorline.edge.publisher")

COMMAND_QUEUE_SIZE = 256  # commands central sent that the handler has not taken yet
_SEEN = 2048  # message ids remembered to drop a redelivered command

CommandCallback = Callable[[CommandMessage], None]


class CommandInbox:
    def __init__(self, edge_id: str, counters: collections.Counter[str]) -> None:
        self.edge_id = edge_id
        self.counters = counters  # the publisher's: commands, bad_commands, commands_dropped
        self._commands: queue.Queue[CommandMessage | None] = queue.Queue(maxsize=COMMAND_QUEUE_SIZE)
        self._callbacks: list[CommandCallback] = []
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._thread: threading.Thread | None = None

    def on_command(self, callback: CommandCallback) -> None:
        self._callbacks.append(callback)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._dispatch_loop, name=f"commands-{self.edge_id}", daemon=True)
        self._thread.start()

    def stop(self, deadline: float) -> None:
        """Let the dispatcher finish the command in hand (until the monotonic `deadline`), then end it."""
        self._put(None)
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))
            self._thread = None

    def take(self, topic: str, payload: bytes) -> None:
        """A message on a camera's `cmd` topic: queued once when it is a command for that camera, else refused
        and counted."""
        try:
            t = topics.parse(topic)
            msg = decode(payload)
            if not isinstance(msg, CommandMessage):
                raise SchemaError(f"{msg.type} message on a cmd topic")
            if (msg.site_id, msg.camera_id) != (t.site_id, t.camera_id):
                raise SchemaError(f"command for {msg.site_id}/{msg.camera_id} on topic of {t.site_id}/{t.camera_id}")
        except (SchemaError, ValueError) as exc:
            self.counters["bad_commands"] += 1
            log.error("ignored malformed command on %s: %s", topic, getattr(exc, "reason", exc))
            return
        if msg.message_id in self._seen:
            return
        self._seen[msg.message_id] = None
        while len(self._seen) > _SEEN:
            self._seen.popitem(last=False)
        self.counters["commands"] += 1
        self._put(msg)

    def _put(self, msg: CommandMessage | None) -> None:
        """Never blocks paho's network thread: a full queue (a handler stuck) drops its oldest command, counted
        and logged; central sees no answer to it. `None` (stop) is queued the same way."""
        old = put_dropping_oldest(self._commands, msg)
        if old is not None:
            self.counters["commands_dropped"] += 1
            log_some(log, self.counters["commands_dropped"], "command queue full (%d): dropped %s %s (%d so far)",
                     COMMAND_QUEUE_SIZE, old.cmd, old.command_id, self.counters["commands_dropped"])

    def _dispatch_loop(self) -> None:
        while True:
            cmd = self._commands.get()
            if cmd is None:
                return
            for cb in list(self._callbacks):
                try:
                    cb(cmd)
                except Exception:  # a failing handler must not stop command delivery
                    log.exception("command handler failed for %s %s", cmd.cmd, cmd.command_id)
