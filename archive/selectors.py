"""Reading the archive back: entries in chain order, opened, as a verifier or an export needs them."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, models
from django.db.models import Max, Min, Q

from archive.chain import canonical_event
from archive.models import ArchiveEntry
from archive.search_index import entry_text
from core.crypto import DecryptionError, unseal_text
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
        yield _opened_or_not(row)


def _opened_or_not(row: tuple) -> OpenedEntry | Unopenable:
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
        yield _opened_or_not(row) if to_open(link) else link


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

# A search opens every entry the metadata filters leave (words can only be matched in the clear), at a cost per
# entry like verify_archive's (docs/benchmarks.md); past this many it stops and says so rather than hold a
# request for long. Dates, people and conversations narrow what it opens.
MAX_SCANNED = 500_000


@dataclass(frozen=True)
class ArchiveSearch:
    """What a compliance officer looks for. Every field narrows; an empty search is every entry."""

    people: tuple[int, ...] = ()  # entries by, or in a conversation with, any of these users
    conversation_ids: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None  # inclusive, as in an export
    words: str = ""  # every word must occur (any case) in the entry's text: message, old text, file or room name

    def criteria(self) -> dict[str, Any]:
        """The search as the audit log records it."""
        return {
            "people": list(self.people),
            "conversation_ids": list(self.conversation_ids),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "words": self.words,
        }


@dataclass(frozen=True)
class SearchResult:
    hits: list[OpenedEntry]
    scanned: int
    more: bool  # stopped at the limit (more hits) or at MAX_SCANNED (not everything was looked at)
    unopenable: int = 0  # entries that did not open (altered?): verify_archive names them


def archive_search(*, search: ArchiveSearch, limit: int = 200, max_scanned: int = MAX_SCANNED) -> SearchResult:
    """The first `limit` matching entries, oldest first."""
    scan = _Scan(search, max_scanned=max_scanned)
    hits = list(itertools.islice(scan, limit + 1))
    more = len(hits) > limit or scan.stopped
    return SearchResult(hits=hits[:limit], scanned=scan.scanned, more=more, unopenable=scan.unopenable)


def conversations_matching(*, search: ArchiveSearch) -> list[int] | None:
    """Every conversation with a matching entry, or None for all of them (no scan limit: an export reads them
    all anyway)."""
    if not (search.people or search.words):  # the metadata alone decides, without opening anything
        return list(search.conversation_ids) or None
    return sorted({hit.conversation_id for hit in _Scan(search, max_scanned=None)})


class _Scan:
    """Matching entries, oldest first: metadata filtered in the database, words matched after opening each
    entry (streamed, constant memory). Counts what it looked at; `stopped` if it gave up at `max_scanned`."""

    def __init__(self, search: ArchiveSearch, *, max_scanned: int | None) -> None:
        self.search = search
        self.max_scanned = max_scanned
        self.scanned = 0
        self.stopped = False
        self.unopenable = 0

    def __iter__(self) -> Iterator[OpenedEntry]:
        search = self.search
        rows = ArchiveEntry.objects.order_by("occurred_at", "pk")
        if search.since:
            rows = rows.filter(occurred_at__gte=search.since)
        if search.until:
            rows = rows.filter(occurred_at__lte=search.until)
        if search.conversation_ids:
            rows = rows.filter(conversation_id__in=search.conversation_ids)
        people = set(search.people)
        people_in_python = bool(people) and not connection.features.supports_json_field_contains  # SQLite
        if people and not people_in_python:
            involved = Q(actor_id__in=people)
            for person in people:
                involved |= Q(participants__contains=[person])
            rows = rows.filter(involved)
        words = search.words.casefold().split()
        for row in rows.values_list(*FIELDS).iterator(chunk_size=STREAM_CHUNK):
            if self.scanned == self.max_scanned:
                self.stopped = True
                return
            self.scanned += 1
            if people_in_python and row[5] not in people and people.isdisjoint(row[7]):
                continue
            try:
                opened = open_entry(row)
            except (DecryptionError, ValueError, KeyError):
                self.unopenable += 1  # shown as a warning; verify_archive names them
                continue
            if all(word in entry_text(opened.content).casefold() for word in words):
                yield opened


# ---- the audit log, per reader ------------------------------------------------------------------------------

# IT (or anyone who may read the audit log but not the archive) sees the history of accounts, rooms and
# settings: apps matched by label, so a new accounts model (the second-factor devices are accounts models) is
# covered without a list.
AUDIT_APPS_FOR_EVERYONE = ("accounts", "auth")
AUDIT_MODELS_FOR_EVERYONE = (("messenger", "conversation"), ("messenger", "membership"))
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
