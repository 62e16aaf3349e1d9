"""Errors the domain raises; the API maps them to HTTP statuses."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses. `status` is the HTTP status the API should answer with."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class InvalidTransition(Conflict):
    """The case is not in a state that allows this action."""


class PenaltyRequired(Conflict):
    """A case at strike 3 or later cannot be closed without a penalty record."""


class EvidenceRequired(DomainError):
    """A case closes, and an officer reports a result, only with evidence (a photo, or the camera's frame)."""

    status = 422
