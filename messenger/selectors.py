"""Reads of conversations and messages. Every read of a member's data goes through the access helpers here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Prefetch, Q
from django.utils import timezone

from accounts.models import User
from archive.models import ArchiveEntry, ArchiveSearchToken, EventType
from archive.search_index import query_tokens
from core import blind_index
from messenger.errors import NotAMember, RoomArchived, SearchInvalid
from messenger.models import Attachment, Conversation, Membership, Message, Reaction
from messenger.payloads import conversation_payload, message_payload, reactions_payload

HISTORY_PAGE_MAX = 200


def membership_for(*, user: User, conversation_id: int, to_write: bool = False) -> Membership:
    """The user's membership, with its conversation: the one access check for a conversation. With `to_write`,
    an archived room is refused too (it is read-only for good)."""
    try:
        membership = Membership.objects.select_related("conversation").get(user=user, conversation_id=conversation_id)
    except Membership.DoesNotExist:
        raise NotAMember("You are not a member of that conversation.") from None
    if to_write:
        conversation_writable(membership.conversation)
    return membership


def conversation_writable(conversation: Conversation) -> Conversation:
    """Refuse a write to an archived room; every write path checks through here or membership_for."""
    if conversation.is_archived:
        raise RoomArchived("This room is archived: it is read-only.")
    return conversation


def conversation_member_ids(*, conversation_id: int) -> list[int]:
    """Who is in a conversation now (also the membership check of the send path: one query)."""
    return list(Membership.objects.filter(conversation_id=conversation_id).values_list("user_id", flat=True))


def message_resent(*, sender: User, client_id: str) -> Message | None:
    """The message a client already sent under this client_id, if any (resends are answered with it)."""
    return (
        Message.objects.select_related("sender", "reply_to__sender", "attachment")
        .filter(sender=sender, client_id=client_id)
        .first()
    )


def attachment_for_member(*, user: User, uid: Any) -> Attachment:
    """A file shown in one of the user's conversations (not one whose message was deleted or expired)."""
    attachment = (
        Attachment.objects.filter(
            uid=uid, conversation__memberships__user=user, message__isnull=False, message__deleted_at__isnull=True
        )
        .only("uid", "name", "content_type", "file")
        .first()
    )
    if attachment is None:
        raise NotAMember("No such file in your conversations.")
    return attachment


def message_for_member(*, user: User, message_id: int, for_update: bool = False, to_write: bool = False) -> Message:
    """A message in one of the user's conversations, with its sender: the one access check for a message. With
    `to_write` (an edit, a delete, a reaction), one in an archived room is refused too."""
    messages = Message.objects.select_related("sender", "reply_to__sender", "attachment", "conversation")
    if for_update:
        messages = messages.select_for_update(of=("self",))
    message = messages.filter(pk=message_id, conversation__memberships__user=user).first()
    if message is None:
        raise NotAMember("No such message in your conversations.")
    if to_write:
        conversation_writable(message.conversation)
    return message


def conversation_for_member(*, user: User, conversation_id: int) -> dict[str, Any]:
    """One conversation as a member sees it, with its members."""
    membership = membership_for(user=user, conversation_id=conversation_id)
    payload = conversation_payload(
        membership.conversation, membership=membership, members=conversation_members(conversation_id=conversation_id)
    )
    # Each member's read marker, so "seen by" survives a page reload, and role, for the room's settings.
    rows = Membership.objects.filter(conversation_id=conversation_id).values_list("user_id", "last_read_seq", "role")
    markers = {user_id: (seq, role) for user_id, seq, role in rows}
    for member in payload["members"]:
        member["last_read_seq"], member["role"] = markers.get(member["id"], (0, Membership.Role.MEMBER))
    return payload


def conversation_ids_for(*, user: User) -> list[int]:
    return list(Membership.objects.filter(user=user).values_list("conversation_id", flat=True))


def conversation_members(*, conversation_id: int) -> list[User]:
    return list(User.objects.filter(memberships__conversation_id=conversation_id).order_by("username"))


