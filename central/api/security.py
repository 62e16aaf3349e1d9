"""Browser-facing protections every reply carries, and the request scheme as a trusted proxy reports it.

- `SecurityHeaders`: Content-Security-Policy (scripts, styles and images from this origin only; no framing),
  X-Frame-Options, X-Content-Type-Options, Referrer-Policy on every response. The API docs pages (/docs,
  /redoc) need inline scripts and a blob: worker, so they get a looser policy, still unframeable.
- `request_is_https`: true when the request itself is https, or when it comes from one of
  `settings.trusted_proxies` (addresses or networks) that says `X-Forwarded-Proto: https`. Other clients'
  forwarded headers are ignored: anyone can send them.
- `client_address`: the client's address for per-client limits (login throttle, owner codes, citizen reports).
  Behind a trusted proxy it is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (what
  our own proxy saw), never the left-most one a client can write; from anyone else the header is ignored.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")
# Leaflet (the console's map) writes style attributes into the markup it builds, which `style-src 'self'`
# blocks; scripts stay 'self' only
MAP_CSP = PAGE_CSP.replace("style-src 'self';", "style-src 'self' 'unsafe-inline';")
MAP_PATHS = ("/console/map",)

HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # not no-referrer: with it browsers send `Origin: null` on form posts, which the console refuses
    "referrer-policy": "same-origin",
}


class SecurityHeaders:
    """Pure ASGI middleware (no body buffering) adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = DOCS_CSP if path.startswith(DOCS_PATHS) else MAP_CSP if path.startswith(MAP_PATHS) else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                headers["content-security-policy"] = csp
            await send(message)

        await self.app(scope, receive, send_with_headers)


@lru_cache(maxsize=64)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def from_trusted_proxy(request: Request, proxies: list[str] | tuple[str, ...]) -> bool:
    if not proxies or request.client is None:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(peer in net for net in _networks(tuple(proxies)))


def request_is_https(request: Request, proxies: list[str] | tuple[str, ...]) -> bool:
    if request.url.scheme == "https":
        return True
    if not from_trusted_proxy(request, proxies):
        return False
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https"


def _trusted(address: str, proxies: tuple[str, ...]) -> bool | None:
    """Whether `address` is one of `proxies`; None when it is not an IP address at all."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return any(ip in net for net in _networks(proxies))


def client_address(request: Request, proxies: list[str] | tuple[str, ...]) -> str:
    """The address a per-client limit should key on (see the module docstring)."""
    peer = request.client.host if request.client else "?"
    if not from_trusted_proxy(request, proxies):
        return peer
    chain = [part.strip() for header in request.headers.getlist("x-forwarded-for") for part in header.split(",")]
    for hop in reversed([h for h in chain if h]):
        trusted = _trusted(hop, tuple(proxies))
        if trusted is None:
            return peer  # a garbled entry our proxy chain vouches for: key on the proxy rather than guess
        if not trusted:
            return str(ipaddress.ip_address(hop))
    return peer  # no header, or every hop a proxy of ours: the request started at the proxy
