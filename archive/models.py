"""The compliance archive: one append-only, hash-chained entry per communication event (docs/compliance.md)."""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.conf import settings
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
    MEMBER_ROLE_CHANGED = "member_role_changed"
    REACTION_ADDED = "reaction_added"
    REACTION_REMOVED = "reaction_removed"
    ROOM_CREATED = "room_created"
    ROOM_RENAMED = "room_renamed"
    ROOM_ARCHIVED = "room_archived"
    # Calls (calls.services): who called, who joined and left, screen sharing, how long. Never the media.
    CALL_STARTED = "call_started"
    CALL_JOINED = "call_joined"
    CALL_LEFT = "call_left"
    CALL_DECLINED = "call_declined"
    CALL_SCREEN_SHARED = "call_screen_shared"
    CALL_ENDED = "call_ended"
    # Games (games.services): challenges, moves, results.
    GAME_CHALLENGED = "game_challenged"
    GAME_ACCEPTED = "game_accepted"
    GAME_DECLINED = "game_declined"
    GAME_MOVE = "game_move"
    GAME_DRAW_OFFERED = "game_draw_offered"
    GAME_ENDED = "game_ended"
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
    # The position the latest checkpoint sealed; chains ahead of it go into the next checkpoint.
    sealed_position = models.BigIntegerField(default=0)

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
    # On PostgreSQL core.key_rotation re-seals payloads through this function of the table's owner (compare-and-set
    # of the payload alone); the application role may not UPDATE the table (archive.db_roles).
    RESEAL_FUNCTION = "parley_archive_reseal"

    class Meta:
        verbose_name_plural = "archive entries"
        # Django's internal manager (related lookups, `_base_manager`) would be a plain one, skipping the guard.
        base_manager_name = "objects"
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


class ArchiveSearchToken(models.Model):
    """One distinct word of an archive entry, as its blind token (core.blind_index): what keyword search reads.

    The entry's time is copied here so that one btree index, (token, occurred_at, entry_id), which is also the
    primary key, answers "this word in this period" by an index range scan without touching the entries. A
    plain entry id like the archive's own ids, not a foreign key: the retention purge removes the tokens of what
    it purges (archive.retention, and the owner's purge function on PostgreSQL), nothing cascades.
    """

    pk = models.CompositePrimaryKey("token", "occurred_at", "entry_id")
    token = models.BinaryField(max_length=16)
    occurred_at = models.DateTimeField()
    entry_id = models.BigIntegerField()

    class Meta:
        # The rebuild after a key rotation and the purge find an entry's tokens by its id.
        indexes = [models.Index(fields=["entry_id"], name="archive_search_token_entry")]

    def __str__(self) -> str:
        return f"search token of entry {self.entry_id}"


# On PostgreSQL the retention purge deletes through this function of the table's owner (migration 0005), which
# checks the range again; the application role may not DELETE.
PURGE_FUNCTION = "parley_archive_purge"
ENTRY_TABLE = "archive_archiveentry"


class RetentionPolicy(models.Model):
    """How long the archive keeps entries, for everything (default), one room, or one user group.

    Several may apply to an entry (its room's, its participants' groups', the default); the longest wins.
    A room may also set a shorter live-chat retention: messages leave the chat after `live_days` but stay in
    the archive for the archive's period.
    """

    class Scope(models.TextChoices):
        DEFAULT = "default"
        ROOM = "room"
        GROUP = "group"

    name = models.CharField(max_length=100, unique=True)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    room = models.OneToOneField(
        "messenger.Conversation", null=True, blank=True, on_delete=models.CASCADE, related_name="retention_policy"
    )
    group = models.OneToOneField(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="retention_policy"
    )
    archive_days = models.PositiveIntegerField(help_text="Days archive entries are kept.")
    live_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Rooms only: days messages stay visible in the chat."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope"], condition=models.Q(scope="default"), name="one_default_retention_policy"
            ),
            models.CheckConstraint(
                condition=models.Q(scope="default", room__isnull=True, group__isnull=True)
                | models.Q(scope="room", room__isnull=False, group__isnull=True)
                | models.Q(scope="group", room__isnull=True, group__isnull=False),
                name="retention_policy_scope_shape",
            ),
            models.CheckConstraint(
                condition=models.Q(live_days__isnull=True) | models.Q(live_days__lte=models.F("archive_days")),
                name="live_retention_within_archive_retention",
            ),
        ]
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"{self.name} ({self.archive_days} days)"


class LegalHold(models.Model):
    """While open, nothing it covers is purged: entries of its users or rooms, within its date range.

    A hold naming neither users nor rooms covers every entry in its date range.
    """

    case_name = models.CharField(max_length=200)
    reason = models.TextField()
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="legal_holds")
    rooms = models.ManyToManyField("messenger.Conversation", blank=True, related_name="legal_holds")
    starts_at = models.DateTimeField(null=True, blank=True, help_text="Empty: from the beginning.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until released.")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.case_name} ({'released' if self.released_at else 'open'})"

    @property
    def is_open(self) -> bool:
        return self.released_at is None


class ArchiveCheckpoint(models.Model):
    """A signed seal over the chain heads that moved since the previous checkpoint.

    `document` is the canonical JSON that was signed (Ed25519); it names the previous checkpoint's hash, so
    checkpoints form a chain of their own and a forged or removed one is found.
    """

    created_at = models.DateTimeField()
    reason = models.CharField(max_length=40)
    document = models.TextField()
    document_hash = models.CharField(max_length=64, unique=True)
    public_key = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"checkpoint {self.pk} ({self.reason}, {self.created_at:%Y-%m-%d %H:%M})"


class AuditReceipt(models.Model):
    """A receipt for every audit-log row ever inserted, written by a PostgreSQL trigger (migration 0005), never
    by the application.

    An audit-log row deleted before a checkpoint sealed it leaves its receipt behind: the checkpoint names it
    (archive.checkpoints), so such a deletion is found like one after sealing (which changes the digest).
    """

    log_id = models.BigIntegerField(primary_key=True)
    written_at = models.DateTimeField()

    class Meta:
        ordering = ["log_id"]

    def __str__(self) -> str:
        return f"receipt of audit-log row {self.log_id}"


# Supervision (FINRA 3110), matters (saved searches, tags, one-step holds) and exports (archive.export_jobs,
# archive.scheduled_exports) have modules of their own; importing them here makes their models the archive app's.
from archive.export_models import ExportJob, ScheduledExportRun  # noqa: E402, F401
from archive.matters_models import Matter, MatterTag  # noqa: E402, F401
from archive.supervision_models import (  # noqa: E402, F401
    Lexicon,
    SamplingRule,
    SupervisionCursor,
    SupervisionDecision,
    SupervisionItem,
)
