"""Encryption at rest: AES-256-GCM with a key ring, every ciphertext bound to what it belongs to.

A sealed value is `version (1 byte) | key-id length (1 byte) | key id | nonce (12 bytes) | ciphertext+tag`.
The key id lets data sealed under an older key stay readable after the ring gains a new primary key; the
associated data (`context`, such as "messenger.message.body:<uuid>") makes a ciphertext copied into another row
fail to open instead of showing the wrong text. docs/security.md explains the choices.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
# The longest prefix sealed_key_id needs (a key id is at most 255 bytes in the format, 32 in practice).
HEADER_MAX_BYTES = 2 + 255 + NONCE_BYTES + TAG_BYTES
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class EncryptionConfigError(ValueError):
    """The key ring in PARLEY_ENCRYPTION_KEYS cannot be used."""


class DecryptionError(Exception):
    """A sealed value did not open: wrong or unknown key, tampered bytes, or bound to another context."""


@dataclass(frozen=True)
class KeyRing:
    """Named AES-256 keys; the first seals new data, all of them open old data."""

    primary_id: str
    keys: dict[str, bytes]

    @classmethod
    def from_spec(cls, spec: str) -> KeyRing:
        """Parse "k2:<base64>,k1:<base64>" (newest first)."""
        keys: dict[str, bytes] = {}
        for entry in (part.strip() for part in spec.split(",")):
            if not entry:
                continue
            key_id, separator, encoded = entry.partition(":")
            if not separator or not KEY_ID_PATTERN.match(key_id):
                raise EncryptionConfigError(f"Key entries look like 'k1:<base64>'; got {key_id!r}.")
            if key_id in keys:
                raise EncryptionConfigError(f"Key id {key_id!r} appears twice.")
            try:
                material = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except ValueError:
                raise EncryptionConfigError(f"Key {key_id!r} is not valid base64.") from None
            if len(material) != KEY_BYTES:
                raise EncryptionConfigError(f"Key {key_id!r} must be {KEY_BYTES} bytes, not {len(material)}.")
            keys[key_id] = material
        if not keys:
            raise EncryptionConfigError("The key ring is empty.")
        return cls(primary_id=next(iter(keys)), keys=keys)

    def cipher(self, key_id: str) -> AESGCM:
        return _cipher(self.keys[key_id])


@cache
def _cipher(material: bytes) -> AESGCM:
    return AESGCM(material)


def new_key_entry(key_id: str) -> str:
    """A fresh key ring entry, "<key_id>:<base64 of 32 random bytes>"."""
    if not KEY_ID_PATTERN.match(key_id):
        raise EncryptionConfigError("Key ids use letters, digits, '-' and '_', at most 32 characters.")
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip('=')}"


def configured_key_ring() -> KeyRing:
    """The ring from settings.PARLEY_ENCRYPTION_KEYS, parsed once per value."""
    from django.conf import settings

    return _ring_for_spec(settings.PARLEY_ENCRYPTION_KEYS)


@cache
def _ring_for_spec(spec: str) -> KeyRing:
    return KeyRing.from_spec(spec)


def _associated_data(context: str) -> bytes:
    return f"parley:{FORMAT_VERSION}:{context}".encode()


def seal(plaintext: bytes, *, context: str, ring: KeyRing | None = None) -> bytes:
    """Encrypt `plaintext` under the primary key, bound to `context`."""
    ring = ring or configured_key_ring()
    key_id = ring.primary_id.encode()
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = ring.cipher(ring.primary_id).encrypt(nonce, plaintext, _associated_data(context))
    return bytes((FORMAT_VERSION, len(key_id))) + key_id + nonce + ciphertext


def sealed_key_id(sealed: bytes) -> str:
    """Which key sealed a value, read from its header without decrypting."""
    if len(sealed) < 2 or sealed[0] != FORMAT_VERSION:
        raise DecryptionError("Not a sealed value of a known format version.")
    length = sealed[1]
    if len(sealed) < 2 + length + NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("The sealed value is truncated.")
    return sealed[2 : 2 + length].decode("ascii", errors="replace")


def sealed_overhead(key_id: str) -> int:
    """How many bytes sealing adds under `key_id`: header, nonce and tag (a file's clear size without opening it)."""
    return 2 + len(key_id.encode()) + NONCE_BYTES + TAG_BYTES


def unseal(sealed: bytes, *, context: str, ring: KeyRing | None = None) -> bytes:
    """Decrypt a value made by `seal` with the same `context`, or raise DecryptionError."""
    ring = ring or configured_key_ring()
    key_id = sealed_key_id(sealed)
    if key_id not in ring.keys:
        raise DecryptionError(f"The value was sealed with key {key_id!r}, which is not in the key ring.")
    start = 2 + len(key_id)
    nonce, ciphertext = sealed[start : start + NONCE_BYTES], sealed[start + NONCE_BYTES :]
    try:
        return ring.cipher(key_id).decrypt(nonce, ciphertext, _associated_data(context))
    except InvalidTag:
        raise DecryptionError(f"The value does not open for {context!r}: tampered, or not its own.") from None


def seal_text(text: str, *, context: str, ring: KeyRing | None = None) -> bytes:
    return seal(text.encode(), context=context, ring=ring)


def unseal_text(sealed: bytes, *, context: str, ring: KeyRing | None = None) -> str:
    return unseal(sealed, context=context, ring=ring).decode()


def channel_layer_keys(ring: KeyRing) -> list[str]:
    """Secrets for channels_redis' Fernet encryption, derived per key so Redis never holds a raw ring key."""
    return [f"parley-channel-layer:{key_id}:{base64.b64encode(key).decode()}" for key_id, key in ring.keys.items()]
