"""The archive's blind index: the tokens of each entry's words (core.blind_index), written with the entry, removed
with it by the retention purge, rebuilt under the primary key after a key rotation. docs/security.md, "The
search index"."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from archive.models import ArchiveEntry, ArchiveSearchToken, EventType
from core import blind_index
from core.crypto import KeyRing, configured_key_ring

# Content keys that are not what anyone said: who (sealed names), and a file's hash, id and storage path (a hash
# as a token would link every copy of one file across the archive, and nobody searches for it).
NOT_TEXT_KEYS = frozenset({"people", "uid", "sha256", "stored_as"})


def content_text(content: Any) -> str:
    """Every piece of text in an entry's content (message bodies, edits' old and new text, file and room names),
    for matching words; ids, numbers, hashes and the sealed names of people are left out."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return "\n".join(content_text(value) for key, value in content.items() if key not in NOT_TEXT_KEYS)
    if isinstance(content, list):
        return "\n".join(content_text(value) for value in content)
    return ""


def searchable_text(*, event_type: str, content: Any) -> str:
    """What the index holds of an entry: its text, except a purge record's (hashes and positions, said by no one)."""
    return "" if event_type == EventType.PURGE else content_text(content)


def entry_tokens(
    *, entry_id: int, occurred_at: datetime, event_type: str, content: Any, ring: KeyRing | None = None
) -> list[ArchiveSearchToken]:
    """The token rows of one entry, one per distinct word, under the ring's primary key (not saved)."""
    text = searchable_text(event_type=event_type, content=content)
    return [
        ArchiveSearchToken(token=token, occurred_at=occurred_at, entry_id=entry_id)
        for token in sorted(blind_index.text_tokens(text, ring=ring))
    ]


def entry_index(*, entry: ArchiveEntry, content: Any) -> int:
    """Index one new entry: one bulk INSERT of its distinct tokens, in the caller's transaction (archive_record),
    so an entry is never without its tokens. No query for an entry without words (a reaction, a purge record)."""
    rows = entry_tokens(entry_id=entry.pk, occurred_at=entry.occurred_at, event_type=entry.event_type, content=content)
    if rows:
        ArchiveSearchToken.objects.bulk_create(rows)
    return len(rows)


def entries_unindex(*, entry_ids: Collection[int] | QuerySet) -> int:
    """Remove the tokens of these entries (the purge on SQLite; PostgreSQL's purge function does it itself)."""
    return ArchiveSearchToken.objects.filter(entry_id__in=entry_ids).delete()[0]


def query_tokens(term_word: str, *, ring: KeyRing | None = None) -> list[bytes]:
    """The tokens one query word may be stored under: one per key in the ring. After a rotation, entries indexed
    before it keep their old key's tokens until `rebuild_search_index` re-tokenizes them, and the search must
    still find them (they stay reachable while their key is in the ring, as their payloads do)."""
    ring = ring or configured_key_ring()
    return [
        blind_index.token(term_word, ring=KeyRing(primary_id=key_id, keys={key_id: ring.keys[key_id]}))
        for key_id in ring.keys
    ]
