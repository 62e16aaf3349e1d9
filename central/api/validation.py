"""Hostile request bodies get a 4xx that can always be written, never a 500.

- `RefuseHostileInput` (ASGI middleware) refuses, before any route sees it, a JSON body holding NaN,
  ±Infinity or a number that overflows to it (Python's parser takes them, JSON does not: a stored NaN cannot
  be sent back), nesting deeper than `MAX_JSON_DEPTH`, or a string with a lone UTF-16 surrogate (cannot be
  encoded as UTF-8) or a NUL (PostgreSQL text cannot hold it); and a NUL in the path, the query string or
  a URL-encoded form.
- `validation_error_reply` replaces FastAPI's 422 handler: the same `{"detail": [{type, loc, msg}]}` shape,
  but the offending input is echoed only when it is a short scalar that serialises (strings cleaned of
  surrogates and cut), never objects, NaN or bytes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.json_limits import JsonTooDeep, check_depth

MAX_JSON_DEPTH = 64
MAX_ECHO_CHARS = 200
MAX_ERRORS = 50
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def clean_text(value: str, limit: int = MAX_ECHO_CHARS) -> str:
    """`value` as text that encodes to UTF-8 (lone surrogates become '?'), at most `limit` characters."""
    text = value.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scalar(value: Any) -> Any:
    """A JSON-safe copy of a short scalar, or None to leave it out."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**30 else clean_text(str(value)[:40])
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return clean_text(value)
    return None


def safe_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for err in errors[:MAX_ERRORS]:
        item: dict[str, Any] = {
            "type": clean_text(str(err.get("type", "invalid"))),
            "loc": [p if isinstance(p, int) else clean_text(str(p), 100) for p in err.get("loc", ())],
            "msg": clean_text(str(err.get("msg", "invalid value")), 500),
        }
        echoed = _scalar(err.get("input"))
        if echoed is not None:
            item["input"] = echoed
        ctx = err.get("ctx")
        if isinstance(ctx, dict):
            safe_ctx = {clean_text(str(k), 50): v for k, v in ((k, _scalar(v)) for k, v in ctx.items())
                        if v is not None}
            if safe_ctx:
                item["ctx"] = safe_ctx
        out.append(item)
    return out


async def validation_error_reply(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": safe_errors(list(exc.errors()))}, status_code=422)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {clean_text(text, 40)} is out of range")
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why a decoded string cannot be stored: a NUL (PostgreSQL text refuses it) or a lone surrogate."""
    if "\x00" in text:
        return "text holds a NUL character (\\u0000), which cannot be stored"
    if _SURROGATE.search(text):
        return "text holds a lone UTF-16 surrogate (\\ud800-\\udfff): not valid Unicode"
    return None


def _strings(doc: Any) -> Iterator[str]:
    """Every key and string value in a parsed JSON document, without recursion."""
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, value in item.items():
                yield key
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def json_body_problem(body: bytes) -> str | None:
    """Why this JSON body must be refused, or None. Invalid JSON is left to FastAPI's own 422."""
    try:
        check_depth(body, MAX_JSON_DEPTH)
        doc = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite)
    except JsonTooDeep as exc:
        return str(exc)
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            return None
        return str(exc)
    except RecursionError:  # defence in depth; check_depth stops it first
        return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    for text in _strings(doc):
        problem = text_problem(text)
        if problem is not None:
            return f"the JSON body's {problem}"
    return None


def url_problem(scope: Scope) -> tuple[str, str] | None:
    """(where, why) for a NUL in the path or the query string (PostgreSQL cannot store or compare it)."""
    if "\x00" in scope.get("path", ""):
        return "path", "the path holds a NUL character"
    query = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query:
        return "query", "the query string holds a NUL character (%00)"
    return None


def _media_type(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.split(b";")[0].strip().lower()
    return b""


def body_problem(media: bytes, body: bytes) -> str | None:
    if media == b"application/json" or media.endswith(b"+json"):
        return json_body_problem(body)
    if media == b"application/x-www-form-urlencoded" and (b"%00" in body or b"\x00" in body):
        return "a form field holds a NUL character (%00)"
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, where: str, problem: str) -> None:
    reply = JSONResponse({"detail": [{"type": "value_error", "loc": [where], "msg": problem}]}, status_code=422)
    await reply(scope, receive, send)


class RefuseHostileInput:
    """Refuses, with 422, a path or query string holding a NUL, and a JSON or URL-encoded body that
    `body_problem` finds hostile; reads such bodies once and replays the rest unchanged."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        in_url = url_problem(scope)
        if in_url is not None:
            await _refuse(scope, receive, send, *in_url)
            return
        media = _media_type(scope)
        checked = media in (b"application/json", b"application/x-www-form-urlencoded") or media.endswith(b"+json")
        if scope.get("method") not in BODY_METHODS or not checked:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = body_problem(media, body) if body else None
        if problem is not None:
            await _refuse(scope, receive, send, "body", problem)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
