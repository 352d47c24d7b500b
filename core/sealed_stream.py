"""Files of any size sealed at rest in chunks, written and read in constant memory (background exports).

core.storage seals a whole file at once, which suits attachments but would hold a multi-gigabyte export in
memory. Here a file is `header | chunk | chunk | ...`:

    header = b"PSS1" | key-id length (1 byte) | key id
    chunk  = ciphertext length (4 bytes, big-endian) | nonce (12 bytes) | AES-256-GCM ciphertext+tag

Each chunk's associated data binds it to the file (`context`, such as "export:<uuid>"), to its index and to
whether it is the last one, so a chunk moved, dropped, repeated or taken from another file does not open, and
a file cut after any chunk (a truncation that lands exactly on a chunk boundary included) is refused because
no chunk says it was the last. The key is the ring's primary when written; a file names its key, so it opens
while that key stays in the ring (docs/security.md, "Key rotation", says what that means for exports).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from typing import IO

from cryptography.exceptions import InvalidTag

from core import crypto

MAGIC = b"PSS1"
CHUNK_BYTES = 1024 * 1024
_LENGTH = struct.Struct(">I")


def _associated_data(context: str, index: int, final: bool) -> bytes:
    return f"parley-stream:1:{context}:{index}:{'final' if final else 'more'}".encode()


class SealedWriter:
    """A write-only binary stream that seals what it is given into `out`, a chunk per CHUNK_BYTES.

    Not seekable and with no `tell`, on purpose: zipfile then writes a streaming ZIP (sizes after each member)
    instead of seeking back, which a sealed file cannot do. `close()` writes the final chunk (possibly empty)
    and must be called for the file to open; it does not close `out`.
    """

    def __init__(self, out: IO[bytes], *, context: str, ring: crypto.KeyRing | None = None) -> None:
        self.out = out
        self.context = context
        self.ring = ring or crypto.configured_key_ring()
        self.key_id = self.ring.primary_id
        self.cipher = self.ring.cipher(self.key_id)
        self.buffer = bytearray()
        self.index = 0
        self.closed = False
        key_id = self.key_id.encode()
        out.write(MAGIC + bytes((len(key_id),)) + key_id)

    def write(self, data: bytes) -> int:
        if self.closed:
            raise ValueError("write to a closed SealedWriter")
        self.buffer += data
        # Strictly more than a chunk: the last full chunk may turn out to be the final one, decided at close().
        while len(self.buffer) > CHUNK_BYTES:
            with memoryview(self.buffer) as view:  # no copy of the chunk before it is sealed
                self._seal(view[:CHUNK_BYTES], final=False)
            del self.buffer[:CHUNK_BYTES]
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        if self.closed:
            return
        with memoryview(self.buffer) as view:
            self._seal(view, final=True)
        self.buffer.clear()
        self.closed = True
        self.out.flush()

    def _seal(self, clear: bytes | memoryview, *, final: bool) -> None:
        nonce = os.urandom(crypto.NONCE_BYTES)
        sealed = self.cipher.encrypt(nonce, clear, _associated_data(self.context, self.index, final))
        self.out.write(_LENGTH.pack(len(sealed)) + nonce)
        self.out.write(sealed)
        self.index += 1


def _read_exactly(source: IO[bytes], count: int) -> bytes:
    data = source.read(count)
    if len(data) != count:
        raise crypto.DecryptionError("The sealed file is truncated.")
    return data


def sealed_chunks(source: IO[bytes], *, context: str, ring: crypto.KeyRing | None = None) -> Iterator[bytes]:
    """The clear bytes of a file made by SealedWriter, a chunk at a time. Raises crypto.DecryptionError when a
    chunk was altered, moved or belongs elsewhere, when the key is not in the ring, or (after yielding what came
    before) when the file ends without its final chunk: a caller that must not hand out a partial file reads it
    through once first (`sealed_file_check`)."""
    ring = ring or crypto.configured_key_ring()
    if source.read(len(MAGIC)) != MAGIC:
        raise crypto.DecryptionError("Not a sealed stream.")
    key_id = _read_exactly(source, _read_exactly(source, 1)[0]).decode("ascii", errors="replace")
    if key_id not in ring.keys:
        raise crypto.DecryptionError(f"The file was sealed with key {key_id!r}, which is not in the key ring.")
    cipher = ring.cipher(key_id)
    index = 0
    while True:
        prefix = source.read(_LENGTH.size)
        if not prefix:
            raise crypto.DecryptionError("The sealed file is truncated: its last chunk is missing.")
        if len(prefix) < _LENGTH.size:
            raise crypto.DecryptionError("The sealed file is truncated.")
        (length,) = _LENGTH.unpack(prefix)
        if length > CHUNK_BYTES + crypto.TAG_BYTES:
            raise crypto.DecryptionError("A chunk of the sealed file is longer than any chunk written.")
        nonce = _read_exactly(source, crypto.NONCE_BYTES)
        sealed = _read_exactly(source, length)
        # A chunk says whether it is the last only through its associated data: try "more", then "final".
        for final in (False, True):
            try:
                clear = cipher.decrypt(nonce, sealed, _associated_data(context, index, final))
                break
            except InvalidTag:
                continue
        else:
            raise crypto.DecryptionError(f"Chunk {index} of the sealed file does not open: altered, or not its own.")
        yield clear
        index += 1
        if final:
            if source.read(1):
                raise crypto.DecryptionError("The sealed file goes on after its final chunk.")
            return


def sealed_file_check(path: str | os.PathLike, *, context: str, ring: crypto.KeyRing | None = None) -> str:
    """Read a sealed file through without keeping it, and return the SHA-256 of its clear bytes; raises
    crypto.DecryptionError as `sealed_chunks` does. Costs one AES-GCM pass (about 1 GB/s)."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for chunk in sealed_chunks(source, context=context, ring=ring):
            digest.update(chunk)
    return digest.hexdigest()
