"""Refuse a shared file that declares itself too large before Django receives its body.

Django's ASGI handler reads a request's whole body (spooling it to a temporary file) before any middleware or
view runs, so a size check in a view comes after the bytes have arrived. This wrapper sits in front of Django
and answers from the Content-Length header alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

UPLOAD_PATH = re.compile(r"^/api/v1/conversations/[^/]+/files/?$")
# Room for the multipart framing and the form fields beside the file (client_id, a caption of up to 10,000
# characters): a body over the limit by more than this holds a file over the limit. A file only slightly over
# still reaches messenger.files.upload_read, which refuses it by its recorded size.
FRAMING_BYTES = 64 * 1024

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def declared_length(scope: Scope) -> int | None:
    """The body size the client declared, or None when it declared none (chunked) or nonsense."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RefuseOversizedUploads:
    """ASGI wrapper: a file upload whose declared body exceeds PARLEY_MAX_UPLOAD_MB (plus framing) gets 413
    `file_too_large` without a byte of its body being received. The answer says nothing about the
    conversation, so it is the same for everyone, signed in or not."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST" and UPLOAD_PATH.match(scope.get("path", "")):
            length = declared_length(scope)
            limit = settings.PARLEY_MAX_UPLOAD_MB * 1024 * 1024
            if length is not None and length > limit + FRAMING_BYTES:
                await _file_too_large(send)
                return
        await self.app(scope, receive, send)


async def _file_too_large(send: Send) -> None:
    body = json.dumps(
        {"code": "file_too_large", "message": f"Files are at most {settings.PARLEY_MAX_UPLOAD_MB} MB."}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the unread body must not be taken for the next request
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
