"""Reading the archive back: entries in chain order, opened, as a verifier or an export needs them."""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, models
from django.db.models import Max, Min, Q

from archive.chain import canonical_event
from archive.models import ArchiveEntry, ArchiveSearchToken
from archive.search_index import query_tokens, searchable_text
from core import blind_index
from core.crypto import DecryptionError, configured_key_ring, unseal_text
from core.fields import Sealed, field_context
from core.sealed_audit import SEARCH_WORDS_PURPOSE, opened_json_value
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
        yield opened_or_unopenable(row)


def opened_or_unopenable(row: tuple) -> OpenedEntry | Unopenable:
    """An entry's row opened, or what stopped it opening (altered, or its key gone): readers show the rest."""
    try:
        return open_entry(row)
    except (DecryptionError, ValueError, KeyError) as error:
        return Unopenable(conversation_id=row[2], position=row[3], reason=str(error))


@dataclass(frozen=True)
class ChainLink:
    """An entry by its place, time and hashes, not opened: what an export shows of a chain beyond its range."""

    conversation_id: int
    position: int
    event_type: str
    occurred_at: datetime
    prev_hash: str
    entry_hash: str


def entries_in_range(
    *, conversation_ids: list[int] | None, since: datetime | None, until: datetime | None
) -> models.QuerySet[ArchiveEntry]:
    """Entries of these conversations (None: all) whose time is within since..until, both included."""
    rows = ArchiveEntry.objects.all()
    if conversation_ids is not None:
        rows = rows.filter(conversation_id__in=conversation_ids)
    if since is not None:
        rows = rows.filter(occurred_at__gte=since)
    if until is not None:
        rows = rows.filter(occurred_at__lte=until)
    return rows


def chain_spans_in_range(
    *, conversation_ids: list[int] | None, since: datetime | None, until: datetime | None
) -> dict[int, tuple[int, int]]:
    """Per conversation with an entry in the date range, the first and last position in it (one query, on clear
    columns: nothing is opened)."""
    rows = entries_in_range(conversation_ids=conversation_ids, since=since, until=until)
    spans = rows.values("conversation_id").annotate(first=Min("position"), last=Max("position"))
    return {row["conversation_id"]: (row["first"], row["last"]) for row in spans.order_by("conversation_id")}


def chain_from(
    *, conversation_id: int, position: int, to_open: Callable[[ChainLink], bool]
) -> Iterator[OpenedEntry | Unopenable | ChainLink]:
    """One chain from `position` to its head, streamed; an entry is opened (decrypted) only if `to_open` says so,
    the others come as ChainLink."""
    rows = ArchiveEntry.objects.filter(conversation_id=conversation_id, position__gte=position).order_by("position")
    for row in rows.values_list(*FIELDS).iterator(chunk_size=STREAM_CHUNK):
        link = ChainLink(
            conversation_id=row[2],
            position=row[3],
            event_type=row[4],
            occurred_at=row[6],
            prev_hash=row[10],
            entry_hash=row[11],
        )
        yield opened_or_unopenable(row) if to_open(link) else link


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
    return kept_file(conversation_id=entry.conversation_id, content=json.loads(entry.payload)["content"])


def kept_file(*, conversation_id: int, content: dict[str, Any]) -> Attachment | None:
    uid = content.get("file", {}).get("uid")
    return Attachment.objects.filter(uid=uid, conversation_id=conversation_id).first() if uid else None


# ---- search and review --------------------------------------------------------------------------------------

REVIEW_PAGE = 200  # hits per page of the review screen


@dataclass(frozen=True)
class ArchiveSearch:
    """What a compliance officer looks for. Every field narrows; an empty search is every entry."""

    people: tuple[int, ...] = ()  # entries by, or in a conversation with, any of these users
    conversation_ids: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None  # inclusive, as in an export
    # Whole words, any case or accent, in the entry's text (message, old text, file or room name), read by
    # core.blind_index.parse_query: `budget "q3 plan" OR forecast NOT draft` (also -draft); AND is implied.
    words: str = ""

    def criteria(self) -> dict[str, Any]:
        """The search as the audit log records it."""
        return {
            "people": list(self.people),
            "conversation_ids": list(self.conversation_ids),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "words": self.words,
        }


