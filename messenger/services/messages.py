"""Sending, editing and deleting messages, and telling a conversation someone is typing."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import presence
from accounts.models import User
from archive.models import EventType
from archive.services import archive_record
from core import fanout, metrics
from core.commit_order import in_commit_order
from core.counters import counter_advance
from core.ratelimit import TokenBucket
from messenger import frames, push
from messenger.errors import BodyInvalid, NotAllowed, NotAMember, RateLimited, RoomArchived
from messenger.models import (
    MAX_BODY_LENGTH,
    MAX_CLIENT_ID_LENGTH,
    Attachment,
    Conversation,
    Membership,
    Mention,
    Message,
    MessageVersion,
)
from messenger.payloads import attachment_fields, message_html, message_payload, user_payload
from messenger.selectors import (
    conversation_member_ids,
    membership_for,
    message_for_member,
    message_resent,
    reactions_of,
)

# "@name" not preceded by a word character or "@" (so "x@bob.example" is an address, not a mention). A name may
# hold . + - but ends with a word character, so the punctuation after it stays text: "@bob." and "@bob," name bob.
# static/js/format.js MENTION_PATTERN is the same rule for the browser.
MENTION_PATTERN = re.compile(r"(?<![\w@])@([\w.+-]{0,149}\w)")
# In a room, "@channel" mentions every member and "@here" the members online now (Slack's and Mattermost's
# words). In a direct chat they mean nothing more than the text: the one other person gets the message anyway.
MENTION_CHANNEL, MENTION_HERE = "channel", "here"

# Per worker process; a user spread over several workers gets this rate on each (docs/protocol.md).
send_rate_limit = TokenBucket(rate=settings.PARLEY_SEND_RATE_PER_SECOND, burst=settings.PARLEY_SEND_BURST)


def _checked_body(body: str) -> str:
    if not body.strip():
        raise BodyInvalid("A message cannot be empty.")
    if len(body) > MAX_BODY_LENGTH:
        raise BodyInvalid(f"A message is at most {MAX_BODY_LENGTH} characters.", code="body_too_long")
    return body


def _next_seq(conversation_id: int) -> int:
    # core.counters: concurrent senders in one conversation take turns on its row until commit. An archived
    # room has no row to update, which is how it refuses new messages at no extra cost.
    row = counter_advance(
        Conversation, counter="last_seq", key="id", value=conversation_id, condition="NOT is_archived"
    )
    if row is None:
        raise RoomArchived("This room is archived: it is read-only.")
    return row[0]


def _sender_checked(*, sender: User, conversation_id: int) -> list[int]:
    """The conversation's members, refusing a sender who is not one: the check message_send starts with."""
    participants = conversation_member_ids(conversation_id=conversation_id)
    if sender.pk not in participants:
        raise NotAMember("You are not a member of that conversation.")
    return participants


