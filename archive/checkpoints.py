"""Signed checkpoints: periodically (and at every export) seal the chain heads that moved, with Ed25519.

A checkpoint's document names the previous checkpoint's hash, every chain head that moved since then, and a
digest of the audit log (django-auditlog) rows written since then, with a count of their receipts (written by a
trigger for every row inserted, archive.models.AuditReceipt) and the ids of rows whose receipt remains but whose
row is gone. An auditor holding the public key can check that nothing sealed was altered later, even by
someone who can recompute SHA-256 hashes; once committed, the checkpoint is also written outside the database
(archive.outside), so deleting or rewinding what it sealed is found too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from archive import outside, signing
from archive.models import GENESIS_HASH, ArchiveChain, ArchiveCheckpoint, ArchiveEntry, AuditReceipt
from core.sealed_audit import additional_data_opened, changes_as_written

FORMAT_VERSION = 1
HEAD_BATCH = 500
# A checkpoint names at most this many deleted audit-log rows; its counts say how many there were in all.
MISSING_NAMED = 1000


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
    """The highest audit-log id written: of a row, or of a receipt whose row was deleted (the receipt stays)."""
    if not apps.is_installed("auditlog"):
        return 0
    LogEntry = apps.get_model("auditlog", "LogEntry")
    last_row = LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    last_receipt = AuditReceipt.objects.order_by("-log_id").values_list("log_id", flat=True).first() or 0
    return max(last_row, last_receipt)


def auditlog_receipts(*, after_id: int, up_to_id: int | None = None) -> dict[str, Any]:
    """How many audit-log rows in (after_id, up_to_id] have a receipt, how many rows are there, and the ids of
    (at most MISSING_NAMED) receipts whose row is gone: rows deleted since they were written."""
    if not apps.is_installed("auditlog"):
        return {"receipts": 0, "rows": 0, "missing": []}
    LogEntry = apps.get_model("auditlog", "LogEntry")
    receipts = AuditReceipt.objects.filter(log_id__gt=after_id)
    rows = LogEntry.objects.filter(pk__gt=after_id)
    if up_to_id is not None:
        receipts, rows = receipts.filter(log_id__lte=up_to_id), rows.filter(pk__lte=up_to_id)
    missing = receipts.filter(~Exists(LogEntry.objects.filter(pk=OuterRef("log_id")))).values_list("log_id", flat=True)
    return {"receipts": receipts.count(), "rows": rows.count(), "missing": list(missing[:MISSING_NAMED])}


def _hold_audit_log() -> None:
    """Wait for every audit-log insert in flight to commit or roll back, and hold new ones off until this
    transaction ends (PostgreSQL; see archive_checkpoint_create)."""
    if connection.vendor == "postgresql" and apps.is_installed("auditlog"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT parley_audit_log_hold_for_checkpoint()")


def archive_checkpoint_create(*, reason: str) -> ArchiveCheckpoint:
    """Seal every chain head that moved since the last checkpoint, and the audit-log rows written since. Cheap
    when little happened. Once the transaction commits, the checkpoint is also written outside the database.

    Audit-log rows are sealed by id range (after_id, last_id], and ids are handed out at INSERT, not COMMIT: a
    row given id N whose transaction commits after a checkpoint sealed N+1 would change that checkpoint's digest
    when it appears, a false alarm that never clears. So on PostgreSQL the first statement locks the audit log
    in SHARE ROW EXCLUSIVE mode (migration 0005's function; the application role may not LOCK the table itself):
    it waits for every transaction that has inserted a row to end, and holds new inserts off for the few
    milliseconds the checkpoint takes, so every id up to last_id is final when sealed. SHARE mode would do that
    too; SHARE ROW EXCLUSIVE also conflicts with itself, so two checkpoints take turns and the second sees the
    first (with SHARE both would pass, and both could name the same previous checkpoint: a fork). That is also
    why the latest checkpoint is read without FOR UPDATE, which the application role could not take anyway (it
    has no UPDATE on checkpoints: archive.db_roles). SQLite has one writer at a time, so no insert is in flight
    there.

    Lock order: the audit-log lock comes first, before any row lock; no caller (export, the hourly job, the
    command) opens the checkpoint inside a transaction of its own. Writers lock chain rows and insert audit rows
    in either order (a room rename saves the room, logged, and archives it), so the checkpoint must not wait for
    a chain row while it holds the audit log: it locks the chains it seals with SKIP LOCKED. A chain a writer
    holds right now is left for the next checkpoint, which is what would happen had the write come a moment
    later.
    """
    with transaction.atomic():
        _hold_audit_log()  # also the turn: two checkpoints never run at once (see above)
        previous = ArchiveCheckpoint.objects.order_by("-pk").first()
        previous_document = json.loads(previous.document) if previous else {}
        moved = list(
            ArchiveChain.objects.select_for_update(skip_locked=True)
            .filter(position__gt=F("sealed_position"))
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
                    # Added later, compatibly: a document without them was written before receipts existed.
                    **auditlog_receipts(after_id=auditlog_after, up_to_id=auditlog_last),
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
        transaction.on_commit(lambda: outside.checkpoint_copy_write(checkpoint))
    return checkpoint


@dataclass(frozen=True)
class CheckpointProblem:
    checkpoint_id: int | None
    detail: str
    conversation_id: int | None = None
    position: int | None = None
    # checkpoint; rewound (a chain head behind what an outside copy sealed); audit_log (rows deleted after the
    # last checkpoint); not_copied_outside, the one warning: nothing is wrong in the database, but until the
    # copy is written nothing outside vouches for that checkpoint.
    kind: str = "checkpoint"

    @property
    def is_warning(self) -> bool:
        return self.kind == "not_copied_outside"

    def __str__(self) -> str:
        return f"checkpoint {self.checkpoint_id}: {self.detail}" if self.checkpoint_id is not None else self.detail


def _seal_problem(*, document: bytes, document_hash: str, public_key: str, signature: str, trusted: set[str]) -> str:
    """What is wrong with a checkpoint's seal (its hash, key or signature), or "" when nothing is."""
    if hashlib.sha256(document).hexdigest() != document_hash:
        return "its document does not match its hash"
    if public_key not in trusted:
        return "signed by a key that is not trusted"
    if not signing.signature_is_valid(public_key=public_key, document=document, signature=signature):
        return "its signature is not valid"
    return ""


def checkpoints_verify(
    *, first_positions: dict[int, int], purged_ranges: dict[int, list[tuple[int, int]]] | None = None
) -> Iterator[CheckpointProblem]:
    """Check each checkpoint's hash, signature, place in the checkpoint chain, sealed heads and audit log, and
    that no audit-log row written since the last one was deleted.

    `first_positions` is each chain's first remaining position: heads below it were purged under retention.
    `purged_ranges` are later cuts (after a purge record that stays) that a purge record vouched for.
    """
    purged_ranges = purged_ranges or {}
    trusted = signing.trusted_public_keys()
    previous_hash = GENESIS_HASH
    audit_sealed_up_to = 0
    for checkpoint in ArchiveCheckpoint.objects.order_by("pk").iterator(chunk_size=100):
        document = checkpoint.document.encode()
        seal_problem = _seal_problem(
            document=document,
            document_hash=checkpoint.document_hash,
            public_key=checkpoint.public_key,
            signature=checkpoint.signature,
            trusted=trusted,
        )
        if seal_problem:
            yield CheckpointProblem(checkpoint.pk, seal_problem)
        else:
            content = json.loads(document)
            if content["prev"] != previous_hash:
                yield CheckpointProblem(checkpoint.pk, "it does not follow the checkpoint before it")
            yield from _sealed_content_problems(checkpoint.pk, content, first_positions, purged_ranges)
            audit_sealed_up_to = content["auditlog"]["last_id"]
        previous_hash = checkpoint.document_hash
    missing = auditlog_receipts(after_id=audit_sealed_up_to)["missing"]
    if missing:
        yield CheckpointProblem(
            None,
            f"audit-log rows {_ids(missing)} were deleted after the last checkpoint (their receipts remain)",
            kind="audit_log",
        )


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(log_id) for log_id in ids[:20])
    return shown + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")


