"""Django's password hasher at its full strength, hashing in turn: a sign-in storm queues instead of starving
the worker (core.admission.password_hashes, PARLEY_PASSWORD_HASHES_AT_ONCE)."""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from core.admission import password_hashes


class QueuedPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's default hasher (same algorithm name, iterations and stored form: existing hashes verify and are
    upgraded as Django's would be), each hash waiting for its turn. `verify` and `harden_runtime` hash through
    `encode`, so sign-ins, unknown usernames and new passwords all wait in the same line."""

    def encode(self, password: str, salt: str, iterations: int | None = None) -> str:
        # A sign-in has already read the user when it gets here, and its connection would stay checked out of
        # the worker's pool (PARLEY_DB_POOL_SIZE) through the wait and the hash. In a storm the waiting sign-ins
        # then held the whole pool: the others, and sockets' connects, failed after PARLEY_DB_POOL_TIMEOUT
        # (S5b: HTTP 500, handshakes timed out). Handed back, the next query takes one again. Inside a
        # transaction the connection must stay.
        if not connection.in_atomic_block:
            connection.close()
        with password_hashes.turn():
            return super().encode(password, salt, iterations)
