"""MQTT topic layout: `{prefix}/v1/{site}/{camera}/{kind}`.

kinds: `event`, `evidence`, `recheck` (edge → central, QoS 1), `status` (edge → central, retained, with the
`offline` last will), `cmd` (central → edge, QoS 1) and `receipt` (central → edge, QoS 1: which messages
central has stored). The prefix lets several deployments, or test runs,
share one broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["event", "evidence", "recheck", "status", "cmd", "receipt"]
KINDS: tuple[str, ...] = ("event", "evidence", "recheck", "status", "cmd", "receipt")
UPSTREAM: tuple[str, ...] = ("event", "evidence", "recheck", "status")
DOWNSTREAM: tuple[str, ...] = ("cmd", "receipt")
DEFAULT_PREFIX = "doorline"


@dataclass(frozen=True)
class Topic:
    prefix: str
    site_id: str
    camera_id: str
    kind: str

    def __str__(self) -> str:
        return f"{self.prefix}/v1/{self.site_id}/{self.camera_id}/{self.kind}"


def topic(site_id: str, camera_id: str, kind: Kind, prefix: str = DEFAULT_PREFIX) -> str:
    for part in (site_id, camera_id):
        if not part or any(c in part for c in "/+#"):
            raise ValueError(f"topic part {part!r} must be non-empty and free of '/', '+', '#'")
    return str(Topic(prefix, site_id, camera_id, kind))


def parse(name: str) -> Topic:
    """Split a topic name; raises ValueError for anything outside the layout."""
    parts = name.split("/")
    if len(parts) < 5 or parts[-4] != "v1" or parts[-1] not in KINDS:
        raise ValueError(f"topic {name!r} is not {{prefix}}/v1/{{site}}/{{camera}}/{{kind}}")
    return Topic("/".join(parts[:-4]), parts[-3], parts[-2], parts[-1])


def upstream_filter(prefix: str = DEFAULT_PREFIX, kind: str = "+") -> str:
    return f"{prefix}/v1/+/+/{kind}"


def shared(filter_: str, group: str = "central") -> str:
    """An MQTT v5 shared subscription: the broker hands each message to one member of the group."""
    return f"$share/{group}/{filter_}"