def _sealed_content_problems(
    checkpoint_id: int, content: dict[str, Any], first_positions: dict[int, int], purged_ranges: dict
) -> Iterator[CheckpointProblem]:
    """What no longer matches a (validly signed) checkpoint document: its heads and its audit-log section."""
    yield from _sealed_heads_problems(checkpoint_id, content["heads"], first_positions, purged_ranges)
    audit = content["auditlog"]
    version = audit.get("digest_version", 1)
    if auditlog_digest(after_id=audit["after_id"], up_to_id=audit["last_id"], version=version) != audit["digest"]:
        yield CheckpointProblem(checkpoint_id, "the audit log it sealed was changed")
    if "receipts" not in audit:  # sealed before receipts were counted
        return
    if audit["missing"]:
        yield CheckpointProblem(
            checkpoint_id,
            f"audit-log rows {_ids(audit['missing'])} were deleted before it sealed them (their receipts remain)",
        )
    receipts_now = auditlog_receipts(after_id=audit["after_id"], up_to_id=audit["last_id"])["receipts"]
    if receipts_now != audit["receipts"]:
        yield CheckpointProblem(
            checkpoint_id,
            f"it counted {audit['receipts']} audit-log receipts; {receipts_now} are left (receipts were changed)",
        )


def outside_copies_verify(
    *,
    directory: Path,
    first_positions: dict[int, int],
    purged_ranges: dict[int, list[tuple[int, int]]] | None = None,
) -> Iterator[CheckpointProblem]:
    """Check the database against the checkpoints' outside copies (archive.outside) in `directory`.

    Every copy must be validly signed, follow the copy before it, and be in the database unchanged; what a copy
    whose row was deleted or changed sealed is checked from the copy (heads present unless a purge record
    vouches for the cut, audit log unchanged); no chain head may be behind, or differ from, the furthest
    position a copy sealed. Database checkpoints without a copy are warnings (kind not_copied_outside).
    """
    purged_ranges = purged_ranges or {}
    trusted = signing.trusted_public_keys()
    paths = outside.copy_paths(directory)
    copied = {checkpoint_id for checkpoint_id, _ in paths}
    uncopied: dict[str, int] = {}  # document hash -> id, of checkpoints in the database without a copy
    for checkpoint_id, document_hash in ArchiveCheckpoint.objects.order_by("pk").values_list("pk", "document_hash"):
        if checkpoint_id not in copied:
            uncopied[document_hash] = checkpoint_id
    furthest: dict[int, tuple[int, str, int]] = {}  # conversation -> (position, hash, checkpoint id) sealed last
    previous: outside.OutsideCopy | None = None
    for start in range(0, len(paths), 100):
        batch = paths[start : start + 100]
        rows = {
            row[0]: row[1:]
            for row in ArchiveCheckpoint.objects.filter(
                pk__in=[checkpoint_id for checkpoint_id, _ in batch]
            ).values_list("pk", "document", "document_hash", "public_key", "signature")
        }
        for checkpoint_id, path in batch:
            copy = outside.copy_read(checkpoint_id, path)
            if isinstance(copy, str):
                yield CheckpointProblem(checkpoint_id, f"its outside copy is damaged: {copy}")
                continue
            seal = (copy.document, copy.document_hash, copy.public_key, copy.signature)
            seal_problem = _seal_problem(
                document=copy.document.encode(),
                document_hash=copy.document_hash,
                public_key=copy.public_key,
                signature=copy.signature,
                trusted=trusted,
            )
            if seal_problem:
                yield CheckpointProblem(checkpoint_id, f"its outside copy: {seal_problem}")
                continue
            content = json.loads(copy.document)
            expected_prev = previous.document_hash if previous else GENESIS_HASH
            if content["prev"] != expected_prev and content["prev"] not in uncopied:
                yield CheckpointProblem(
                    checkpoint_id,
                    "its outside copy follows a checkpoint that is neither the outside copy before it nor in the "
                    "database",
                )
            row = rows.get(checkpoint_id)
            if row is None:
                yield CheckpointProblem(
                    checkpoint_id, f"deleted from the database (its outside copy {path.name} remains)"
                )
            elif tuple(row) != seal:
                yield CheckpointProblem(checkpoint_id, "the database's checkpoint differs from its outside copy")
            if row is None or tuple(row) != seal:
                # checkpoints_verify checked what the database's row sealed; check what was really sealed.
                yield from _sealed_content_problems(checkpoint_id, content, first_positions, purged_ranges)
            for conversation_id, position, digest in content["heads"]:
                if position >= furthest.get(conversation_id, (0, "", 0))[0]:
                    furthest[conversation_id] = (position, digest, checkpoint_id)
            previous = copy
    yield from _rewound_heads(furthest)
    yield from _not_copied(copied)


