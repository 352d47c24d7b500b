"""Signed checkpoints: periodically (and at every export) seal the chain heads that moved, with Ed25519.

A checkpoint's document names the previous checkpoint's hash, every chain head that moved since then, and a
digest of the audit log (django-auditlog) rows written since then. An auditor holding the public key can
check that nothing sealed was altered later, even by someone who can recompute SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from archive import signing
from archive.models import GENESIS_HASH, ArchiveChain, ArchiveCheckpoint, ArchiveEntry
from core.sealed_audit import additional_data_opened, changes_as_written

FORMAT_VERSION = 1
HEAD_BATCH = 500


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# The audit-log columns a checkpoint's digest covers, by version. Version 1 left out object_id, object_repr,
# serialized_data, changes_text, actor_email, cid, remote_addr, remote_port and additional_data, so an edited
# search or export record (its criteria, the conversations it listed) still verified; version 2, written since,
# covers every column. Fixed lists, not the model's fields: an auditlog upgrade adding a column must not change
# the digest of rows sealed before it. A checkpoint names its version; one without is version 1.
AUDITLOG_DIGEST_FIELDS = {
    1: ("pk", "content_type_id", "object_pk", "action", "changes", "actor_id", "timestamp"),
    2: (
        "pk",
        "content_type_id",
        "object_pk",
        "object_id",
        "object_repr",
        "serialized_data",
        "action",
        "changes_text",
        "changes",
        "actor_id",
        "actor_email",
        "cid",
        "remote_addr",
        "remote_port",
        "timestamp",
        "additional_data",
    ),
}
AUDITLOG_DIGEST_VERSION = 2


def auditlog_digest(*, after_id: int, up_to_id: int, version: int = AUDITLOG_DIGEST_VERSION) -> str:
    """SHA-256 over the audit-log rows in (after_id, up_to_id], in id order: who changed what, when, from where."""
    digest = hashlib.sha256()
    if apps.is_installed("auditlog"):
        LogEntry = apps.get_model("auditlog", "LogEntry")
        fields = AUDITLOG_DIGEST_FIELDS[version]
        rows = LogEntry.objects.filter(pk__gt=after_id, pk__lte=up_to_id).order_by("pk").values_list(*fields)
        for row in rows.iterator(chunk_size=2000):
            values = dict(zip(fields, row, strict=True))
            values["changes"] = changes_as_written(values["changes"], log_id=values["pk"])  # as written
            if version == 1:
                digest.update(_canonical({"row": [str(values[name]) for name in fields]}) + b"\n")
                continue
            values["additional_data"] = additional_data_opened(values["additional_data"], log_id=values["pk"])
            digest.update(_canonical({"row": [_digested(values[name]) for name in fields]}) + b"\n")
    return digest.hexdigest()


def _digested(value: Any) -> str | None:
    """One column as version 2 digests it: JSON values canonically (key order as the database returns it
    varies), the rest as text."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return _canonical(value).decode()
    return str(value)


def _auditlog_last_id() -> int:
    if not apps.is_installed("auditlog"):
        return 0
    LogEntry = apps.get_model("auditlog", "LogEntry")
    return LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


# Any fixed number: the key of the transaction-level advisory lock that orders checkpoint writers.
CHECKPOINT_LOCK_KEY = 0x5041524C4559  # "PARLEY"