class SearchCursorInvalid(ValueError):
    """An `after` cursor that this code did not hand out (edited by hand, or cut short)."""


@dataclass(frozen=True)
class SearchResult:
    hits: list[OpenedEntry]
    next_after: str | None = None  # the cursor of the next page; None on the last one
    unopenable: int = 0  # entries that did not open (altered?): verify_archive names them

    @property
    def more(self) -> bool:
        return self.next_after is not None


def archive_search(*, search: ArchiveSearch, limit: int = REVIEW_PAGE, after: str | None = None) -> SearchResult:
    """One page of matching entries, oldest first, from just after the cursor `after` (a previous page's
    `next_after`). Pages have no cap in number: each costs its own hits, however deep.

    Raises blind_index.QueryError for words that cannot be understood and SearchCursorInvalid for a cursor that
    was not handed out.
    """
    matching = _Matching(search, after=cursor_position(after) if after else None)
    hits = list(itertools.islice(matching, limit + 1))
    next_after = cursor_of(hits[limit - 1]) if len(hits) > limit else None
    return SearchResult(hits=hits[:limit], next_after=next_after, unopenable=matching.unopenable)


def conversations_matching(*, search: ArchiveSearch) -> list[int] | None:
    """Every conversation with a matching entry, or None for all of them (an export reads them all anyway)."""
    if not (search.people or search.words):  # the metadata alone decides, without opening anything
        return list(search.conversation_ids) or None
    return sorted({hit.conversation_id for hit in _Matching(search)})


