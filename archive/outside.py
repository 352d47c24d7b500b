"""Checkpoints kept outside the database: each one written, signed, to a directory the application cannot
rewrite (WORM storage: a bucket with object lock, an append-only file system) and, optionally, mailed to the
firm's designated third party.

A checkpoint in the database proves nothing against someone who can write that database: they can delete it
with what it sealed. A copy they cannot reach still names every head it sealed, so `verify_archive
--checkpoints DIR` finds the cut (archive.checkpoints.outside_copies_verify).

Each copy is written once, after the checkpoint's transaction commits (a rolled-back checkpoint leaves none),
never overwritten (O_CREAT|O_EXCL, then fsync of the file and the directory), under a name made of the
checkpoint's id and document hash. It holds what the export's checkpoint lines hold (archive.export), so it
verifies on its own with the public key.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage

from archive.models import ArchiveCheckpoint
from core import metrics

logger = logging.getLogger(__name__)

COPY_NAME = re.compile(r"^checkpoint-(?P<id>\d{12})-(?P<hash>[0-9a-f]{64})\.json$")


class CopyConflict(Exception):
    """A different file already has this copy's name: never overwritten, reported."""


@dataclass(frozen=True)
class OutsideCopy:
    """One checkpoint as kept outside: what was signed, its hash, the key and the signature."""

    checkpoint_id: int
    document: str
    document_hash: str
    public_key: str
    signature: str
    path: Path


def checkpoint_directory() -> Path:
    return Path(settings.PARLEY_CHECKPOINT_DIR)


def copy_name(checkpoint: ArchiveCheckpoint) -> str:
    return f"checkpoint-{checkpoint.pk:012d}-{checkpoint.document_hash}.json"


def checkpoint_record(checkpoint: ArchiveCheckpoint) -> dict[str, Any]:
    """The fields a checkpoint is verified from, as an export's checkpoint line carries them."""
    return {
        "id": checkpoint.pk,
        "document": checkpoint.document,
        "document_hash": checkpoint.document_hash,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
    }


def _copy_bytes(checkpoint: ArchiveCheckpoint) -> bytes:
    return (json.dumps({"checkpoint": checkpoint_record(checkpoint)}, ensure_ascii=False) + "\n").encode()


def checkpoint_copy_write(checkpoint: ArchiveCheckpoint, *, mail: bool = True) -> bool:
    """Write `checkpoint`'s outside copy (and mail it, when a recipient is configured). Runs after commit.

    Never raises: the checkpoint is committed whatever happens here. A copy that cannot be written is logged at
    ERROR and counted (parley_checkpoint_copy_failures_total); `manage.py archive_checkpoint --copy-missing`
    writes it later, and `verify_archive --checkpoints` warns about it meanwhile. Returns whether the copy is
    in the directory now.
    """
    directory = checkpoint_directory()
    data = _copy_bytes(checkpoint)
    try:
        _write_once(directory / copy_name(checkpoint), data)
        written = True
    except (OSError, CopyConflict):
        logger.exception(
            "CHECKPOINT NOT COPIED OUTSIDE: checkpoint %s could not be written to %s; run "
            "`manage.py archive_checkpoint --copy-missing` once the directory is writable",
            checkpoint.pk,
            directory,
        )
        metrics.checkpoint_copy_failed()
        written = False
    if mail and settings.PARLEY_CHECKPOINT_MAIL_TO:
        _mail(checkpoint, data)
    return written


def _write_once(path: Path, data: bytes) -> None:
    """Create `path` with `data`, durably, or find it already holding exactly `data` (a second run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        if path.read_bytes() == data:
            return
        raise CopyConflict(f"{path} exists with other content; it is never overwritten") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    # The file's name is in the directory only once the directory itself is on disk.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _mail(checkpoint: ArchiveCheckpoint, data: bytes) -> None:
    message = EmailMessage(
        subject=f"Parley archive checkpoint {checkpoint.pk} ({checkpoint.reason})",
        body=(
            f"Archive checkpoint {checkpoint.pk}, sealed {checkpoint.created_at.isoformat()}, document SHA-256 "
            f"{checkpoint.document_hash}, signed with Ed25519 key {checkpoint.public_key}.\n\n"
            "Keep the attached file unchanged: with the public key it proves what the archive held at this "
            "moment (docs/compliance.md, 'Checkpoints kept outside the database').\n"
        ),
        to=settings.PARLEY_CHECKPOINT_MAIL_TO,
    )
    message.attach(copy_name(checkpoint), data, "application/json")
    try:
        message.send()
    except Exception:  # SMTP, DNS, refused recipients: whatever it is, the checkpoint stands
        logger.exception("CHECKPOINT NOT MAILED: checkpoint %s could not be mailed to the third party", checkpoint.pk)
        metrics.checkpoint_copy_failed()


def checkpoint_copies_write_missing() -> tuple[list[int], list[int]]:
    """Write the outside copy of every checkpoint that has none (not mailed again): the ids written, and those
    that failed again (logged)."""
    present = {checkpoint_id for checkpoint_id, _ in copy_paths(checkpoint_directory())}
    written, failed = [], []
    for checkpoint in ArchiveCheckpoint.objects.order_by("pk").iterator(chunk_size=100):
        if checkpoint.pk not in present:
            (written if checkpoint_copy_write(checkpoint, mail=False) else failed).append(checkpoint.pk)
    return written, failed


def copy_paths(directory: Path) -> list[tuple[int, Path]]:
    """(checkpoint id, path) of every copy in `directory`, by id. Other files are not copies and are left out."""
    if not directory.is_dir():
        return []
    found = []
    for item in os.scandir(directory):
        match = COPY_NAME.match(item.name)
        if match:
            found.append((int(match["id"]), Path(item.path)))
    return sorted(found)


def copy_read(checkpoint_id: int, path: Path) -> OutsideCopy | str:
    """The copy in `path`, or why it is not one (unreadable, not JSON, fields missing, named for another)."""
    try:
        record = json.loads(path.read_bytes())["checkpoint"]
        copy = OutsideCopy(
            checkpoint_id=int(record["id"]),
            document=str(record["document"]),
            document_hash=str(record["document_hash"]),
            public_key=str(record["public_key"]),
            signature=str(record["signature"]),
            path=path,
        )
    except (OSError, ValueError, TypeError, KeyError) as error:
        return f"{path.name} is not a readable checkpoint copy ({type(error).__name__})"
    if copy.checkpoint_id != checkpoint_id or not path.name.endswith(f"-{copy.document_hash}.json"):
        return f"{path.name} holds checkpoint {copy.checkpoint_id} with hash {copy.document_hash}, not what it is named"
    return copy


def copies_read(directory: Path) -> Iterator[OutsideCopy | str]:
    """Every copy in `directory` in id order, one at a time (years of hourly checkpoints do not fit in memory
    at once), or for a file that is not a valid copy, why."""
    for checkpoint_id, path in copy_paths(directory):
        yield copy_read(checkpoint_id, path)
