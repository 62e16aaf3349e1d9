"""Which edge may speak for which camera, and with which signing key: from the broker-config accounts file.

Central loads it when `CentralSettings.edge_accounts` is set and then refuses (dead-letters) every upstream
message that is not signed by the edge that owns the camera named in its topic (see `wire.signing`), and
signs what it sends to a camera (commands, receipts) with the key of the edge that owns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from central.broker_config import Accounts, load_accounts
from wire import signing


class Unauthenticated(ValueError):
    """A message without a valid signature of the camera's own edge; the text says what was wrong."""


@dataclass(frozen=True)
class _Edge:
    key: bytes
    site_id: str
    camera_ids: frozenset[str]


class EdgeKeys:
    def __init__(self, accounts: Accounts):
        self._edges = {
            e.edge_id: _Edge(signing.signing_key(e.secret(f"edge {e.edge_id}")), e.site_id, frozenset(e.camera_ids))
            for e in accounts.edges
        }
        self._owner = {(e.site_id, cam): e.edge_id for e in accounts.edges for cam in e.camera_ids}
        self.central_id = accounts.central.username

    @classmethod
    def load(cls, path: Path | str) -> EdgeKeys:
        """Raises `BrokerConfigError` for a missing or invalid accounts file."""
        return cls(load_accounts(path))

    def check(self, topic: str, site_id: str, camera_id: str, payload: bytes, value: str | None) -> str:
        """The edge id that signed the message; raises Unauthenticated."""
        if not value:
            raise Unauthenticated(f"no {signing.SIG_PROPERTY} property")
        try:
            edge_id, sig = signing.split(value)
        except ValueError as exc:
            raise Unauthenticated(str(exc)) from None
        edge = self._edges.get(edge_id)
        if edge is None:
            raise Unauthenticated(f"signed by unknown edge {edge_id!r}")
        if site_id != edge.site_id or camera_id not in edge.camera_ids:
            raise Unauthenticated(f"edge {edge_id!r} may not speak for {site_id}/{camera_id}")
        if not signing.verifies(edge.key, topic, payload, sig):
            raise Unauthenticated(f"signature of edge {edge_id!r} does not verify (wrong key or altered message)")
        return edge_id

    def sign(self, topic: str, site_id: str, camera_id: str, payload: bytes) -> str | None:
        """The `doorline-sig` value of a message central sends to `site_id/camera_id`; None for a camera no edge
        in the accounts file owns."""
        edge_id = self._owner.get((site_id, camera_id))
        if edge_id is None:
            return None
        return f"{self.central_id}:{signing.signature(self._edges[edge_id].key, topic, payload)}"