def cursor_of(entry: OpenedEntry) -> str:
    """An opaque cursor: the page after it starts after this entry in (occurred_at, pk) order."""
    raw = json.dumps([entry.occurred_at.isoformat(), entry.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_position(cursor: str) -> tuple[datetime, int]:
    """The (occurred_at, pk) a cursor stands for; SearchCursorInvalid if it is not one of ours."""
    try:
        occurred_at, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = datetime.fromisoformat(occurred_at), int(pk)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        raise SearchCursorInvalid("This page link is not valid; search again.") from None
    if position[0].tzinfo is None or not isinstance(pk, int):
        raise SearchCursorInvalid("This page link is not valid; search again.")
    return position


class _Matching:
    """Matching entries, oldest first, streamed in batches by keyset (occurred_at, pk): constant memory.

    Metadata narrows in the database. With words, the blind index narrows too (archive.search_index): each OR
    group's words must all have a token on the entry (a phrase's words as well), and the groups are unioned, all
    in SQL; the candidates are then opened and checked exactly (blind_index.matches: phrases in order, NOT terms
    absent), since the index knows neither order nor absence. Without words nothing is opened but what is shown.
    """

    FIRST_BATCH = 50  # grows while verification turns candidates away, so a selective filter stays few queries
    MAX_BATCH = STREAM_CHUNK

    def __init__(self, search: ArchiveSearch, *, after: tuple[datetime, int] | None = None) -> None:
        self.search = search
        self.after = after
        self.query = blind_index.parse_query(search.words) if search.words.strip() else None
        self.unopenable = 0

    def __iter__(self) -> Iterator[OpenedEntry]:
        search, query = self.search, self.query
        people = set(search.people)
        people_in_python = bool(people) and not connection.features.supports_json_field_contains  # SQLite
        rows = self._candidates(people_in_sql=bool(people) and not people_in_python)
        after, batch = self.after, self.FIRST_BATCH
        while True:
            page = rows
            if after is not None:
                page = rows.filter(Q(occurred_at__gt=after[0]) | Q(occurred_at=after[0], pk__gt=after[1]))
            fetched = list(page.values_list(*FIELDS)[:batch])
            for row in fetched:
                if people_in_python and row[5] not in people and people.isdisjoint(row[7]):
                    continue
                try:
                    opened = open_entry(row)
                except (DecryptionError, ValueError, KeyError):
                    self.unopenable += 1  # shown as a warning; verify_archive names them
                    continue
                if query is None or blind_index.matches(
                    searchable_text(event_type=opened.event_type, content=opened.content), query
                ):
                    yield opened
            if len(fetched) < batch:
                return
            after, batch = (fetched[-1][6], fetched[-1][0]), min(batch * 4, self.MAX_BATCH)

    def _candidates(self, *, people_in_sql: bool) -> models.QuerySet[ArchiveEntry]:
        search = self.search
        rows = ArchiveEntry.objects.order_by("occurred_at", "pk")
        if search.since:
            rows = rows.filter(occurred_at__gte=search.since)
        if search.until:
            rows = rows.filter(occurred_at__lte=search.until)
        if search.conversation_ids:
            rows = rows.filter(conversation_id__in=search.conversation_ids)
        if people_in_sql:
            involved = Q(actor_id__in=search.people)
            for person in search.people:
                involved |= Q(participants__contains=[person])
            rows = rows.filter(involved)
        if self.query is not None:
            rows = rows.filter(self._indexed())
        return rows

    def _indexed(self) -> Q:
        """Entries with a token for every word of some OR group (under any key of the ring: see query_tokens)."""
        search, ring = self.search, configured_key_ring()
        since = max(filter(None, (search.since, self.after[0] if self.after else None)), default=None)
        groups = Q()
        for group in self.query.groups:
            words = sorted({word for term in group for word in term})
            having_all = Q()
            for word in words:
                tokens = ArchiveSearchToken.objects.filter(token__in=query_tokens(word, ring=ring))
                # The token's copy of the time keeps each lookup to the searched period (one index range scan).
                if since:
                    tokens = tokens.filter(occurred_at__gte=since)
                if search.until:
                    tokens = tokens.filter(occurred_at__lte=search.until)
                having_all &= Q(pk__in=tokens.values("entry_id"))
            groups |= having_all
        return groups


# ---- the audit log, per reader ------------------------------------------------------------------------------

# IT (or anyone who may read the audit log but not the archive) sees the history of accounts, rooms and
# settings: apps matched by label, so a new accounts model (the second-factor devices are accounts models) is
# covered without a list.
AUDIT_APPS_FOR_EVERYONE = ("accounts", "auth")
AUDIT_MODELS_FOR_EVERYONE = (("messenger", "conversation"), ("messenger", "membership"), ("games", "gamepolicy"))
# Who may read the archive may read all of the audit log: holds, retention, files, and every look at the archive.
AUDIT_LOG_IN_FULL_PERMISSION = "archive.view_archiveentry"


def audit_log_reads_everything(*, user: Any) -> bool:
    """Compliance officers and superusers: the whole audit log, search words opened."""
    return user.has_perm(AUDIT_LOG_IN_FULL_PERMISSION)


def audit_log_is_for_everyone(*, app_label: str, model: str) -> bool:
    """Whether rows about this kind of record are ones IT may read (the same rule as audit_log_visible_to)."""
    return app_label in AUDIT_APPS_FOR_EVERYONE or (app_label, model) in AUDIT_MODELS_FOR_EVERYONE


def audit_log_visible_to(*, user: Any, entries=None):
    """The audit-log rows `user` may read (of `entries`, all rows by default): everything for compliance; for
    anyone else only accounts, rooms and settings, never an archive access (a search or an opened entry), a
    legal hold, a retention policy, a shared file or an archive entry or checkpoint."""
    from auditlog.models import LogEntry

    entries = LogEntry.objects.all() if entries is None else entries
    if audit_log_reads_everything(user=user):
        return entries
    allowed = Q(content_type__app_label__in=AUDIT_APPS_FOR_EVERYONE)
    for app_label, model in AUDIT_MODELS_FOR_EVERYONE:
        allowed |= Q(content_type__app_label=app_label, content_type__model=model)
    return entries.filter(allowed).exclude(action=LogEntry.Action.ACCESS)


def audit_access_details(*, entry: Any) -> dict[str, Any]:
    """What an archive access row recorded, the searched words opened (compliance reads this)."""
    details = dict(entry.additional_data or {})
    criteria = details.get("criteria")
    if isinstance(criteria, dict) and "words" in criteria:
        try:
            words = opened_json_value(criteria["words"], purpose=SEARCH_WORDS_PURPOSE, log_id=entry.pk)
        except DecryptionError:
            words = "(sealed words that do not open: run verify_archive)"
        details["criteria"] = {**criteria, "words": words}
    return details
