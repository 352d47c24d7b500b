"""Exporting the archive for review or for a third party, in a form they can verify without the server.

An export is a JSON Lines file (format /2, docs/compliance.md "Export and third-party verification"): a header,
per conversation the entries of the requested range (each with its clear content and every field its hash
covers; after a file-sharing entry in range, a line with the file's bytes) followed by stubs (place and hashes
only) up to the chain's head, then the checkpoints, the people the entries name, the public keys, and last a
manifest signed with the archive's key that fixes everything before it. `archive/verify_export.py` checks
such a file with nothing but Python and the `cryptography` package.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO, Any

from django.utils import timezone

from accounts.models import User
from archive import signing
from archive.checkpoints import archive_checkpoint_create
from archive.models import ArchiveCheckpoint, EventType
from archive.outside import checkpoint_record
from archive.selectors import (
    ChainLink,
    OpenedEntry,
    Unopenable,
    chain_from,
    chain_spans_in_range,
    entries_in_range,
    kept_file,
)
from archive.verify_export import PART_OF  # the auditors' verifier is the reference for the format
from messenger.models import Attachment

EXPORT_FORMAT = "parley-archive-export/2"


class ExportBlocked(Exception):
    """An entry does not open (altered, or sealed under a key no longer configured), or a shared file it keeps
    is missing from storage: an export would be incomplete, so none is made."""


class _HashingWriter:
    """Writes records as lines and keeps the SHA-256 of all of them and of each part, for the manifest."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.whole = hashlib.sha256()
        self.parts = {part: hashlib.sha256() for part in sorted(set(PART_OF.values()))}

    def write(self, record: dict[str, Any]) -> None:
        """One line; its first key says what it is (header, entry, stub, file, ...)."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self.out.write(line)
        self.whole.update(line.encode())
        self.parts[PART_OF[next(iter(record))]].update(line.encode())

    def digests(self) -> dict[str, str]:
        return {"export": self.whole.hexdigest(), **{part: digest.hexdigest() for part, digest in self.parts.items()}}


def archive_export(
    *,
    out: IO[str],
    conversation_ids: list[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    requested_by: str,
    checkpoint: ArchiveCheckpoint | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the entries in the date range, with the chain context needed to verify them, and sign what was
    written.

    Before the range a chain is represented by its first exported entry's `prev` hash alone; after it, by
    stubs up to the head, which a checkpoint seals. A checkpoint is sealed first, so the export ends on a
    signed head; before it, every shared file the export will carry is looked for in storage, so a missing one
    refuses the export with nothing sealed.
    """
    refuse_missing_files(conversation_ids, since, until)
    if checkpoint is None:  # a caller that wraps this export (archive/formats.py) sealed it already
        checkpoint = archive_checkpoint_create(reason="export")
    writer = _HashingWriter(out)
    query = {
        "conversations": conversation_ids,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "requested_by": requested_by,
    }
    writer.write({"header": {"format": EXPORT_FORMAT, "exported_at": timezone.now().isoformat(), **query}})
    counts = {"entries": 0, "in_range": 0, "stubs": 0, "files": 0, "checkpoints": 0, "people": 0}
    people = PeopleNamed()
    for record in _chain_records(conversation_ids, since, until, counts, people):
        writer.write(record)
        if progress is not None and "entry" in record:
            progress(1)
    for sealed in ArchiveCheckpoint.objects.filter(pk__lte=checkpoint.pk).order_by("pk").iterator():
        counts["checkpoints"] += 1
        writer.write({"checkpoint": checkpoint_record(sealed)})
    section = people.section()
    counts["people"] = len(section)
    writer.write({"people": section})
    writer.write({"public_keys": sorted(signing.trusted_public_keys())})
    manifest = {
        "format": EXPORT_FORMAT,
        "query": query,
        "checkpoint": {"id": checkpoint.pk, "document_hash": checkpoint.document_hash},
        "counts": counts,
        "sha256": writer.digests(),
    }
    out.write(json.dumps({"manifest": signed_manifest(manifest)}, ensure_ascii=False) + "\n")
    return counts


def signed_manifest(manifest: dict[str, Any]) -> dict[str, str]:
    """The manifest as a canonical JSON document with the archive key's signature over its bytes: the one way
    every export (JSON Lines, and the ZIPs of archive/formats.py) fixes what it holds."""
    document = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return {"document": document.decode(), "public_key": signing.public_key_hex(), "signature": signing.sign(document)}


def _in_range(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or moment >= since) and (until is None or moment <= until)


