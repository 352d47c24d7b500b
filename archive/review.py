"""The archive read by people: entries as a chat transcript, names as they were, events in words, search words
marked, and the checkpoint that vouches for what is shown (the review screen and the transcript view)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User
from archive.checkpoints import archive_checkpoint_create
from archive.formats import call_ended_text
from archive.models import ArchiveChain, ArchiveCheckpoint, EventType
from archive.search_index import content_text
from archive.selectors import FIELDS, OpenedEntry, Unopenable, entries_in_range, opened_or_unopenable
from archive.services import PEOPLE_CONTENT_KEYS
from core import blind_index
from messenger.models import Conversation

EVENT_NAMES = {
    EventType.MESSAGE_SENT: "message",
    EventType.MESSAGE_EDITED: "edited",
    EventType.MESSAGE_DELETED: "deleted",
    EventType.FILE_SHARED: "file shared",
    EventType.FILE_QUARANTINED: "file refused (virus)",
    EventType.MEMBER_ADDED: "member added",
    EventType.MEMBER_REMOVED: "member removed",
    EventType.MEMBER_ROLE_CHANGED: "role changed",
    EventType.REACTION_ADDED: "reaction added",
    EventType.REACTION_REMOVED: "reaction removed",
    EventType.ROOM_CREATED: "room created",
    EventType.ROOM_RENAMED: "room renamed",
    EventType.ROOM_ARCHIVED: "room archived",
    EventType.CALL_STARTED: "call started",
    EventType.CALL_JOINED: "joined the call",
    EventType.CALL_LEFT: "left the call",
    EventType.CALL_DECLINED: "declined the call",
    EventType.CALL_SCREEN_SHARED: "screen sharing",
    EventType.CALL_ENDED: "call ended",
    EventType.GAME_CHALLENGED: "game challenge",
    EventType.GAME_ACCEPTED: "game accepted",
    EventType.GAME_DECLINED: "game declined",
    EventType.GAME_MOVE: "game move",
    EventType.GAME_DRAW_OFFERED: "draw offered",
    EventType.GAME_ENDED: "game ended",
    EventType.PURGE: "purged (retention)",
}

# A transcript longer than this is cut, and says so: a narrower date range shows the rest.
TRANSCRIPT_LIMIT = 5000


def event_name(event_type: str) -> str:
    """The event as a reader says it ("edited", "file shared"), not its code."""
    return EVENT_NAMES.get(event_type, event_type.replace("_", " "))


def highlighted(text: str, words: str) -> SafeString:
    """`text`, escaped, with every word the search looked for (`words`, as core.blind_index reads a query: any
    case or accent, the words of phrases, not those after NOT) in <mark>."""
    wanted = _wanted_words(words)
    if not wanted:
        return escape(text)
    pieces, last = [], 0
    for match in blind_index.WORD_PATTERN.finditer(text):
        if blind_index.normalize_word(match.group()) in wanted:
            pieces.append(escape(text[last : match.start()]))
            pieces.append(f"<mark>{escape(match.group())}</mark>")
            last = match.end()
    pieces.append(escape(text[last:]))
    return mark_safe("".join(pieces))  # noqa: S308 every piece of the text is escaped above


def _wanted_words(words: str) -> frozenset[str]:
    try:
        query = blind_index.parse_query(words) if words.strip() else None
    except blind_index.QueryError:
        return frozenset()
    return frozenset(word for group in query.groups for term in group for word in term) if query else frozenset()


@dataclass
class Person:
    user_id: int | None
    username: str
    display_name: str

    def __str__(self) -> str:
        if self.display_name and self.display_name != self.username:
            return f"{self.display_name} ({self.username})"
        return self.username


@dataclass
class ReadableEntry:
    """One entry as the review screen and the transcript show it."""

    entry: OpenedEntry
    who: Person
    where: str
    event: str
    text: SafeString  # the message (or what the event says), words marked
    before: SafeString | None = None  # an edit's old text
    after: SafeString | None = None  # an edit's new text
    deleted: SafeString | None = None  # a deleted message's last text
    file_name: str | None = None
    file_entry_pk: int | None = None  # for the audit-logged download
    thread_root: int | None = None
    reply_to: int | None = None
    extra: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # a matter's tags on the entry, when shown for one


class _Names:
    """People as of an entry (its sealed "people"), else the account as it is now (one query for all)."""

    def __init__(self, entries: list[OpenedEntry], also: set[int]) -> None:
        wanted = set(also)
        for entry in entries:
            if entry.actor_id is not None:
                wanted.add(entry.actor_id)
            wanted.update(_named_in(entry.content))
        self.now = {
            pk: (username, display_name)
            for pk, username, display_name in User.objects.filter(pk__in=wanted).values_list(
                "pk", "username", "display_name"
            )
        }

    def person(self, user_id: int | None, entry: OpenedEntry | None = None) -> Person:
        if user_id is None:
            return Person(None, "Parley", "")
        sealed = (
            entry.content.get("people", {}).get(str(user_id)) if entry and isinstance(entry.content, dict) else None
        )
        if sealed:
            return Person(user_id, sealed.get("username") or f"user {user_id}", sealed.get("display_name") or "")
        username, display_name = self.now.get(user_id, (f"user {user_id}", ""))
        return Person(user_id, username, display_name)


def _named_in(content: Any) -> set[int]:
    named: set[int] = set()
    if isinstance(content, dict):
        for key in PEOPLE_CONTENT_KEYS:
            value = content.get(key)
            named.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int))
    return named


def readable_entries(entries: list[OpenedEntry], *, words: str = "") -> list[ReadableEntry]:
    """Entries for people: who by name as of the event, where by room name, the event in words, `words` marked.
    Two queries for any number of entries."""
    conversations = Conversation.objects.in_bulk({entry.conversation_id for entry in entries})
    direct = {
        person
        for entry in entries
        if not getattr(conversations.get(entry.conversation_id), "name", "")
        for person in entry.participants
    }
    names = _Names(entries, direct)
    return [_readable(entry, names, conversations.get(entry.conversation_id), words) for entry in entries]


def _readable(entry: OpenedEntry, names: _Names, conversation: Conversation | None, words: str) -> ReadableEntry:
    if conversation is not None and conversation.name:
        where = f"#{conversation.name}"
    else:
        where = "direct: " + ", ".join(sorted(names.person(pk, entry).username for pk in entry.participants))
    content = entry.content if isinstance(entry.content, dict) else {}
    row = ReadableEntry(
        entry=entry,
        who=names.person(entry.actor_id, entry),
        where=where,
        event=event_name(entry.event_type),
        text=highlighted(content_text({k: v for k, v in content.items() if k != "file"}), words),
        thread_root=content.get("thread_root"),
        reply_to=content.get("reply_to"),
    )
    kind = entry.event_type
    if kind == EventType.MESSAGE_SENT:
        row.text = highlighted(content.get("body", ""), words)
    elif kind == EventType.MESSAGE_EDITED:
        row.before = highlighted(content.get("old", ""), words)
        row.after = highlighted(content.get("new", ""), words)
        row.text = row.after
    elif kind == EventType.MESSAGE_DELETED:
        row.deleted = highlighted(content.get("body", ""), words)
        row.text = row.deleted
    elif kind in (EventType.FILE_SHARED, EventType.FILE_QUARANTINED):
        row.file_name = content.get("file", {}).get("name", "")
        row.file_entry_pk = entry.pk if kind == EventType.FILE_SHARED else None
        row.text = highlighted(content.get("body", "") or content.get("signature", ""), words)
        row.extra.append(highlighted(row.file_name, words))
    elif kind in (EventType.REACTION_ADDED, EventType.REACTION_REMOVED):
        row.text = highlighted(content.get("emoji", ""), words)
    elif kind in (EventType.MEMBER_ADDED, EventType.MEMBER_REMOVED):
        people = content.get("added") or content.get("removed") or []
        row.text = escape(", ".join(str(names.person(pk, entry)) for pk in people))
    elif kind == EventType.MEMBER_ROLE_CHANGED:
        member = names.person(content.get("member"), entry)
        row.text = escape(f"{member}: {content.get('previous', '')} → {content.get('role', '')}")
    elif kind in (EventType.ROOM_CREATED, EventType.ROOM_RENAMED, EventType.ROOM_ARCHIVED):
        row.text = highlighted(" · ".join(_room_changes(content)), words)
    elif kind == EventType.CALL_ENDED:
        row.text = highlighted(call_ended_text(content), words)
    return row


def _room_changes(content: dict[str, Any]) -> list[str]:
    """A room's name and topic as created ("name"), or as changed ({"topic": [before, after]}: a rename)."""
    parts = []
    for key in ("name", "topic"):
        value = content.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list) and len(value) == 2:
            parts.append(f"{key}: {value[0]} → {value[1]}")
    return parts