def _take_turns_making_checkpoints() -> None:
    """Two checkpoints made at once would both name the same previous one. Writers take turns on an advisory lock
    held until commit: SELECT ... FOR UPDATE of the latest checkpoint would need UPDATE on the table, which the
    application role does not have (archive.db_roles). SQLite serializes writers anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHECKPOINT_LOCK_KEY])


def archive_checkpoint_create(*, reason: str) -> ArchiveCheckpoint:
    """Seal every chain head that moved since the last checkpoint. Cheap when little happened."""
    with transaction.atomic():
        _take_turns_making_checkpoints()
        previous = ArchiveCheckpoint.objects.order_by("-pk").first()
        previous_document = json.loads(previous.document) if previous else {}
        moved = list(
            ArchiveChain.objects.filter(position__gt=F("sealed_position"))
            .order_by("conversation_id")
            .values_list("conversation_id", "position", "head_hash")
        )
        auditlog_after = previous_document.get("auditlog", {}).get("last_id", 0)
        auditlog_last = _auditlog_last_id()
        now = timezone.now()
        document = _canonical(
            {
                "v": FORMAT_VERSION,
                "prev": previous.document_hash if previous else GENESIS_HASH,
                "created_at": now.isoformat(timespec="microseconds"),
                "reason": reason,
                "heads": [list(head) for head in moved],
                "auditlog": {
                    "after_id": auditlog_after,
                    "last_id": auditlog_last,
                    "digest": auditlog_digest(
                        after_id=auditlog_after, up_to_id=auditlog_last, version=AUDITLOG_DIGEST_VERSION
                    ),
                    "digest_version": AUDITLOG_DIGEST_VERSION,
                },
            }
        )
        checkpoint = ArchiveCheckpoint.objects.create(
            created_at=now,
            reason=reason,
            document=document.decode(),
            document_hash=hashlib.sha256(document).hexdigest(),
            public_key=signing.public_key_hex(),
            signature=signing.sign(document),
        )
        for conversation_id, position, _ in moved:
            ArchiveChain.objects.filter(pk=conversation_id).update(sealed_position=position)
    return checkpoint


@dataclass(frozen=True)
class CheckpointProblem:
    checkpoint_id: int
    detail: str

    def __str__(self) -> str:
        return f"checkpoint {self.checkpoint_id}: {self.detail}"


def checkpoints_verify(
    *, first_positions: dict[int, int], purged_ranges: dict[int, list[tuple[int, int]]] | None = None
) -> Iterator[CheckpointProblem]:
    """Check each checkpoint's hash, signature, place in the checkpoint chain, sealed heads and audit log.

    `first_positions` is each chain's first remaining position: heads below it were purged under retention.
    `purged_ranges` are later cuts (after a purge record that stays) that a purge record vouched for.
    """
    purged_ranges = purged_ranges or {}
    trusted = signing.trusted_public_keys()
    previous_hash = GENESIS_HASH
    for checkpoint in ArchiveCheckpoint.objects.order_by("pk").iterator(chunk_size=100):
        document = checkpoint.document.encode()
        if hashlib.sha256(document).hexdigest() != checkpoint.document_hash:
            yield CheckpointProblem(checkpoint.pk, "its document does not match its hash")
        elif checkpoint.public_key not in trusted:
            yield CheckpointProblem(checkpoint.pk, "signed by a key that is not trusted")
        elif not signing.signature_is_valid(
            public_key=checkpoint.public_key, document=document, signature=checkpoint.signature
        ):
            yield CheckpointProblem(checkpoint.pk, "its signature is not valid")
        else:
            content = json.loads(document)
            if content["prev"] != previous_hash:
                yield CheckpointProblem(checkpoint.pk, "it does not follow the checkpoint before it")
            yield from _sealed_heads_problems(checkpoint.pk, content["heads"], first_positions, purged_ranges)
            audit = content["auditlog"]
            version = audit.get("digest_version", 1)
            if (
                auditlog_digest(after_id=audit["after_id"], up_to_id=audit["last_id"], version=version)
                != audit["digest"]
            ):
                yield CheckpointProblem(checkpoint.pk, "the audit log it sealed was changed")
        previous_hash = checkpoint.document_hash


def _sealed_heads_problems(
    checkpoint_id: int,
    heads: list[list],
    first_positions: dict[int, int],
    purged_ranges: dict[int, list[tuple[int, int]]],
) -> Iterator[CheckpointProblem]:
    live = [
        head
        for head in heads
        if head[1] >= first_positions.get(head[0], 1)
        and not any(low <= head[1] <= high for low, high in purged_ranges.get(head[0], ()))
    ]
    for start in range(0, len(live), HEAD_BATCH):
        batch = live[start : start + HEAD_BATCH]
        wanted = Q()
        for conversation_id, position, _ in batch:
            wanted |= Q(conversation_id=conversation_id, position=position)
        found = {
            (conversation_id, position): digest
            for conversation_id, position, digest in ArchiveEntry.objects.filter(wanted).values_list(
                "conversation_id", "position", "entry_hash"
            )
        }
        for conversation_id, position, digest in batch:
            if found.get((conversation_id, position)) != digest:
                yield CheckpointProblem(
                    checkpoint_id,
                    f"sealed conversation {conversation_id} at position {position}, which no longer matches",
                )
