"""Exporting the archive for review or for a third party, in a form they can verify without the server.

An export is a JSON Lines file: a header line, one line per entry (its clear content and every field its hash
covers; after a file-sharing entry in range, a line with the file's bytes), then the checkpoints (documents and
signatures) and the public keys. `archive/verify_export.py`
checks such a file with nothing but Python and the `cryptography` package.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from django.utils import timezone

from archive import signing
from archive.checkpoints import archive_checkpoint_create
from archive.models import ArchiveCheckpoint, ArchiveEntry, EventType
from archive.outside import checkpoint_record
from archive.selectors import OpenedEntry, Unopenable, entries_in_chain_order, kept_file
from messenger.models import Attachment

EXPORT_FORMAT = "parley-archive-export/1"


class ExportBlocked(Exception):
    """An entry does not open (altered, or sealed under a key no longer configured), or a shared file it keeps
    is missing from storage: an export would be incomplete, so none is made."""


def archive_export(
    *,
    out: IO[str],
    conversation_ids: list[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    requested_by: str,
) -> dict[str, int]:
    """Write whole chains (so links can be checked), marking which entries fall in the requested range.

    A checkpoint is sealed first, so the export ends on a signed head; before it, every shared file the export
    will carry is looked for in storage, so a missing one refuses the export with nothing sealed.
    """
    _refuse_missing_files(conversation_ids, since, until)
    checkpoint = archive_checkpoint_create(reason="export")
    header = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "requested_by": requested_by,
        "conversations": conversation_ids,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    out.write(json.dumps({"header": header}, ensure_ascii=False) + "\n")
    counts = {"entries": 0, "in_range": 0, "files": 0, "checkpoints": 0}
    for line in _entry_lines(conversation_ids, since, until, counts):
        out.write(line + "\n")
    for sealed in ArchiveCheckpoint.objects.filter(pk__lte=checkpoint.pk).order_by("pk").iterator():
        counts["checkpoints"] += 1
        out.write(json.dumps({"checkpoint": checkpoint_record(sealed)}) + "\n")
    out.write(json.dumps({"public_keys": sorted(signing.trusted_public_keys())}) + "\n")
    return counts


def _entry_lines(
    conversation_ids: list[int] | None, since: datetime | None, until: datetime | None, counts: dict[str, int]
) -> Iterator[str]:
    for entry in entries_in_chain_order(conversation_ids=conversation_ids):
        if isinstance(entry, Unopenable):
            raise ExportBlocked(
                f"Conversation {entry.conversation_id} position {entry.position} does not open: run verify_archive. "
                "Nothing was exported."
            )
        in_range = (since is None or entry.occurred_at >= since) and (until is None or entry.occurred_at <= until)
        counts["entries"] += 1
        counts["in_range"] += in_range
        yield json.dumps({"entry": _entry_document(entry), "in_range": in_range}, ensure_ascii=False)
        if in_range and entry.event_type == EventType.FILE_SHARED:
            attachment = kept_file(conversation_id=entry.conversation_id, content=entry.content)
            if attachment is not None:  # no attachment row at all: left out, and the verifier names it
                counts["files"] += 1
                yield json.dumps({"file": _file_document(entry, attachment)})


def _refuse_missing_files(conversation_ids: list[int] | None, since: datetime | None, until: datetime | None) -> None:
    """Raise ExportBlocked naming the first shared file in range that storage no longer holds. Reads only clear
    metadata (entry times, the attachment's archive position), not the sealed entries."""
    in_range = ArchiveEntry.objects.filter(event_type=EventType.FILE_SHARED)
    if conversation_ids is not None:
        in_range = in_range.filter(conversation_id__in=conversation_ids)
    if since is not None:
        in_range = in_range.filter(occurred_at__gte=since)
    if until is not None:
        in_range = in_range.filter(occurred_at__lte=until)
    positions = set(in_range.values_list("conversation_id", "position"))
    kept = Attachment.objects.filter(archive_position__isnull=False).exclude(file="")
    if conversation_ids is not None:
        kept = kept.filter(conversation_id__in=conversation_ids)
    for attachment in kept.only("conversation_id", "archive_position", "file").iterator():
        if (
            attachment.conversation_id,
            attachment.archive_position,
        ) in positions and not attachment.file.storage.exists(attachment.file.name):
            raise _missing(attachment.conversation_id, attachment.archive_position)


def _missing(conversation_id: int, position: int) -> ExportBlocked:
    return ExportBlocked(
        f"Conversation {conversation_id} position {position}: its shared file is missing from storage "
        "(restore it from backup, then export again). Nothing was exported."
    )


def _file_document(entry: OpenedEntry, attachment: Attachment) -> dict[str, Any]:
    """The shared file's bytes (opened, one file in memory at a time), tied to its entry by position and hash."""
    try:
        with attachment.file.open() as stored:
            data = stored.read()
    except FileNotFoundError:  # removed after the look before sealing
        raise _missing(entry.conversation_id, entry.position) from None
    return {
        "conversation": entry.conversation_id,
        "position": entry.position,
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": base64.b64encode(data).decode(),
    }


def _entry_document(entry: OpenedEntry) -> dict[str, Any]:
    return {
        "conversation": entry.conversation_id,
        "position": entry.position,
        "prev": entry.prev_hash,
        "event": entry.event_type,
        "actor": entry.actor_id,
        "at": entry.occurred_at.isoformat(timespec="microseconds"),
        "participants": sorted(entry.participants),
        "message": entry.message_id,
        "content": entry.content,
        "salt": entry.salt,
        "hash": entry.entry_hash,
    }