def message_send(
    *,
    sender: User,
    conversation_id: int,
    client_id: str,
    body: str,
    reply_to_id: int | None = None,
    thread_root_id: int | None = None,
    also_in_room: bool = False,
    attachment: Attachment | None = None,
) -> Message:
    """Store and archive a message once per (sender, client_id); deliver it to every member after commit.

    `thread_root_id` makes it a reply in the thread of that message (of the same conversation; a reply in a
    thread answers its first message: threads are one level deep), shown in the conversation too with
    `also_in_room`. A fixed number of queries whatever the room size: participants (which is also the membership
    check), seq, insert, the sender's read marker, and three for the archive (chain, entry, head); plus one for
    a quoted message, two for @mentions when there are any (also for @channel and @here, which reach every
    member in the same two; @here asks the presence store, not the database, who is online), and two for a
    thread reply (its root, its count). A resend is not looked for first: it is rare (a client retrying after a
    lost ack), and the insert's unique (sender, client_id) finds it, so a first send costs one round trip less.
    With an `attachment` (stored and scanned by messenger.files.file_share) the body may be empty and the
    archive entry is "file shared".
    """
    if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise BodyInvalid(f"client_id must be 1 to {MAX_CLIENT_ID_LENGTH} characters.", code="client_id_invalid")
    if attachment is None or body:
        _checked_body(body)
    participants = _sender_checked(sender=sender, conversation_id=conversation_id)
    mentioned_names = set(MENTION_PATTERN.findall(body))
    # Asked before the transaction: no lock is held while the presence store answers.
    online = _online_among(participants) if MENTION_HERE in mentioned_names else set()
    if not send_rate_limit.allow(sender.pk):
        # A resend of what was stored is answered even now: it writes nothing.
        if (existing := message_resent(sender=sender, client_id=client_id)) is not None:
            return existing
        raise RateLimited("You are sending too fast; wait a moment.")
    message = Message(
        conversation_id=conversation_id, sender=sender, client_id=client_id, body=body, attachment=attachment
    )
    # Rendered now, not in the transaction: from its seq on it holds the conversation's locks, which every other
    # send to this conversation waits for (docs/benchmarks.md, S2).
    message_html(message)
    try:
        # Commit order (core.commit_order): the turn, taken last, lasts until the fan-out after COMMIT is out,
        # so every member receives the conversation's messages in seq order, whichever worker sent them.
        with in_commit_order(conversation_id) as turn, transaction.atomic():
            if reply_to_id is not None:
                message.reply_to = (
                    Message.objects.select_related("sender")
                    .filter(pk=reply_to_id, conversation_id=conversation_id)
                    .first()
                )
                if message.reply_to is None:
                    raise BodyInvalid("A reply quotes a message of the same conversation.", code="reply_invalid")
            if thread_root_id is not None:
                message.thread_root_id = _thread_root_of(thread_root_id, conversation_id)
                message.also_in_room = also_in_room
            seq = message.seq = _next_seq(conversation_id)
            message.save(force_insert=True)
            if message.thread_root_id is not None:
                Message.objects.filter(pk=message.thread_root_id).update(
                    thread_reply_count=F("thread_reply_count") + 1, thread_last_reply_at=message.created_at
                )
            # You have read what you wrote.
            Membership.objects.filter(conversation_id=conversation_id, user=sender).update(last_read_seq=seq)
            _record_mentions(message, mentioned_names, online=online)
            content = {"body": body, "seq": seq, "reply_to": reply_to_id}
            if message.thread_root_id is not None:
                content |= {"thread_root": message.thread_root_id, "also_in_room": message.also_in_room}
            if attachment is not None:
                content["file"] = attachment_archive_content(attachment)
            entry = archive_record(
                event_type=EventType.MESSAGE_SENT if attachment is None else EventType.FILE_SHARED,
                conversation_id=conversation_id,
                actor_id=sender.pk,
                actor=sender,
                participants=participants,
                message_id=message.pk,
                content=content,
            )
            if attachment is not None:
                attachment.archive_position = entry.position
                attachment.save(update_fields=["archive_position"])
            frame = frames.message_frame(message=message_payload(message))
            fanout.after_commit(partial(fanout.to_conversation, conversation_id, frame))
            fanout.after_commit(partial(push.message_push_after_commit, message.pk))  # a thread's work, no query
            transaction.on_commit(metrics.message_accepted)  # counted once committed, also inside a file share's
            turn.take()
    except IntegrityError:
        existing = message_resent(
            sender=sender, client_id=client_id
        )  # a resend, or the same client_id on another socket
        if existing is None:
            raise
        return existing
    return message


def _thread_root_of(message_id: int, conversation_id: int) -> int:
    """The first message of the thread a reply goes to: `message_id` itself, or the root of the thread it is in."""
    found = Message.objects.filter(pk=message_id, conversation_id=conversation_id).values_list("pk", "thread_root_id")
    row = found.first()
    if row is None:
        raise BodyInvalid("A thread reply answers a message of the same conversation.", code="thread_invalid")
    return row[1] or row[0]