def conversation_list_for(*, user: User) -> list[dict[str, Any]]:
    """The sidebar: every conversation of the user with unread and unread-mention counts, in three queries."""
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("conversation")
        .annotate(
            unread_mentions=Count(
                "conversation__messages__mentions",
                filter=Q(
                    conversation__messages__mentions__user=user,
                    conversation__messages__seq__gt=F("last_read_seq"),
                ),
            )
        )
        .order_by("-conversation__last_seq", "conversation_id")
    )
    direct_ids = [m.conversation_id for m in memberships if m.conversation.kind == Conversation.Kind.DIRECT]
    members_by_direct: dict[int, list[User]] = {}
    if direct_ids:
        for membership in Membership.objects.filter(conversation_id__in=direct_ids).select_related("user"):
            members_by_direct.setdefault(membership.conversation_id, []).append(membership.user)
    return [
        conversation_payload(
            membership.conversation,
            membership=membership,
            members=members_by_direct.get(membership.conversation_id),
            unread_mentions=membership.unread_mentions,
        )
        for membership in memberships
    ]


def _with_everything_shown(messages):
    return messages.select_related("sender", "reply_to__sender", "attachment").prefetch_related(
        Prefetch("reactions", queryset=Reaction.objects.order_by("created_at", "pk"))
    )


def message_payloads(messages: list[Message]) -> list[dict[str, Any]]:
    return [
        message_payload(message, reactions=reactions_payload([(r.emoji, r.user_id) for r in message.reactions.all()]))
        for message in messages
    ]


def message_history(
    *, user: User, conversation_id: int, before_seq: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """A page of messages older than `before_seq` (newest page without it), oldest first."""
    membership_for(user=user, conversation_id=conversation_id)
    limit = max(1, min(limit, HISTORY_PAGE_MAX))
    messages = Message.objects.filter(conversation_id=conversation_id)
    if before_seq is not None:
        messages = messages.filter(seq__lt=before_seq)
    page = list(_with_everything_shown(messages.order_by("-seq"))[:limit])
    page.reverse()
    return message_payloads(page)


THREAD_REPLIES_MAX = 1000


def thread_for_member(*, user: User, conversation_id: int, root_id: int) -> dict[str, Any]:
    """A thread as its side pane shows it: the first message and its replies (up to THREAD_REPLIES_MAX), oldest
    first. Asking with a reply's id shows the thread it is in."""
    membership_for(user=user, conversation_id=conversation_id)
    found = Message.objects.filter(pk=root_id, conversation_id=conversation_id).values_list("pk", "thread_root_id")
    row = found.first()
    if row is None:
        raise NotAMember("No such message in your conversations.")
    root_id = row[1] or row[0]
    root = _with_everything_shown(Message.objects.filter(pk=root_id)).get()
    replies = list(
        _with_everything_shown(Message.objects.filter(thread_root_id=root_id).order_by("seq"))[:THREAD_REPLIES_MAX]
    )
    root_payload, *reply_payloads = message_payloads([root, *replies])
    return {"root": root_payload, "replies": reply_payloads}


def messages_after(*, conversation_id: int, after_seq: int, limit: int) -> list[Message]:
    """Messages newer than `after_seq`, oldest first: what a reconnecting client missed. Caller checks access."""
    messages = Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq).order_by("seq")
    return list(_with_everything_shown(messages)[:limit])


SYNC_BATCH = 500


def messages_since(*, user: User, since: dict[int, int]) -> list[dict[str, Any]]:
    """What a reconnecting client missed: for each of the user's conversations that moved past the seq the
    client has (`since`: conversation id -> last seq), the newer messages, up to SYNC_BATCH, oldest first.

    Conversations the client did not name are included from seq 0, so a tab that missed an invitation
    catches up too. `has_more` asks the client to sync again from its new last seq.
    """
    # Two queries per conversation that has news (its messages, their reactions): paid once per reconnect,
    # only for conversations that moved, so the common case (nothing or one room) stays cheap.
    memberships = Membership.objects.filter(user=user).select_related("conversation")
    conversations = []
    for membership in memberships:
        after = since.get(membership.conversation_id, 0)
        if membership.conversation.last_seq <= after:
            continue
        messages = messages_after(conversation_id=membership.conversation_id, after_seq=after, limit=SYNC_BATCH + 1)
        conversations.append(
            {
                "conversation_id": membership.conversation_id,
                "messages": message_payloads(messages[:SYNC_BATCH]),
                "has_more": len(messages) > SYNC_BATCH,
            }
        )
    return conversations


