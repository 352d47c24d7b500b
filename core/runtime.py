"""Values Parley keeps on disk between runs in development (never in production)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """Return the secret stored at `path`, creating it with `make()` on first use.

    Development keys live under `var/` so that a second `make run` reuses sessions and data. The file is
    created with mode 0600 and atomically (O_EXCL), so two processes starting together agree on one value.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        secret = make()
        handle.write(secret + "\n")
    return secret
