"""A real Web Push endpoint on loopback for the tests: an aiohttp server that takes the POSTs a push service
would, and a browser's side of a subscription (its P-256 key pair and auth secret) to decrypt what came.

Nothing is mocked: pywebpush really encrypts (RFC 8291, aes128gcm) and signs (VAPID, RFC 8292), the request
really crosses a socket, and the test reads it as a browser and a push service would.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import http_ece
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from multidict import CIMultiDict

from core.webpush import b64url, b64url_decode


@dataclass
class Browser:
    """A browser's side of one subscription: what it gives the server, and what it decrypts with."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        public = self.private_key.public_key()
        return b64url(public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def decrypt(self, body: bytes) -> dict:
        clear = http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm")
        return json.loads(clear)


@dataclass
class Push:
    path: str
    headers: CIMultiDict  # names in any case, as HTTP has them
    body: bytes


def vapid_claims(authorization: str, *, public_key: str) -> dict:
    """The claims of a `vapid t=<JWT>, k=<key>` header after checking that `k` is our key and the ES256
    signature is valid under it; AssertionError otherwise."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    assert values["k"] == public_key
    header, claims, signature = values["t"].split(".")
    assert json.loads(b64url_decode(header)) == {"typ": "JWT", "alg": "ES256"}
    raw = b64url_decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public_key))
    key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature
    return json.loads(b64url_decode(claims))


class LoopbackPushService:
    """Answers POST /push/<name> with 201, or with the status set for that name (410: unsubscribed)."""

    def __init__(self) -> None:
        self.received: list[Push] = []
        self.status_for: dict[str, int] = {}
        self._arrived = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def browser(self, name: str) -> Browser:
        return Browser(endpoint=f"{self.origin}/push/{name}")

    async def _receive(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        push = Push(path=request.path, headers=CIMultiDict(request.headers), body=await request.read())
        with self._arrived:
            self.received.append(push)
            self._arrived.notify_all()
        return web.Response(status=self.status_for.get(name, 201))

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/push/{name}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Push]:
        """The pushes received once there are `count` of them (or all there are when `timeout` runs out)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count and (left := deadline - time.monotonic()) > 0:
                self._arrived.wait(left)
            return list(self.received)


@contextmanager
def loopback_push_service() -> Iterator[LoopbackPushService]:
    service = LoopbackPushService()
    service.start()
    try:
        yield service
    finally:
        service.stop()