def _rewound_heads(furthest: dict[int, tuple[int, str, int]]) -> Iterator[CheckpointProblem]:
    """A chain head only ever moves forward (retention purges a chain's start, never its head): one behind a
    position a checkpoint sealed, or at it with another hash, was moved back."""
    conversation_ids = sorted(furthest)
    for start in range(0, len(conversation_ids), HEAD_BATCH):
        batch = conversation_ids[start : start + HEAD_BATCH]
        heads = {
            conversation_id: (position, head_hash)
            for conversation_id, position, head_hash in ArchiveChain.objects.filter(pk__in=batch).values_list(
                "conversation_id", "position", "head_hash"
            )
        }
        for conversation_id in batch:
            position, digest, checkpoint_id = furthest[conversation_id]
            head = heads.get(conversation_id)
            if head is None:
                detail = f"sealed conversation {conversation_id} at position {position}; its chain head is gone"
            elif head[0] < position:
                detail = (
                    f"sealed conversation {conversation_id} at position {position}; its chain head was moved back "
                    f"to position {head[0]}"
                )
            elif head[0] == position and head[1] != digest:
                detail = (
                    f"sealed conversation {conversation_id} at position {position}; the chain head there has "
                    "another hash"
                )
            else:
                continue
            yield CheckpointProblem(checkpoint_id, detail, conversation_id, position, kind="rewound")


def _not_copied(copied: set[int]) -> Iterator[CheckpointProblem]:
    """One warning per run of database checkpoints with no outside copy."""
    run: list[int] = []
    for checkpoint_id in ArchiveCheckpoint.objects.order_by("pk").values_list("pk", flat=True).iterator():
        if checkpoint_id not in copied:
            run.append(checkpoint_id)
            continue
        if run:
            yield _not_copied_warning(run)
            run = []
    if run:
        yield _not_copied_warning(run)


def _not_copied_warning(run: list[int]) -> CheckpointProblem:
    which = f"checkpoint {run[0]} is" if len(run) == 1 else f"checkpoints {run[0]}..{run[-1]} ({len(run)}) are"
    return CheckpointProblem(
        None,
        f"{which} not copied outside: nothing outside the database vouches for what they sealed yet "
        "(run `manage.py archive_checkpoint --copy-missing`)",
        kind="not_copied_outside",
    )


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
                    conversation_id,
                    position,
                )
