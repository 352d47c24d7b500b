"""Django's password hasher at its full strength, hashing in turn: a sign-in storm queues instead of starving
the worker (core.admission.password_hashes, PARLEY_PASSWORD_HASHES_AT_ONCE)."""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher

from core.admission import password_hashes


class QueuedPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's default hasher (same algorithm name, iterations and stored form: existing hashes verify and are
    upgraded as Django's would be), each hash waiting for its turn. `verify` and `harden_runtime` hash through
    `encode`, so sign-ins, unknown usernames and new passwords all wait in the same line."""

    def encode(self, password: str, salt: str, iterations: int | None = None) -> str:
        with password_hashes.turn():
            return super().encode(password, salt, iterations)
