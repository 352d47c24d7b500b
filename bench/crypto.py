"""Seal and open cost: a 200-byte message and a 10 MB file, AES-256-GCM through core.crypto.

.venv/bin/python bench/crypto.py
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import crypto

RING = crypto.KeyRing.from_spec(crypto.new_key_entry("bench"))


def measure(label: str, size: int, repeat: int) -> None:
    data = os.urandom(size)
    sealed = crypto.seal(data, context="bench:1", ring=RING)
    seal_s = min(timeit.repeat(lambda: crypto.seal(data, context="bench:1", ring=RING), number=repeat, repeat=5))
    open_s = min(timeit.repeat(lambda: crypto.unseal(sealed, context="bench:1", ring=RING), number=repeat, repeat=5))
    per_seal, per_open = seal_s / repeat, open_s / repeat
    print(
        f"{label:<22} seal {per_seal * 1e6:>10.1f} µs ({size / per_seal / 1e6:>8.0f} MB/s)   "
        f"open {per_open * 1e6:>10.1f} µs ({size / per_open / 1e6:>8.0f} MB/s)   overhead {len(sealed) - size} bytes"
    )


if __name__ == "__main__":
    measure("200-byte message", 200, 20_000)
    measure("10 MB file", 10 * 1024 * 1024, 5)
