"""File storage that seals every file with core.crypto, so uploads never touch the disk in clear.

Each file is bound to its stored name ("file:<name>", the name normalized the way FileSystemStorage returns
it): bytes copied under another name do not open. Whole files are sealed at once (AES-GCM, 10 ms per 10 MB,
docs/benchmarks.md); callers in async code run saves and reads in a thread.

Concurrency with `manage.py rotate_keys`: a re-sealing replaces the file atomically (write aside, then
`os.replace`), so a reader sees the old or the new sealing, never half of one. It holds the file's lock while
it reads, checks and replaces, and `delete` takes the same lock, so a file deleted meanwhile is never brought
back by a rotation.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

from django.core.files import locks
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage

from core import crypto

# Written beside a file while it is re-sealed; never a stored name (stored names come from save()).
RESEAL_TEMP_PREFIX = ".reseal-"


def file_context(name: str) -> str:
    return f"file:{name}"


class EncryptedFileSystemStorage(FileSystemStorage):
    def stored_name(self, name: str) -> str:
        """The name as save() returns it ("a//b.txt" is stored as "a/b.txt"), which is what a file is bound to."""
        return os.path.relpath(self.path(name), self.location).replace("\\", "/")

    def _save(self, name: str, content: File) -> str:
        name = self.stored_name(name)
        content.seek(0)
        clear = content.read()
        saved = super()._save(name, ContentFile(crypto.seal(clear, context=file_context(name))))
        if saved != name:
            # Another save took the name between get_available_name() and here; bind to the one we got.
            _replace_atomically(self.path(saved), crypto.seal(clear, context=file_context(saved)))
        return saved

    def _open(self, name: str, mode: str = "rb") -> File:
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("Encrypted files are written with save(), not opened for writing.")
        with super()._open(name, "rb") as stored:
            sealed = stored.read()
        return ContentFile(crypto.unseal(sealed, context=file_context(self.stored_name(name))), name=name)

    def size(self, name: str) -> int:
        """The clear size, from the stored size and the header (no decryption)."""
        return super().size(name) - crypto.sealed_overhead(crypto.sealed_key_id(self._header(name)))

    def delete(self, name: str) -> None:
        path = self.path(name)
        if os.path.isdir(path):
            return super().delete(name)
        while True:
            try:
                stored = open(path, "rb")  # noqa: SIM115 (closed below, after the lock)
            except FileNotFoundError:
                return None
            with stored:
                locks.lock(stored, locks.LOCK_EX)  # waits for a re-sealing of this file to finish
                try:
                    if _is_still_at(stored, path):
                        os.remove(path)
                        return None
                finally:
                    locks.unlock(stored)
            # A re-sealing replaced the file while we waited: delete its new version.

    def sealed_names(self) -> Iterator[str]:
        """Every stored name, directory by directory in sorted order (for rotate_keys)."""
        for directory, subdirectories, files in os.walk(self.location):
            subdirectories.sort()
            for filename in sorted(files):
                if not filename.startswith(RESEAL_TEMP_PREFIX):
                    yield self.stored_name(os.path.join(directory, filename))

    def sealed_key_id(self, name: str) -> str | None:
        """Which key sealed a file, from its header; None when the file is not sealed at all (clear text)."""
        try:
            return crypto.sealed_key_id(self._header(name))
        except crypto.DecryptionError:
            return None

    def reseal(self, name: str, *, ring: crypto.KeyRing) -> bool:
        """Re-seal one file under the ring's primary key; False when it was deleted or replaced meanwhile."""
        path = self.path(name)
        context = file_context(self.stored_name(name))
        try:
            stored = open(path, "rb")  # noqa: SIM115 (closed below, after the lock)
        except FileNotFoundError:
            return False
        with stored:
            locks.lock(stored, locks.LOCK_EX)
            try:
                if not _is_still_at(stored, path):
                    return False
                clear = crypto.unseal(stored.read(), context=context, ring=ring)
                _replace_atomically(path, crypto.seal(clear, context=context, ring=ring))
            finally:
                locks.unlock(stored)
        return True

    def _header(self, name: str) -> bytes:
        with open(self.path(name), "rb") as stored:
            return stored.read(crypto.HEADER_MAX_BYTES)


def _is_still_at(stored, path: str) -> bool:
    """Whether the open file is still the one at `path` (not deleted or replaced since it was opened)."""
    try:
        return os.path.samestat(os.fstat(stored.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def _replace_atomically(path: str, data: bytes) -> None:
    directory, filename = os.path.split(path)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f"{RESEAL_TEMP_PREFIX}{filename}.")
    try:
        with os.fdopen(descriptor, "wb") as aside:
            aside.write(data)
            aside.flush()
            os.fsync(aside.fileno())
        os.chmod(temporary, os.stat(path).st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
