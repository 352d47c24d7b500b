"""Virus scanning with ClamAV's daemon (clamd), over its INSTREAM command.

A small client of our own: the protocol is four commands on a socket, and the Python clamd clients on PyPI
have not been maintained for years. Scanning fails closed: when clamd cannot be reached, nothing is shared.
"""

from __future__ import annotations

import logging
import socket
import struct
from dataclasses import dataclass
from urllib.parse import urlparse

from django.conf import settings

from core import metrics
from core.errors import ParleyError

CHUNK_BYTES = 64 * 1024
logger = logging.getLogger("parley.antivirus")


class ScannerUnavailable(ParleyError):
    code = "scanner_unavailable"
    http_status = 503


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    signature: str = ""  # what clamd found, e.g. "Win.Test.EICAR_HDB-1"
    scanned: bool = True  # False only when scanning is off (development without clamd)


def scanning_enabled() -> bool:
    return bool(settings.PARLEY_CLAMD_ADDRESS)


def scan_bytes(data: bytes) -> ScanResult:
    """Ask clamd whether `data` is infected. Raises ScannerUnavailable when it cannot answer."""
    if not scanning_enabled():
        logger.warning("PARLEY_CLAMD_ADDRESS is not set: a file was shared without a virus scan (development only).")
        return ScanResult(clean=True, scanned=False)
    try:
        with metrics.scan_in_flight(), _connect() as connection:
            connection.sendall(b"zINSTREAM\0")
            for start in range(0, len(data), CHUNK_BYTES):
                chunk = data[start : start + CHUNK_BYTES]
                connection.sendall(struct.pack("!L", len(chunk)) + chunk)
            connection.sendall(struct.pack("!L", 0))
            reply = _read_reply(connection)
    except OSError as error:
        raise ScannerUnavailable(f"The virus scanner cannot be reached ({error}); try again later.") from None
    # "stream: OK", "stream: Eicar-Signature FOUND", "INSTREAM size limit exceeded. ERROR"
    if reply.endswith(" FOUND"):
        return ScanResult(clean=False, signature=reply.removeprefix("stream: ").removesuffix(" FOUND"))
    if reply.endswith(": OK"):
        return ScanResult(clean=True)
    raise ScannerUnavailable(f"The virus scanner could not scan this file ({reply}).")


def scanner_ping() -> bool:
    """True when clamd answers PING (health checks)."""
    try:
        with _connect() as connection:
            connection.sendall(b"zPING\0")
            return _read_reply(connection) == "PONG"
    except OSError:
        return False


def _connect() -> socket.socket:
    address = urlparse(settings.PARLEY_CLAMD_ADDRESS)
    timeout = settings.PARLEY_CLAMD_TIMEOUT_SECONDS
    if address.scheme == "unix":
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(timeout)
        connection.connect(address.path)
        return connection
    return socket.create_connection((address.hostname, address.port or 3310), timeout=timeout)


def _read_reply(connection: socket.socket) -> str:
    reply = b""
    while not reply.endswith(b"\0"):
        data = connection.recv(4096)
        if not data:
            break
        reply += data
    return reply.rstrip(b"\0").decode("utf-8", "replace").strip()
