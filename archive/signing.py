"""Ed25519 signatures over archive checkpoints, and the public keys an auditor trusts."""

from __future__ import annotations

import base64
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings


@cache
def _private_key(encoded: str) -> Ed25519PrivateKey:
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    return Ed25519PrivateKey.from_private_bytes(raw)


def signing_key() -> Ed25519PrivateKey:
    return _private_key(settings.PARLEY_ARCHIVE_SIGNING_KEY)


def public_key_hex(key: Ed25519PrivateKey | None = None) -> str:
    public = (key or signing_key()).public_key()
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def trusted_public_keys() -> set[str]:
    return {public_key_hex(), *(key.strip().lower() for key in settings.PARLEY_ARCHIVE_PREVIOUS_PUBLIC_KEYS)}


def sign(document: bytes) -> str:
    return signing_key().sign(document).hex()


def signature_is_valid(*, public_key: str, document: bytes, signature: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(bytes.fromhex(signature), document)
    except (InvalidSignature, ValueError):
        return False
    return True
