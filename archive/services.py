"""Writing to the archive. Every communication event calls `archive_record` inside the transaction that makes
the event, so an event without its entry (or an entry without its event) cannot exist."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from accounts.models import User
from archive.chain import canonical_event, entry_hash
from archive.models import ArchiveChain, ArchiveEntry, ArchiveSearchToken, EventType
from archive.search_index import entry_index, entry_tokens
from archive.selectors import FIELDS, OpenedEntry, opened_or_unopenable
from core.counters import counter_advance
from core.crypto import KeyRing, configured_key_ring
from core.sealed_audit import SEARCH_WORDS_PURPOSE, sealed_json_value


def archive_record(
    *,
    event_type: str,
    conversation_id: int,
    actor_id: int | None,
    participants: list[int],
    content: dict[str, Any],
    message_id: int | None = None,
    actor: User | None = None,
) -> ArchiveEntry:
    """Append one event to its conversation's chain. Must run inside the event's own transaction.

    Who the event's actor, and anyone a membership change names, was at that moment (username, display name,
    e-mail) is sealed into the content under "people": accounts are renamed, and an export must show the name a
    message was sent under. Participants are named by id only: each was sealed when they joined (a membership
    event) and whenever they act, so an entry does not grow with the room. `actor`, when the caller has the
    account loaded (the send path), saves the query.

    Its words go into the search index (archive.search_index) in the same transaction.

    Concurrency: advancing the chain is one UPDATE ... RETURNING on the conversation's ArchiveChain row
    (core.counters), whose row lock makes concurrent writers to one conversation take turns until commit, so
    positions are gap-free and each entry names the true previous hash. Conversations do not wait for each
    other.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("archive_record must run inside the transaction of the event it records")
    if event_type != EventType.PURGE:  # purge records are never purged: they keep no one's name or address
        content = {**content, "people": _identities(actor_id, content, actor=actor)}
    position, prev_hash = _advance_chain(conversation_id)
    occurred_at = timezone.now()
    salt = secrets.token_hex(16)
    canonical = canonical_event(
        conversation_id=conversation_id,
        position=position,
        prev_hash=prev_hash,
        event_type=event_type,
        actor_id=actor_id,
        occurred_at=occurred_at,
        participants=participants,
        message_id=message_id,
        content=content,
        salt=salt,
    )
    digest = entry_hash(canonical)
    entry = ArchiveEntry.objects.create(
        conversation_id=conversation_id,
        position=position,
        event_type=event_type,
        actor_id=actor_id,
        occurred_at=occurred_at,
        participants=sorted(participants),
        message_id=message_id,
        payload=json.dumps({"content": content, "salt": salt}, ensure_ascii=False),
        prev_hash=prev_hash,
        entry_hash=digest,
    )
    ArchiveChain.objects.filter(pk=conversation_id).update(head_hash=digest)
    entry_index(entry=entry, content=content)  # one INSERT more, in this transaction: never an entry unsearchable
    return entry


def archive_access_record(
    *, user: Any, action: str, details: dict[str, Any], target: models.Model | None = None
) -> None:
    """Record that someone looked into the archive (searched it, opened an entry, exported, downloaded a file).

    It goes to the audit log, whose rows every checkpoint seals (archive.checkpoints), so who saw what stays
    provable like the archive itself. The words of a search (`details["criteria"]["words"]`) are stored sealed,
    bound to their log row: what compliance looked for says as much as what it found.
    """
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    criteria = details.get("criteria")
    words = criteria.get("words") if isinstance(criteria, dict) else None
    if words:
        details = {**details, "criteria": {**criteria, "words": ""}}
    with transaction.atomic():  # the row, then its sealed words: never a row with the words in clear
        entry = LogEntry.objects.create(
            content_type=ContentType.objects.get_for_model(target or ArchiveEntry),
            object_pk=str(target.pk) if target else "",
            object_id=target.pk if target and isinstance(target.pk, int) else None,
            object_repr=str(target) if target else f"archive {action}",
            action=LogEntry.Action.ACCESS,
            actor=user,
            additional_data={"archive_access": action, **details},
        )
        if words:
            entry.additional_data["criteria"]["words"] = sealed_json_value(
                words, purpose=SEARCH_WORDS_PURPOSE, log_id=entry.pk
            )
            LogEntry.objects.filter(pk=entry.pk).update(additional_data=entry.additional_data)


