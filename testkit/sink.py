"""A stand-in for the edge's publisher in pipeline tests: every method of `edge.pipeline.MessageSink`,
keeping what the pipeline gives it."""

from __future__ import annotations


class SinkStandIn:
    """Every method of `edge.pipeline.MessageSink`, keeping what the pipeline gives it."""

    depth = 0

    def __init__(self) -> None:
        self.messages: list = []
        self.statuses: list[dict] = []
        self.command_callbacks: list = []

    def publish(self, msg) -> None:
        self.messages.append(msg)

    def publish_many(self, msgs) -> None:
        for msg in msgs:
            self.publish(msg)

    def on_command(self, callback) -> None:
        self.command_callbacks.append(callback)

    def set_status(self, state: str, **kw) -> None:
        self.statuses.append({"state": state, **kw})
