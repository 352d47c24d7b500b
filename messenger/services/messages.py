"""Sending, editing and deleting messages, and telling a conversation someone is typing."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

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

MENTION_PATTERN = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")

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
    attachment: Attachment | None = None,
) -> Message:
    """Store and archive a message once per (sender, client_id); deliver it to every member after commit.

    A fixed number of queries whatever the room size: participants (which is also the membership check),
    seq, insert, the sender's read marker, and three for the archive (chain, entry, head); plus one for a
    quoted message and two for @mentions when there are any. A resend is not looked for first: it is rare (a
    client retrying after a lost ack), and the insert's unique (sender, client_id) finds it, so a first send
    costs one round trip less. With an `attachment` (stored and scanned by messenger.files.file_share) the body
    may be empty and the archive entry is "file shared".
    """
    if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise BodyInvalid(f"client_id must be 1 to {MAX_CLIENT_ID_LENGTH} characters.", code="client_id_invalid")
    if attachment is None or body:
        _checked_body(body)
    participants = _sender_checked(sender=sender, conversation_id=conversation_id)
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
            seq = message.seq = _next_seq(conversation_id)
            message.save(force_insert=True)
            # You have read what you wrote.
            Membership.objects.filter(conversation_id=conversation_id, user=sender).update(last_read_seq=seq)
            _record_mentions(message, body)
            content = {"body": body, "seq": seq, "reply_to": reply_to_id}
            if attachment is not None:
                content["file"] = attachment_archive_content(attachment)
            entry = archive_record(
                event_type=EventType.MESSAGE_SENT if attachment is None else EventType.FILE_SHARED,
                conversation_id=conversation_id,
                actor_id=sender.pk,
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


def attachment_archive_content(attachment: Attachment) -> dict[str, Any]:
    """What the archive keeps about a file: enough to find and verify the stored, sealed copy."""
    return {
        "uid": str(attachment.uid),
        **attachment_fields(attachment),
        "sha256": attachment.sha256,
        "stored_as": attachment.file.name,
        "scanned": attachment.scanned,
    }


def _record_mentions(message: Message, body: str) -> None:
    usernames = set(MENTION_PATTERN.findall(body))
    if not usernames:
        return
    mentioned = User.objects.filter(
        username__in=usernames, memberships__conversation_id=message.conversation_id
    ).values_list("pk", flat=True)
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