def _chain_records(
    conversation_ids: list[int] | None,
    since: datetime | None,
    until: datetime | None,
    counts: dict[str, int],
    people: PeopleNamed,
) -> Iterator[dict[str, Any]]:
    """Per conversation with anything in range: its entries from the first in range to the last (opened), then
    stubs to the head. Past the range an entry is still opened if it falls in the range by time (recorded while
    the export runs) or is a purge record (no one's words, and the proof of a cut the verifier must see)."""
    spans = chain_spans_in_range(conversation_ids=conversation_ids, since=since, until=until)
    for conversation_id, (first, last) in spans.items():

        def to_open(link: ChainLink, last: int = last) -> bool:
            return (
                link.position <= last or _in_range(link.occurred_at, since, until) or link.event_type == EventType.PURGE
            )

        for entry in chain_from(conversation_id=conversation_id, position=first, to_open=to_open):
            if isinstance(entry, ChainLink):
                counts["stubs"] += 1
                stub = {
                    "conversation": entry.conversation_id,
                    "position": entry.position,
                    "prev": entry.prev_hash,
                    "hash": entry.entry_hash,
                }
                yield {"stub": stub}
                continue
            if isinstance(entry, Unopenable):
                raise ExportBlocked(
                    f"Conversation {entry.conversation_id} position {entry.position} does not open: run "
                    "verify_archive. Nothing was exported."
                )
            in_range = _in_range(entry.occurred_at, since, until)
            counts["entries"] += 1
            counts["in_range"] += in_range
            document = _entry_document(entry)
            people.named_by(document)
            yield {"entry": document, "in_range": in_range}
            if in_range and entry.event_type == EventType.FILE_SHARED:
                attachment = kept_file(conversation_id=entry.conversation_id, content=entry.content)
                if attachment is not None:  # no attachment row at all: left out, and the verifier names it
                    counts["files"] += 1
                    yield {"file": _file_document(entry, attachment)}


class PeopleNamed:
    """Everyone the exported entries name, as of the latest exported event that sealed who they were; people
    no exported entry sealed (entries recorded before names were sealed) as their account is now."""

    def __init__(self) -> None:
        self.sealed: dict[int, tuple[tuple[str, int, int], dict[str, str]]] = {}
        self.unsealed: set[int] = set()

    def named_by(self, entry: dict[str, Any]) -> None:
        sealed = entry["content"].get("people", {}) if isinstance(entry["content"], dict) else {}
        when = (entry["at"], entry["conversation"], entry["position"])
        for person, identity in sealed.items():
            known = self.sealed.get(int(person))
            if known is None or known[0] < when:
                self.sealed[int(person)] = (when, identity)
        named = {*entry["participants"], *([entry["actor"]] if entry["actor"] is not None else [])}
        self.unsealed.update(person for person in named if str(person) not in sealed)

    def section(self) -> dict[str, dict[str, str | None]]:
        people: dict[int, dict[str, str | None]] = {
            person: {**identity, "as_of": when[0]} for person, (when, identity) in self.sealed.items()
        }
        now = self.unsealed - people.keys()
        for pk, username, display_name, email in User.objects.filter(pk__in=now).values_list(
            "pk", "username", "display_name", "email"
        ):
            people[pk] = {"username": username, "display_name": display_name, "email": email, "as_of": "export"}
        for gone in now - people.keys():  # the account no longer exists
            people[gone] = {"username": None, "display_name": None, "email": None, "as_of": "export"}
        return {str(person): people[person] for person in sorted(people)}


def refuse_missing_files(conversation_ids: list[int] | None, since: datetime | None, until: datetime | None) -> None:
    """Raise ExportBlocked naming the first shared file in range that storage no longer holds. Reads only clear
    metadata (entry times, the attachment's archive position), not the sealed entries."""
    in_range = entries_in_range(conversation_ids=conversation_ids, since=since, until=until)
    positions = set(in_range.filter(event_type=EventType.FILE_SHARED).values_list("conversation_id", "position"))
    kept = Attachment.objects.filter(archive_position__isnull=False).exclude(file="")
    if conversation_ids is not None:
        kept = kept.filter(conversation_id__in=conversation_ids)
    for attachment in kept.only("conversation_id", "archive_position", "file").iterator():
        if (
            attachment.conversation_id,
            attachment.archive_position,
        ) in positions and not attachment.file.storage.exists(attachment.file.name):
            raise missing_file(attachment.conversation_id, attachment.archive_position)


def missing_file(conversation_id: int, position: int) -> ExportBlocked:
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
        raise missing_file(entry.conversation_id, entry.position) from None
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