# ---- the transcript ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Custody:
    """The checkpoint that vouches for a transcript: it seals the conversation's chain at `head_position`
    (`head_hash`), at or after the transcript's last entry, and is signed with `public_key`."""

    checkpoint_id: int
    created_at: datetime
    document_hash: str
    public_key: str
    signature: str
    head_position: int
    head_hash: str


@dataclass
class Transcript:
    conversation_id: int
    where: str
    since: datetime | None
    until: datetime | None
    rows: list[ReadableEntry]
    unopenable: int
    cut: bool  # more than TRANSCRIPT_LIMIT entries: the first ones shown
    custody: Custody | None


def transcript(
    *, conversation_id: int, since: datetime | None, until: datetime | None, limit: int = TRANSCRIPT_LIMIT
) -> Transcript:
    """One conversation over a date range, in chain order, with the checkpoint that covers its last entry
    (one is sealed first when the chain has moved past the latest: the transcript then ends on a signed head)."""
    rows = entries_in_range(conversation_ids=[conversation_id], since=since, until=until).order_by("position")
    opened: list[OpenedEntry] = []
    unopenable = 0
    for row in rows.values_list(*FIELDS)[: limit + 1].iterator(chunk_size=1000):
        entry = opened_or_unopenable(row)
        if isinstance(entry, Unopenable):
            unopenable += 1
        else:
            opened.append(entry)
    cut = len(opened) > limit
    opened = opened[:limit]
    readable = readable_entries(opened)
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is not None and conversation.name:
        where = f"#{conversation.name}"
    elif readable:
        where = readable[0].where
    else:
        where = f"conversation {conversation_id}"
    last = opened[-1].position if opened else None
    return Transcript(
        conversation_id=conversation_id,
        where=where,
        since=since,
        until=until,
        rows=readable,
        unopenable=unopenable,
        cut=cut,
        custody=custody_of(conversation_id=conversation_id, position=last) if last is not None else None,
    )


