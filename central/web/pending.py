"""A decision posted with an expired login is not lost: the login page carries it, sealed, and applies it
once the password is given again (instead of a redirect to a GET of the decision's URL).

The seal is a short-lived JWT signed with a key derived from `secret_key`, so it can never pass as an
access token, and it only says what the form said: the user who logs in must still be allowed to decide."""

from __future__ import annotations

import time

import jwt

from central.settings import CentralSettings

TTL_S = 15 * 60
_PURPOSE = ":pending-console-decision"


def _key(settings: CentralSettings) -> str:
    return settings.secret_key + _PURPOSE


def seal(settings: CentralSettings, path: str, form: dict[str, str], *, now: float | None = None) -> str:
    now = time.time() if now is None else now
    return jwt.encode({"path": path, "form": {k: str(v) for k, v in form.items()}, "exp": int(now + TTL_S)},
                      _key(settings), algorithm="HS256")


def unseal(settings: CentralSettings, token: str) -> tuple[str, dict[str, str]] | None:
    """(path, form) of a sealed decision, or None if it is forged, garbled or older than TTL_S."""
    try:
        claims = jwt.decode(token, _key(settings), algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return None
    path, form = claims.get("path"), claims.get("form")
    if not isinstance(path, str) or not path.startswith("/console/") or not isinstance(form, dict):
        return None
    return path, {str(k): str(v) for k, v in form.items()}
