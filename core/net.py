"""Where a request came from. One answer for sign-in records, lockouts and anything else that needs it."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: from the trusted proxy header when one is configured, else the socket's peer.

    A header is only believed when PARLEY_TRUSTED_PROXY_HEADER names it; anyone can send X-Forwarded-For,
    so an unconfigured server never reads it. With several proxies appending to the header, the client is
    the entry PARLEY_TRUSTED_PROXY_COUNT places from the right (entries further left are the client's claims).
    """
    header = settings.PARLEY_TRUSTED_PROXY_HEADER
    if header:
        meta_key = "HTTP_" + header.upper().replace("-", "_")
        entries = [entry.strip() for entry in request.META.get(meta_key, "").split(",") if entry.strip()]
        position = max(settings.PARLEY_TRUSTED_PROXY_COUNT, 1)
        if len(entries) >= position:
            address = _valid_address(entries[-position])
            if address:
                return address
    return _valid_address(request.META.get("REMOTE_ADDR", ""))


def _valid_address(candidate: str) -> str | None:
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
