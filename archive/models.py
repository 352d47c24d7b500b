"""The compliance archive: one append-only, hash-chained entry per communication event (docs/compliance.md)."""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.db import models

from core.fields import EncryptedTextField

GENESIS_HASH = "0" * 64


class ArchiveImmutable(Exception):
    """Archive entries are never changed or removed, except by the retention purge."""


class EventType(models.TextChoices):
    MESSAGE_SENT = "message_sent"
    MESSAGE_EDITED = "message_edited"
    MESSAGE_DELETED = "message_deleted"
    FILE_SHARED = "file_shared"
    FILE_QUARANTINED = "file_quarantined"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"
    ROOM_CREATED = "room_created"
    ROOM_RENAMED = "room_renamed"
    ROOM_ARCHIVED = "room_archived"
    PURGE = "purge"


class ArchiveEntryQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise ArchiveImmutable("Archive entries cannot be updated.")

    def delete(self) -> NoReturn:
        raise ArchiveImmutable("Archive entries are removed only by the retention purge.")


class ArchiveChain(models.Model):
    """The head of one conversation's hash chain. Its row lock orders the conversation's archive writes."""

    conversation = models.OneToOneField(
        "messenger.Conversation", primary_key=True, on_delete=models.PROTECT, related_name="archive_chain"
    )
    position = models.BigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"chain of conversation {self.conversation_id} at {self.position}"


class ArchiveEntry(models.Model):
    """One event. `entry_hash` is SHA-256 over the canonical event (archive.chain) including `prev_hash`."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Plain ids, not foreign keys: the archive outlives what it describes, and must never cascade.
    conversation_id = models.BigIntegerField()
    position = models.BigIntegerField()
    event_type = models.CharField(max_length=24, choices=EventType.choices)
    actor_id = models.BigIntegerField(null=True)
    occurred_at = models.DateTimeField()
    participants = models.JSONField(default=list)
    message_id = models.BigIntegerField(null=True)
    # {"content": {...}, "salt": "<hex>"}: what was said, sealed. The salt keeps a database thief from
    # confirming guesses about content against the clear-text hash.
    payload = EncryptedTextField()
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    objects = ArchiveEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "archive entries"
        constraints = [models.UniqueConstraint(fields=["conversation_id", "position"], name="archive_position_unique")]
        indexes = [
            models.Index(fields=["occurred_at"]),
            models.Index(fields=["message_id"]),
            models.Index(fields=["actor_id", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.position} of conversation {self.conversation_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ArchiveImmutable("Archive entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ArchiveImmutable("Archive entries are removed only by the retention purge.")


# The setting the PostgreSQL trigger reads; only archive.retention sets it, transaction-locally.
PURGE_SETTING = "parley.archive_purge"
REKEY_SETTING = "parley.archive_rekey"
ENTRY_TABLE = "archive_archiveentry"
