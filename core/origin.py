"""Which pages may open a WebSocket with a user's cookies: the same rule Django's CSRF check applies to a POST.

A browser sends its cookies with a WebSocket handshake from any page, and WebSockets have no same-origin
policy, so the handshake's Origin header is the only thing telling our own page from another site's. The
Origin must equal this site's own origin (scheme, host and port: `http://parley.example:8081` is another
site) or be listed in CSRF_TRUSTED_ORIGINS; the Host header must be one of ALLOWED_HOSTS. Anything else is
refused before the socket is accepted (HTTP 403 at the handshake).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host

Scope = dict[str, Any]


def socket_origin_allowed(scope: Scope) -> bool:
    """Whether a WebSocket handshake comes from a page of ours (see the module docstring)."""
    headers = _headers(scope)
    origin = headers.get("origin")
    host = headers.get("host")
    if not origin or not host:
        return False  # every browser sends both; a missing one is a tool, not our page
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    if origin == f"{site_scheme(scope, headers)}://{host}":
        return True
    return _trusted(origin)


def site_scheme(scope: Scope, headers: dict[str, str] | None = None) -> str:
    """The scheme of the page that belongs to this socket: https for wss, http for ws.

    Daphne puts no "scheme" in a WebSocket scope (not even with --proxy-headers), so behind a load balancer
    that terminates TLS the socket looks like plain ws. Then, exactly as Django does for HTTP requests,
    SECURE_PROXY_SSL_HEADER (production sets it to X-Forwarded-Proto: https) says the browser used TLS; the
    load balancer must overwrite that header, never pass on the client's.
    """
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if proxy_header:
        meta_name, secure_value = proxy_header
        name = meta_name.removeprefix("HTTP_").replace("_", "-").lower()
        value = (headers if headers is not None else _headers(scope)).get(name, "")
        if value.split(",", 1)[0].strip() == secure_value:
            return "https"
    return "http"


def _trusted(origin: str) -> bool:
    """An entry of CSRF_TRUSTED_ORIGINS, exactly as django.middleware.csrf reads them (`https://*.example.com`
    allows the subdomains)."""
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        if "*" not in entry:
            continue
        trusted = urlsplit(entry)
        if trusted.scheme == parsed.scheme and is_same_domain(parsed.netloc, trusted.netloc.replace("*", "", 1)):
            return True
    return False


def _headers(scope: Scope) -> dict[str, str]:
    # A header sent twice (two Origins) keeps its last value; latin-1 never fails to decode.
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}


class SameOriginWebSocket:
    """ASGI middleware: pass a WebSocket handshake from our own origin on to `application`, deny any other."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not socket_origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
