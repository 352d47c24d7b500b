"""Matters: an officer names a search after a case ("SEC inquiry 24-117"), reruns it, tags what it finds, and
puts its people and conversations under a legal hold in one step (docs/compliance.md, "Matters").

Every action is an audit-log access row against the matter (`matter_create`, `matter_tag`, `matter_untag`,
`matter_hold`, `matter_close`, `matter_view`); the criteria's words are sealed there as for any search.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from archive.models import ArchiveEntry, LegalHold, Matter, MatterTag
from archive.retention import legal_hold_open
from archive.review import ReadableEntry, readable_entries
from archive.selectors import FIELDS, ArchiveSearch, conversations_matching, open_entry
from archive.services import archive_access_record
from core.crypto import DecryptionError
from core.errors import ParleyError
from messenger.models import Conversation

# Letters, digits, spaces and a little punctuation ("responsive", "privileged: attorney", "hot #2").
TAG_PATTERN = re.compile(r"\w[\w .,:#/&'()-]*")
TAG_MAX_LENGTH = 40
# Entries tagged or untagged in one step (a page of results is 200).
MAX_ENTRIES_PER_STEP = 1000
# Tagged entries listed on a matter's page; the rest are counted.
TAGGED_SHOWN = 500


class MatterInvalid(ParleyError):
    code = "matter_invalid"


# ---- reads ------------------------------------------------------------------------------------------------


def matter_search(*, matter: Matter) -> ArchiveSearch:
    """The saved search, as archive_search takes it: the inverse of ArchiveSearch.criteria() (lists back to
    tuples, ISO times back to datetimes), field by field, so a criterion the search gains later comes back too."""
    criteria = json.loads(matter.criteria)
    values = {}
    for search_field in dataclasses.fields(ArchiveSearch):
        if search_field.name not in criteria:
            continue  # saved before the search had it: its default
        value = criteria[search_field.name]
        if isinstance(value, list):
            value = tuple(value)
        elif search_field.name in ("since", "until") and value:
            value = datetime.fromisoformat(value)
        values[search_field.name] = value
    return ArchiveSearch(**values)


def matter_review_query(*, matter: Matter) -> str:
    """The review screen's query for the saved search (the form's own fields), with the matter named so the
    results can be tagged for it."""
    search = matter_search(matter=matter)
    usernames = dict(User.objects.filter(pk__in=search.people).values_list("pk", "username"))
    query = {
        "people": ", ".join(usernames.get(pk, str(pk)) for pk in search.people),
        "conversations": ", ".join(str(pk) for pk in search.conversation_ids),
        "since": timezone.localdate(search.since).isoformat() if search.since else "",
        "until": timezone.localdate(search.until).isoformat() if search.until else "",
        "words": search.words,
        "matter": matter.pk,
    }
    return urlencode(query)


def matter_list() -> QuerySet[Matter]:
    """Matters with their live tag count, tagged-entry count and open holds, newest first (one query).

    The holds are counted in subqueries, not joined beside the tags: two joins would multiply a matter's
    thousands of tags by its holds before counting."""
    live = Q(tags__removed_at__isnull=True)
    holds = Matter.holds.through.objects.filter(matter_id=OuterRef("pk"))
    return (
        Matter.objects.select_related("created_by")
        .annotate(
            tag_count=Count("tags", filter=live),
            tagged_entry_count=Count("tags__entry_id", filter=live, distinct=True),
            hold_count=_count(holds),
            open_hold_count=_count(holds.filter(legalhold__released_at__isnull=True)),
        )
        .order_by("-created_at", "-pk")
    )


def _count(links: QuerySet) -> Coalesce:
    """How many of one matter's hold links there are (grouped by the matter: one row, or none for 0)."""
    counted = links.order_by().values("matter_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


def matter_of(value: object) -> Matter | None:
    """The matter a request names (`?matter=12`), or None when it names none that exists (or garbage)."""
    text = str(value or "")
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return Matter.objects.filter(pk=int(text)).first()


def matter_tags_by_entry(*, matter: Matter, entry_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
    """entry id -> the matter's live tags on it, sorted."""
    tags = MatterTag.objects.filter(matter=matter, removed_at__isnull=True)
    if entry_ids is not None:
        tags = tags.filter(entry_id__in=list(entry_ids))
    found: dict[int, list[str]] = {}
    for entry_id, tag in tags.order_by("entry_id", "tag").values_list("entry_id", "tag"):
        found.setdefault(entry_id, []).append(tag)
    return found


def matter_tags_shown(*, matter: Matter, rows: list[ReadableEntry]) -> list[ReadableEntry]:
    """Put the matter's tags on entries about to be shown (one query)."""
    tags = matter_tags_by_entry(matter=matter, entry_ids=[row.entry.pk for row in rows])
    for row in rows:
        row.tags = tags.get(row.entry.pk, [])
    return rows


@dataclass
class TaggedEntries:
    rows: list[ReadableEntry]  # each with its tags
    gone: list[int]  # tagged entries no longer kept (purged by retention) or that do not open
    total: int  # tagged entries, shown or not


def matter_tagged_entries(*, matter: Matter, limit: int = TAGGED_SHOWN) -> TaggedEntries:
    """The entries tagged in the matter, oldest first, read as the review screen reads them."""
    tags = matter_tags_by_entry(matter=matter)
    wanted = sorted(tags)[: limit or None]
    opened, found = [], set()
    stored = ArchiveEntry.objects.filter(pk__in=wanted).order_by("occurred_at", "pk").values_list(*FIELDS)
    for row in stored.iterator(chunk_size=500):
        try:
            opened.append(open_entry(row))
        except (DecryptionError, ValueError, KeyError):
            continue
        found.add(row[0])
    rows = readable_entries(opened)
    for row in rows:
        row.tags = tags[row.entry.pk]
    return TaggedEntries(rows=rows, gone=[pk for pk in wanted if pk not in found], total=len(tags))


# ---- writes -----------------------------------------------------------------------------------------------


def matter_create(*, by: User, name: str, description: str = "", search: ArchiveSearch) -> Matter:
    """Save `search` under a case name. An empty search (the whole archive) is refused: narrow it first."""
    name = " ".join(name.split())
    if not name:
        raise MatterInvalid("Give the matter a name, such as the case it answers.")
    if len(name) > Matter._meta.get_field("name").max_length:
        raise MatterInvalid("A matter's name has at most 200 characters.")
    criteria = search.criteria()
    if not any(criteria.values()):
        raise MatterInvalid("Narrow the search (people, conversations, dates or words) before saving it as a matter.")
    try:
        with transaction.atomic():  # the unique name decides a race between two officers
            matter = Matter.objects.create(
                name=name, description=description.strip(), criteria=json.dumps(criteria), created_by=by
            )
            archive_access_record(user=by, action="matter_create", target=matter, details={"criteria": criteria})
    except IntegrityError:
        raise MatterInvalid(f"A matter named “{name}” exists already.") from None
    return matter


def matter_tag(*, matter: Matter, by: User, entry_ids: Iterable[int], tag: str) -> int:
    """Tag archive entries (one or many) in the matter; returns how many were newly tagged (a tag already on
    an entry stays as it is)."""
    tag, ids = _checked(matter, entry_ids, tag)
    with transaction.atomic():
        before = MatterTag.objects.filter(matter=matter, tag=tag, removed_at__isnull=True).count()
        # ON CONFLICT DO NOTHING against the partial unique constraint: a concurrent tagger's row wins quietly.
        MatterTag.objects.bulk_create(
            [MatterTag(matter=matter, entry_id=pk, tag=tag, tagged_by=by) for pk in ids], ignore_conflicts=True
        )
        added = MatterTag.objects.filter(matter=matter, tag=tag, removed_at__isnull=True).count() - before
        details = {"tag": tag, "entries": ids, "added": added}
        archive_access_record(user=by, action="matter_tag", target=matter, details=details)
    return added


def matter_untag(*, matter: Matter, by: User, entry_ids: Iterable[int], tag: str) -> int:
    """Take a tag off entries; the tag rows stay, stamped with who removed them and when. Returns how many."""
    tag, ids = _checked(matter, entry_ids, tag, must_exist=False)
    with transaction.atomic():
        removed = MatterTag.objects.filter(matter=matter, tag=tag, entry_id__in=ids, removed_at__isnull=True).update(
            removed_by=by, removed_at=timezone.now()
        )
        details = {"tag": tag, "entries": ids, "removed": removed}
        archive_access_record(user=by, action="matter_untag", target=matter, details=details)
    return removed


def _checked(matter: Matter, entry_ids: Iterable[int], tag: str, *, must_exist: bool = True) -> tuple[str, list[int]]:
    if not matter.is_open:
        raise MatterInvalid(f"The matter “{matter.name}” is closed.")
    tag = " ".join(tag.split())
    if not tag:
        raise MatterInvalid("Type a tag.")
    if len(tag) > TAG_MAX_LENGTH or not TAG_PATTERN.fullmatch(tag):
        raise MatterInvalid(
            f"A tag has at most {TAG_MAX_LENGTH} characters: letters, digits, spaces and . , : # / & ' ( ) -"
        )
    ids = sorted(set(entry_ids))
    if not ids:
        raise MatterInvalid("Choose at least one entry.")
    if len(ids) > MAX_ENTRIES_PER_STEP:
        raise MatterInvalid(f"At most {MAX_ENTRIES_PER_STEP} entries at a time.")
    if must_exist:
        existing = set(ArchiveEntry.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [pk for pk in ids if pk not in existing]
        if missing:
            raise MatterInvalid(f"No archive entry {', '.join(map(str, missing[:10]))}.")
    return tag, ids


def matter_hold(*, matter: Matter, by: User, reason: str = "") -> LegalHold:
    """Put the matter's people and the conversations its search matches, within its dates, under a legal hold
    named after it, linked to it.

    The hold keeps at least what the search finds: every entry of its people and of its conversations in its
    dates (a search of people and words holds all of those people's entries, not only the matching ones: a
    hold errs on the side of keeping). A search of dates alone holds everything in those dates, as a hold
    naming no one does. The conversations are found now; a later match in a new conversation needs another
    hold (the matter lists them all).
    """
    if not matter.is_open:
        raise MatterInvalid(f"The matter “{matter.name}” is closed.")
    search = matter_search(matter=matter)
    conversation_ids = conversations_matching(search=search)  # None: all of them (a search of dates alone)
    users = list(User.objects.filter(pk__in=search.people).order_by("pk"))
    rooms = [] if conversation_ids is None else list(Conversation.objects.filter(pk__in=conversation_ids))
    if conversation_ids is not None and not users and not rooms:
        # A hold naming no one would cover everything in its dates: not what a search that found nothing means.
        raise MatterInvalid("The search names no one and matches no conversation: there is nothing to hold.")
    with transaction.atomic():
        hold = legal_hold_open(
            by=by,
            case_name=matter.name,
            reason=reason.strip() or f"Matter “{matter.name}”: its people and the conversations its search matches.",
            users=users,
            rooms=rooms,
            starts_at=search.since,
            ends_at=search.until,
        )
        matter.holds.add(hold)
        details = {
            "hold": hold.pk,
            "users": [user.pk for user in users],
            "conversation_ids": sorted(room.pk for room in rooms) if conversation_ids is not None else None,
            "since": search.since.isoformat() if search.since else None,
            "until": search.until.isoformat() if search.until else None,
        }
        archive_access_record(user=by, action="matter_hold", target=matter, details=details)
    return hold


def matter_close(*, matter: Matter, by: User) -> Matter:
    """Close the matter: no more tags or holds. Its holds stay open until released on their own (a hold
    outlives the investigation that asked for it until counsel says otherwise)."""
    if not matter.is_open:
        raise MatterInvalid(f"The matter “{matter.name}” is closed already.")
    with transaction.atomic():
        matter.closed_at = timezone.now()
        matter.save(update_fields=["closed_at"])
        archive_access_record(user=by, action="matter_close", target=matter, details={})
    return matter
