"""Chunked sealing: what was written opens in order and whole; a changed, moved or missing chunk does not."""

import io
import os

import pytest

from core import crypto
from core.sealed_stream import CHUNK_BYTES, SealedWriter, sealed_chunks

RING = crypto.KeyRing.from_spec(crypto.new_key_entry("k1"))


def sealed(data: bytes, *, context: str = "export:one", ring: crypto.KeyRing = RING) -> bytes:
    out = io.BytesIO()
    writer = SealedWriter(out, context=context, ring=ring)
    for start in range(0, len(data), 100_000):  # written in pieces, as zipfile does
        writer.write(data[start : start + 100_000])
    writer.close()
    return out.getvalue()


def opened(stored: bytes, *, context: str = "export:one", ring: crypto.KeyRing = RING) -> bytes:
    return b"".join(sealed_chunks(io.BytesIO(stored), context=context, ring=ring))


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 17])
def test_what_is_written_opens_the_same_whatever_its_size(size):
    data = os.urandom(size)

    assert opened(sealed(data)) == data


def test_the_file_never_holds_the_clear_bytes():
    data = b"Buy 600 ACME before the call " * 1000

    assert b"ACME" not in sealed(data)


def test_a_changed_byte_in_any_chunk_does_not_open():
    stored = bytearray(sealed(os.urandom(2 * CHUNK_BYTES + 10)))
    stored[CHUNK_BYTES + 500] ^= 1  # inside the second chunk

    with pytest.raises(crypto.DecryptionError, match="Chunk 1"):
        opened(bytes(stored))


def test_a_file_cut_at_a_chunk_boundary_is_refused_for_want_of_its_final_chunk():
    data = os.urandom(2 * CHUNK_BYTES + 10)
    stored = sealed(data)
    header = len(b"PSS1") + 1 + len(RING.primary_id)
    first_chunk_end = header + 4 + crypto.NONCE_BYTES + CHUNK_BYTES + crypto.TAG_BYTES

    with pytest.raises(crypto.DecryptionError, match="last chunk is missing"):
        opened(stored[:first_chunk_end])
    with pytest.raises(crypto.DecryptionError, match="truncated"):
        opened(stored[:-5])


def test_chunks_swapped_or_repeated_do_not_open():
    stored = sealed(os.urandom(2 * CHUNK_BYTES + 10))
    header = len(b"PSS1") + 1 + len(RING.primary_id)
    chunk = 4 + crypto.NONCE_BYTES + CHUNK_BYTES + crypto.TAG_BYTES
    first, second, rest = (
        stored[header : header + chunk],
        stored[header + chunk : header + 2 * chunk],
        stored[header + 2 * chunk :],
    )

    with pytest.raises(crypto.DecryptionError, match="Chunk 0"):
        opened(stored[:header] + second + first + rest)
    with pytest.raises(crypto.DecryptionError, match="Chunk 1"):
        opened(stored[:header] + first + first + rest)


def test_a_file_sealed_for_another_export_or_under_a_key_no_longer_kept_does_not_open():
    stored = sealed(b"for one export")

    with pytest.raises(crypto.DecryptionError, match="Chunk 0"):
        opened(stored, context="export:another")
    with pytest.raises(crypto.DecryptionError, match="not in the key ring"):
        opened(stored, ring=crypto.KeyRing.from_spec(crypto.new_key_entry("k2")))


def test_writing_and_reading_a_large_file_takes_constant_memory():
    import tracemalloc

    class Discard:
        def write(self, data: bytes) -> int:
            return len(data)

        def flush(self) -> None:
            pass

    piece = os.urandom(64 * 1024)
    tracemalloc.start()
    writer = SealedWriter(Discard(), context="export:big", ring=RING)
    for _ in range(800):  # 50 MiB
        writer.write(piece)
    writer.close()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak {peak / 2**20:.2f} MiB")

    assert peak < 3 * CHUNK_BYTES  # a chunk buffered, one sealed: about 2 MiB whatever the file's size