def room_directory(*, user: User, search: str = "") -> list[dict[str, Any]]:
    """Public rooms (and private ones the user is in), with member counts and whether the user has joined."""
    rooms = Conversation.objects.filter(kind=Conversation.Kind.ROOM, is_archived=False).filter(
        Q(is_public=True) | Q(memberships__user=user)
    )
    rooms = rooms.annotate(
        member_count=Count("memberships", distinct=True),
        is_member=Count("memberships", filter=Q(memberships__user=user), distinct=True),
    ).order_by("name")
    # Topics are sealed, so the search matches them here rather than in SQL: the directory is what one person
    # may see (public rooms and their own), and the payload opens every topic anyway.
    needle = search.casefold()
    return [
        {**conversation_payload(room), "member_count": room.member_count, "is_member": bool(room.is_member)}
        for room in rooms.distinct()
        if not needle or needle in room.name.casefold() or needle in room.topic.casefold()
    ]


def reactions_of(*, message_id: int) -> list[dict[str, Any]]:
    rows = Reaction.objects.filter(message_id=message_id).order_by("created_at", "pk").values_list("emoji", "user_id")
    return reactions_payload(list(rows))


# ---- search -----------------------------------------------------------------------------------------------

SEARCH_PAGE_MAX = 50
# Candidates the index gives are read (and opened, to verify) in keyset pages: the first just big enough for a
# page of hits and the one that says there are more, later ones bigger (only when edited-away words or phrases
# in the wrong order made some candidates fail the check).
SEARCH_CHUNK = 500
# Archive events whose content holds a message's text: together they hold every word its current text (body and
# file name) can have, as sent or as edited to. A word only ever in an edit's old text is checked away after.
TEXT_EVENTS = (EventType.MESSAGE_SENT, EventType.MESSAGE_EDITED, EventType.FILE_SHARED)