def custody_of(*, conversation_id: int, position: int) -> Custody | None:
    """The latest checkpoint sealing this conversation's chain at `position` or beyond; sealed now if none does
    yet. None only if the chain is held by a writer this instant (the checkpoint skips locked chains)."""
    chain = ArchiveChain.objects.filter(pk=conversation_id).first()
    if chain is None:
        return None
    if chain.sealed_position < position:
        archive_checkpoint_create(reason="transcript")
    marker = f"[{conversation_id},"
    for checkpoint in ArchiveCheckpoint.objects.filter(document__contains=marker).order_by("-pk").iterator():
        for head_conversation, head_position, head_hash in json.loads(checkpoint.document).get("heads", []):
            if head_conversation == conversation_id and head_position >= position:
                return Custody(
                    checkpoint_id=checkpoint.pk,
                    created_at=checkpoint.created_at,
                    document_hash=checkpoint.document_hash,
                    public_key=checkpoint.public_key,
                    signature=checkpoint.signature,
                    head_position=head_position,
                    head_hash=head_hash,
                )
    return None


def readable_entry(*, pk: int) -> ReadableEntry | None:
    """One entry for people (the admin's entry page), or None if it does not open."""
    from archive.models import ArchiveEntry

    row = ArchiveEntry.objects.filter(pk=pk).values_list(*FIELDS).first()
    entry = opened_or_unopenable(row) if row else None
    return readable_entries([entry])[0] if isinstance(entry, OpenedEntry) else None
