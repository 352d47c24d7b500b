"""How a daphne worker is started, the same everywhere: `make run`, the Dockerfile, docker-compose.yml, and, through
`daphne_process`, the benches and the tests that start real workers (config/tests/test_deployment.py checks the
files that cannot import this)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO

# How long a WebSocket may take from its TCP connection to the end of its handshake (our consumer's `accept`).
# Past it autobahn, under daphne, drops the connection with a TCP reset: the client sees "connection reset" and
# must start again at the back of the queue. daphne's default, 5 s, reset people whenever connects queued up
# (a sign-in or reconnect storm, docs/benchmarks.md S5); a storm should make people wait, not throw them out.
# A handshake that has not finished after a minute has a client that is gone.
HANDSHAKE_TIMEOUT_SECONDS = 60


def daphne_arguments(*, host: str, port: int | str) -> list[str]:
    """daphne's command-line arguments after the program name: listen on host:port and serve config.asgi."""
    return [
        "--websocket_connect_timeout",
        str(HANDSHAKE_TIMEOUT_SECONDS),
        "--bind",
        host,
        "--port",
        str(port),
        "config.asgi:application",
    ]


def daphne_process(*, port: int, env: dict[str, str], log: IO[bytes] | int, cwd: Path) -> subprocess.Popen:
    """A daphne worker on loopback, as production starts it, in its own process (the benches' and the tests')."""
    return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "daphne", *daphne_arguments(host="127.0.0.1", port=port)],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