def message_search(
    *,
    user: User,
    words: str,
    conversation_id: int | None = None,
    before_id: int | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Messages in the user's conversations whose current text (or file name) holds the words, newest first.
    `next_before` is where a further call goes on when there are more hits, else None.

    Whole words, in any case and without accents, as in Slack: every word must be there (AND); `"a phrase"` in
    quotes, `OR` between alternatives, `-word` or `NOT word` to leave out. `from:username`, `in:room`, `on:`,
    `after:` and `before:` a date (YYYY-MM-DD, the server's time zone) narrow it in the database.

    The archive's blind index (archive.search_index) finds the messages that ever held each word; only those in
    conversations the user is in now, not deleted, are read, newest first, and each is opened and checked
    against its current text (an edited-away word no longer matches). No scan limit: what is read is what
    the index found.
    """
    query, narrowing = _search_terms(words, user=user)
    limit = max(1, min(limit, SEARCH_PAGE_MAX))
    # A subquery, not a join: the database then walks the primary key backwards and stops at a page.
    mine = Membership.objects.filter(user=user).values("conversation_id")
    candidates = Message.objects.filter(conversation_id__in=mine, deleted_at__isnull=True, **narrowing)
    if conversation_id is not None:
        membership_for(user=user, conversation_id=conversation_id)
        candidates = candidates.filter(conversation_id=conversation_id)
    if before_id is not None:
        candidates = candidates.filter(pk__lt=before_id)
    index_first = False
    if query is not None:
        since = narrowing.get("created_at__gte")
        candidates = candidates.filter(_indexed(query, since=since))
        index_first = _rarely_used(query, since=since)
    hit_ids: list[int] = []
    for pk, text in _newest_first(candidates, first_page=limit + 1, opened=query is not None, index_first=index_first):
        if query is None or blind_index.matches(text, query):
            hit_ids.append(pk)
            if len(hit_ids) > limit:
                break
    next_before = hit_ids[limit - 1] if len(hit_ids) > limit else None
    hits = _with_everything_shown(Message.objects.filter(pk__in=hit_ids[:limit]).order_by("-pk"))
    return {"messages": message_payloads(list(hits)), "next_before": next_before}


def message_word_tokens(word: str) -> list[bytes]:
    """The blind tokens one normalized word may be indexed under (one per key of the ring): the one place the
    message search turns a word into tokens."""
    return query_tokens(word)


def _indexed(query: blind_index.Query, *, since: datetime | None) -> Q:
    """Messages the index says may match: in any OR group, for every word of every term (a phrase's words
    each), a text event of the message holds that word. A superset of the hits, checked after opening."""
    any_group = Q()
    for group in query.groups:
        every_word = Q()
        for word in sorted({word for term in group for word in term}):
            tokens = ArchiveSearchToken.objects.filter(token__in=message_word_tokens(word))
            if since is not None:  # a message's entries are never older than the message
                tokens = tokens.filter(occurred_at__gte=since)
            entries = ArchiveEntry.objects.filter(pk__in=tokens.values("entry_id"), event_type__in=TEXT_EVENTS)
            every_word &= Q(pk__in=entries.values("message_id"))
        any_group |= every_word
    return any_group


# Below this many uses of a word (index rows, counted up to it), the search starts from the index; at or above
# it, from the newest messages. Measured on 1,000,000 messages (docs/benchmarks.md): left to itself PostgreSQL
# walked the messages backwards for a word in 14,000 of them and read half a million rows to find 21 in one
# person's conversations (450 ms); starting from the index costs about 10 µs per use of the word, so ~150 ms
# for 14,000 and more past 50,000, where walking from the newest finds a page at once (10-25 ms).
SEARCH_INDEX_FIRST_BELOW = 50_000


def _rarely_used(query: blind_index.Query, *, since: datetime | None) -> bool:
    """Whether every OR group has a word used fewer than SEARCH_INDEX_FIRST_BELOW times (one index-only count
    per distinct word, stopping at that many): then the candidates are few and cheapest found from the index."""
    counted: dict[str, int] = {}

    def uses(word: str) -> int:
        if word not in counted:
            tokens = ArchiveSearchToken.objects.filter(token__in=message_word_tokens(word))
            if since is not None:
                tokens = tokens.filter(occurred_at__gte=since)
            counted[word] = tokens[:SEARCH_INDEX_FIRST_BELOW].count()
        return counted[word]

    return all(min(uses(word) for term in group for word in term) < SEARCH_INDEX_FIRST_BELOW for group in query.groups)


def _newest_first(messages, *, first_page: int, opened: bool, index_first: bool) -> Iterator[tuple[int, str]]:
    """(pk, current text: body and file name) of `messages`, newest first, in keyset pages by primary key.
    Tuples, not instances: building a model per row cost more than opening its body. Without `opened` the text
    is not opened (a search of filters alone matches everything).

    By default each page is an index walk backwards that stops at its LIMIT. With `index_first` it is ordered
    by `pk + 0`, which no index gives: PostgreSQL then finds the candidates from the search index and sorts
    those few, instead of walking every message to find the ones the index names (see SEARCH_INDEX_FIRST_BELOW)."""
    fields = ("pk", "uid", "body", "attachment__uid", "attachment__name") if opened else ("pk",)
    if index_first:
        rows_wanted = messages.annotate(newest=F("pk") + 0).order_by("-newest").values_list(*fields)
    else:
        rows_wanted = messages.order_by("-pk").values_list(*fields)
    body_field = Message._meta.get_field("body")
    name_field = Attachment._meta.get_field("name")
    page_size, before = first_page, None
    while True:
        page = rows_wanted if before is None else rows_wanted.filter(pk__lt=before)
        rows = list(page[:page_size])
        for row in rows:
            if not opened:
                yield row[0], ""
                continue
            pk, uid, body, file_uid, file_name = row
            text = body_field.open(body, binding=uid)
            if file_name is not None:
                text = f"{text}\n{name_field.open(file_name, binding=file_uid)}"
            yield pk, text
        if len(rows) < page_size:
            return
        page_size, before = SEARCH_CHUNK, rows[-1][0]


SEARCH_FILTERS = ("from", "in", "after", "before", "on")
# name:value, name:"a value with spaces", "an exact phrase", or a word.
SEARCH_TERM = re.compile(r'(\w+):"([^"]*)"|"([^"]+)"|(\S+)')


def _search_terms(text: str, *, user: User) -> tuple[blind_index.Query | None, dict[str, Any]]:
    """The words and phrases to match, as a blind_index.Query (None when only filters were given), and the
    ORM filters the `name:value` terms ask for."""
    groups: list[list[tuple[str, ...]]] = [[]]
    excluded: list[tuple[str, ...]] = []
    narrowing: dict[str, Any] = {}
    negate = False
    for quoted_name, quoted_value, phrase, word in SEARCH_TERM.findall(text):
        if word in ("OR", "NOT"):
            if word == "OR":
                groups.append([])
            negate = word == "NOT"
            continue
        if phrase or (word and word.startswith("-") and len(word) > 1):
            term = tuple(blind_index.words(phrase or word[1:]))
            negate = negate or not phrase
        else:
            name, _, value = word.partition(":") if word else (quoted_name, ":", quoted_value)
            if name.casefold() in SEARCH_FILTERS and value:
                _narrow(narrowing, name.casefold(), value, user=user)
                negate = False
                continue
            # A word, or one with punctuation inside ("e-mail", "10:30", "foo:bar"): its words, in order.
            term = tuple(blind_index.words(word or f"{quoted_name} {quoted_value}"))
        if term:
            (excluded if negate else groups[-1]).append(term)
        negate = False
    kept = tuple(tuple(group) for group in groups if group)
    if not kept:
        if excluded:
            raise SearchInvalid("Type a word to search for, not only words to leave out.")
        if not narrowing:
            raise SearchInvalid("Type a word to search for.")
        return None, narrowing
    return blind_index.Query(groups=kept, excluded=tuple(excluded)), narrowing


def _narrow(narrowing: dict[str, Any], name: str, value: str, *, user: User) -> None:
    """Add the ORM filter one `name:value` term asks for, or say why it cannot apply."""
    if name == "from":
        sender = User.objects.filter(username=value.removeprefix("@")).first()
        if sender is None:
            raise SearchInvalid(f"No user named {value.removeprefix('@')!r}.")
        narrowing["sender"] = sender
        return
    if name == "in":
        room = Conversation.objects.filter(
            kind=Conversation.Kind.ROOM, name=value.removeprefix("#"), memberships__user=user
        ).first()
        if room is None:
            raise SearchInvalid(f"You are in no room named {value.removeprefix('#')!r}.")
        narrowing["conversation"] = room
        return
    try:
        day = datetime.combine(date.fromisoformat(value), time.min, timezone.get_current_timezone())
        if not 1 < day.year < 9999:  # the first and last years overflow in time-zone arithmetic
            raise ValueError(value)
    except ValueError:
        raise SearchInvalid(f"{name}: takes a date like 2026-11-25, not {value!r}.") from None
    next_day = day + timedelta(days=1)
    # As Slack reads them: after a day is from the next one on; before a day ends when it begins.
    if name in ("after", "on"):
        narrowing["created_at__gte"] = next_day if name == "after" else day
    if name in ("before", "on"):
        narrowing["created_at__lt"] = day if name == "before" else next_day


def traffic_since(*, since: datetime, busiest: int = 10) -> dict[str, Any]:
    """How many messages were sent since `since`, and the rooms that had the most (name and count, never what
    was said): IT's page of today's numbers. Two queries; the rooms' by one GROUP BY over today's messages."""
    todays = Message.objects.filter(created_at__gte=since)
    rooms = (
        todays.filter(conversation__kind=Conversation.Kind.ROOM)
        .values("conversation_id", "conversation__name")
        .annotate(count=Count("id"))
        .order_by("-count", "conversation__name")[:busiest]
    )
    return {
        "message_count": todays.count(),
        "busiest_rooms": [{"name": row["conversation__name"], "messages": row["count"]} for row in rooms],
    }
