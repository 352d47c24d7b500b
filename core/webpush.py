"""VAPID keys for Web Push (RFC 8292): made and read here, below every app, so settings can generate a
development key and the page can be given the public half. Sending lives in messenger.push."""

from __future__ import annotations

import base64
from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    """Unpadded base64url, the encoding of every key in the Web Push specifications."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_vapid_private_key() -> str:
    """A fresh P-256 private key as base64url of its raw 32 bytes (the form PARLEY_VAPID_PRIVATE_KEY takes)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def vapid_private_key(encoded: str) -> ec.EllipticCurvePrivateKey:
    """The key of PARLEY_VAPID_PRIVATE_KEY; ValueError when it is not 32 bytes of base64url."""
    raw = b64url_decode(encoded.strip())
    if len(raw) != 32:
        raise ValueError("A VAPID private key is base64url of 32 raw bytes.")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


@cache
def application_server_key(encoded_private_key: str) -> str:
    """The public half as the browser's PushManager.subscribe wants it: base64url of the uncompressed point."""
    public = vapid_private_key(encoded_private_key).public_key()
    return b64url(public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