def attachment_archive_content(attachment: Attachment) -> dict[str, Any]:
    """What the archive keeps about a file: enough to find and verify the stored, sealed copy."""
    return {
        "uid": str(attachment.uid),
        **attachment_fields(attachment),
        "sha256": attachment.sha256,
        "stored_as": attachment.file.name,
        "scanned": attachment.scanned,
    }


def _online_among(user_ids: list[int]) -> set[int]:
    return async_to_sync(presence.online_among)(user_ids)


def _record_mentions(message: Message, names: set[str], *, online: set[int]) -> None:
    """A Mention for each member named, and in a room for everyone @channel reaches or @here reaches online.

    Two queries whatever the room size: one select of the members mentioned, one bulk insert. The room check
    is part of the select (the kind is on the membership's conversation), not a query of its own."""
    if not names:
        return
    # Everything in one filter(): the conditions share one join to the membership in this conversation.
    named = Q(username__in=names)
    if MENTION_CHANNEL in names:
        named |= Q(memberships__conversation__kind=Conversation.Kind.ROOM) & ~Q(pk=message.sender_id)
    elif MENTION_HERE in names and online:
        named |= Q(memberships__conversation__kind=Conversation.Kind.ROOM, pk__in=online) & ~Q(pk=message.sender_id)
    mentioned = User.objects.filter(named, memberships__conversation_id=message.conversation_id).values_list(
        "pk", flat=True
    )
    Mention.objects.bulk_create(Mention(message=message, user_id=user_id) for user_id in mentioned)


def message_edit(*, editor: User, message_id: int, body: str) -> Message:
    """Replace the text of one's own message, keeping the earlier text as a version."""
    _checked_body(body)
    with transaction.atomic():
        message = message_for_member(user=editor, message_id=message_id, for_update=True, to_write=True)
        _check_own_live_message(editor, message)
        MessageVersion.objects.create(message=message, body=message.body)
        archive_message_event(EventType.MESSAGE_EDITED, message, editor, {"old": message.body, "new": body})
        message.body = body
        message.edited_at = timezone.now()
        message.save(update_fields=["body", "edited_at"])
        _announce_updated(message)
    return message


def message_delete(*, editor: User, message_id: int) -> Message:
    """Hide one's own message from the chat; its text stays as a version for the archive."""
    with transaction.atomic():
        message = message_for_member(user=editor, message_id=message_id, for_update=True, to_write=True)
        _check_own_live_message(editor, message)
        MessageVersion.objects.create(message=message, body=message.body)
        archive_message_event(EventType.MESSAGE_DELETED, message, editor, {"body": message.body})
        message.body = ""
        message.deleted_at = timezone.now()
        message.save(update_fields=["body", "deleted_at"])
        _announce_updated(message)
    return message


def archive_message_event(event_type: str, message: Message, actor: User, content: dict) -> None:
    """Archive something done to a message (an edit, a deletion, a reaction), with its seq and the members now."""
    archive_record(
        event_type=event_type,
        conversation_id=message.conversation_id,
        actor_id=actor.pk,
        participants=conversation_member_ids(conversation_id=message.conversation_id),
        message_id=message.pk,
        content={**content, "seq": message.seq},
    )


def _check_own_live_message(user: User, message: Message) -> None:
    if message.sender_id != user.pk:
        raise NotAllowed("Only the sender can edit or delete a message.")
    if message.deleted_at is not None:
        raise NotAllowed("That message was deleted.")


def _announce_updated(message: Message) -> None:
    frame = frames.message_updated_frame(
        message=message_payload(message, reactions=reactions_of(message_id=message.pk))
    )
    fanout.after_commit(partial(fanout.to_conversation, message.conversation_id, frame))


def typing_notify(*, user: User, conversation_id: int) -> None:
    """Tell the conversation the user is typing. Nothing is stored."""
    membership_for(user=user, conversation_id=conversation_id, to_write=True)
    fanout.to_conversation(
        conversation_id, frames.typing_frame(conversation_id=conversation_id, user=user_payload(user))
    )
