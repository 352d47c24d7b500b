"""Reading the archive back: entries in chain order, opened, as a verifier or an export needs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive.chain import canonical_event
from archive.models import ArchiveEntry
from core.crypto import DecryptionError, unseal_text
from core.fields import Sealed, field_context
from messenger.models import Attachment

STREAM_CHUNK = 2000


@dataclass(frozen=True)
class OpenedEntry:
    pk: int
    conversation_id: int
    position: int
    event_type: str
    actor_id: int | None
    occurred_at: datetime
    participants: list[int]
    message_id: int | None
    content: dict[str, Any]
    salt: str
    prev_hash: str
    entry_hash: str

    def canonical(self) -> bytes:
        return canonical_event(
            conversation_id=self.conversation_id,
            position=self.position,
            prev_hash=self.prev_hash,
            event_type=self.event_type,
            actor_id=self.actor_id,
            occurred_at=self.occurred_at,
            participants=self.participants,
            message_id=self.message_id,
            content=self.content,
            salt=self.salt,
        )


@dataclass(frozen=True)
class Unopenable:
    conversation_id: int
    position: int
    reason: str


FIELDS = (
    "pk",
    "uid",
    "conversation_id",
    "position",
    "event_type",
    "actor_id",
    "occurred_at",
    "participants",
    "message_id",
    "payload",
    "prev_hash",
    "entry_hash",
)


def entries_in_chain_order(*, conversation_ids: list[int] | None = None) -> Iterator[OpenedEntry | Unopenable]:
    """Every entry, conversation by conversation, by position; streamed in chunks (constant memory).

    An entry whose payload does not open (tampered, or copied from another row) comes as Unopenable.
    """
    rows = ArchiveEntry.objects.order_by("conversation_id", "position")
    if conversation_ids is not None:
        rows = rows.filter(conversation_id__in=conversation_ids)
    for row in rows.values_list(*FIELDS).iterator(chunk_size=STREAM_CHUNK):
        try:
            yield open_entry(row)
        except (DecryptionError, ValueError, KeyError) as error:
            yield Unopenable(conversation_id=row[2], position=row[3], reason=str(error))


def entries_in_chain_order_of_type(event_type: str) -> Iterator[OpenedEntry]:
    rows = ArchiveEntry.objects.filter(event_type=event_type).order_by("conversation_id", "position")
    for row in rows.values_list(*FIELDS).iterator(chunk_size=STREAM_CHUNK):
        yield open_entry(row)


def open_entry(row: tuple) -> OpenedEntry:
    pk, uid, conversation_id, position, event_type, actor_id, occurred_at, participants, message_id = row[:9]
    sealed, prev_hash, digest = row[9:]
    payload = json.loads(unseal_text(_sealed_bytes(sealed), context=field_context(ArchiveEntry, "payload", uid)))
    return OpenedEntry(
        pk=pk,
        conversation_id=conversation_id,
        position=position,
        event_type=event_type,
        actor_id=actor_id,
        occurred_at=occurred_at,
        participants=participants,
        message_id=message_id,
        content=payload["content"],
        salt=payload["salt"],
        prev_hash=prev_hash,
        entry_hash=digest,
    )


def _sealed_bytes(value: Sealed | bytes | memoryview) -> bytes:
    return value.data if isinstance(value, Sealed) else bytes(value)


def shared_file_of(entry: ArchiveEntry) -> Attachment | None:
    """The stored file a "file shared" entry records, while the archive still keeps it."""
    uid = json.loads(entry.payload)["content"].get("file", {}).get("uid")
    return Attachment.objects.filter(uid=uid, conversation_id=entry.conversation_id).first() if uid else None