def archive_chain_open(
    *, event_type: str, conversation_id: int, actor_id: int, participants: list[int], content: dict[str, Any]
) -> ArchiveEntry:
    """Give a new conversation its chain head and record the event that created it as the first entry, in the
    transaction that creates the conversation."""
    ArchiveChain.objects.create(conversation_id=conversation_id)
    return archive_record(
        event_type=event_type,
        conversation_id=conversation_id,
        actor_id=actor_id,
        participants=participants,
        content=content,
    )


# Content keys whose values name people by id (membership events, who took part in a call, who was called when
# busy), besides the actor and the participants.
PEOPLE_CONTENT_KEYS = ("added", "removed", "by", "member", "members", "called", "rung", "busy")


def _identities(
    actor_id: int | None, content: dict[str, Any], *, actor: User | None = None
) -> dict[str, dict[str, str]]:
    """{"<id>": {username, display_name, email}} of the actor and everyone a membership change names, in at most
    one query; an id whose account no longer exists is left out (the export then says it is unknown)."""
    named = {actor_id} if actor_id is not None else set()
    for key in PEOPLE_CONTENT_KEYS:
        value = content.get(key)
        named.update(person for person in (value if isinstance(value, list) else [value]) if isinstance(person, int))
    if actor is not None and actor.pk == actor_id and named == {actor_id}:
        rows = [(actor.pk, actor.username, actor.display_name, actor.email)]
    else:
        rows = User.objects.filter(pk__in=named).values_list("pk", "username", "display_name", "email")
    return {
        str(pk): {"username": username, "display_name": display_name, "email": email}
        for pk, username, display_name, email in rows
    }


def _advance_chain(conversation_id: int) -> tuple[int, str]:
    row = counter_advance(
        ArchiveChain, counter="position", key="conversation_id", value=conversation_id, returning=("head_hash",)
    )
    if row is None:
        raise RuntimeError(f"conversation {conversation_id} has no archive chain")
    return row


# ---- the search index ----------------------------------------------------------------------------------------

REBUILD_BATCH = 500


@dataclass
class RebuildProgress:
    """Where a rebuild is: the last entry id done (resume after it), and how many entries and tokens so far."""

    after_id: int = 0
    entries: int = 0
    tokens: int = 0


def search_index_rebuild(
    *, after_id: int = 0, batch_size: int = REBUILD_BATCH, ring: KeyRing | None = None
) -> Iterator[RebuildProgress]:
    """Re-tokenize every entry with an id above `after_id` under the ring's primary key (after a key rotation),
    yielding progress after each batch.

    Batches go by id, so memory stays constant and an interrupted rebuild resumes after the last id it reported.
    Each batch swaps its entries' tokens in one transaction, and the search looks under every key in the ring
    meanwhile, so it stays complete throughout. An entry that does not open keeps the tokens it had
    (verify_archive names it); one purged meanwhile gets none.
    """
    ring = ring or configured_key_ring()
    progress = RebuildProgress(after_id=after_id)
    while True:
        rows = list(
            ArchiveEntry.objects.filter(pk__gt=progress.after_id).order_by("pk").values_list(*FIELDS)[:batch_size]
        )
        if not rows:
            return
        opened = [entry for entry in map(opened_or_unopenable, rows) if isinstance(entry, OpenedEntry)]
        tokens = [
            token
            for entry in opened
            for token in entry_tokens(
                entry_id=entry.pk,
                occurred_at=entry.occurred_at,
                event_type=entry.event_type,
                content=entry.content,
                ring=ring,
            )
        ]
        with transaction.atomic():
            # A purge that removed some of these entries since they were read must not find their tokens back
            # after it: it holds its chain's row lock until it commits (archive.retention), so take the chains'
            # locks (in id order, as a deadlock-free habit), then keep only the entries that are still there.
            conversation_ids = sorted({entry.conversation_id for entry in opened})
            list(ArchiveChain.objects.select_for_update().filter(pk__in=conversation_ids).order_by("pk").values("pk"))
            ids = [entry.pk for entry in opened]
            still_there = set(ArchiveEntry.objects.filter(pk__in=ids).values_list("pk", flat=True))
            tokens = [token for token in tokens if token.entry_id in still_there]
            ArchiveSearchToken.objects.filter(entry_id__in=ids).delete()
            ArchiveSearchToken.objects.bulk_create(tokens, batch_size=5000)
        progress.after_id = rows[-1][0]
        progress.entries += len(rows)
        progress.tokens += len(tokens)
        yield progress
