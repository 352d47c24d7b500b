"""The JSON shapes of messenger objects, shared by the socket frames (messenger.frames) and the HTTP API
(docs/protocol.md). People are shaped by accounts.payloads."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from accounts.payloads import user_payload
from messenger.models import Attachment, Conversation, Membership, Message
from messenger.rendering import render_body

REPLY_EXCERPT_LENGTH = 140


def message_payload(message: Message, *, reactions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """`message.sender` and, when set, `message.reply_to` (with its sender) and `message.attachment` should be
    loaded already."""
    deleted = message.deleted_at is not None
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "sender": user_payload(message.sender),
        "client_id": message.client_id,
        "body": None if deleted else message.body,
        # The body as sanitized HTML (messenger.rendering): what browsers show, so no client renders markdown.
        "html": None if deleted else message_html(message),
        "reply_to": reply_payload(message.reply_to) if message.reply_to_id else None,
        # A reply in a thread: the thread's first message, and whether it shows in the conversation too.
        "thread_root_id": message.thread_root_id,
        "also_in_room": message.also_in_room,
        # On a thread's first message: its replies so far (None without any).
        "thread": {
            "reply_count": message.thread_reply_count,
            "last_reply_at": message.thread_last_reply_at.isoformat() if message.thread_last_reply_at else None,
        }
        if message.thread_reply_count
        else None,
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": deleted,
        "reactions": reactions or [],
        "attachment": attachment_payload(message.attachment) if message.attachment_id and not deleted else None,
    }


def message_html(message: Message) -> str:
    """The body rendered once per message object and body: sending renders it before it takes its conversation's
    locks, and the `message` frame, the ack or the HTTP reply for the same object reuse it (rendering and
    sanitising is the costly part)."""
    cached = getattr(message, "_rendered", None)
    if cached is None or cached[0] != message.body:
        cached = message._rendered = (message.body, render_body(message.body))
    return cached[1]


def attachment_fields(attachment: Attachment) -> dict[str, Any]:
    """What a file is, as both clients (attachment_payload) and the archive (its "file shared" entry) see it."""
    return {"name": attachment.name, "content_type": attachment.content_type, "size": attachment.size}


def attachment_payload(attachment: Attachment) -> dict[str, Any]:
    return {"id": str(attachment.uid), **attachment_fields(attachment), "url": f"/api/v1/files/{attachment.uid}"}


def reply_payload(quoted: Message | None) -> dict[str, Any] | None:
    if quoted is None:  # the quoted message is gone (it cannot be: messages are never removed, only deleted)
        return None
    deleted = quoted.deleted_at is not None
    return {
        "id": quoted.pk,
        "seq": quoted.seq,
        "sender": user_payload(quoted.sender),
        "excerpt": None if deleted else quoted.body[:REPLY_EXCERPT_LENGTH],
        "deleted": deleted,
    }


def reactions_payload(reactions: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """[(emoji, user_id), ...] in creation order -> [{"emoji", "count", "user_ids"}], first-used emoji first."""
    by_emoji: dict[str, list[int]] = {}
    for emoji, user_id in reactions:
        by_emoji.setdefault(emoji, []).append(user_id)
    return [{"emoji": emoji, "count": len(users), "user_ids": users} for emoji, users in by_emoji.items()]


def conversation_payload(
    conversation: Conversation,
    *,
    membership: Membership | None = None,
    members: list[User] | None = None,
    unread_mentions: int = 0,
) -> dict[str, Any]:
    """A conversation as one member sees it; `membership` is theirs (unread counts come from it)."""
    payload: dict[str, Any] = {
        "id": conversation.pk,
        "kind": conversation.kind,
        "name": conversation.name,
        "topic": conversation.topic,
        "is_public": conversation.is_public,
        "is_archived": conversation.is_archived,
        "last_seq": conversation.last_seq,
    }
    if members is not None:
        payload["members"] = [user_payload(member) for member in members]
    if membership is not None:
        payload.update(
            role=membership.role,
            is_muted=membership.is_muted,
            last_read_seq=membership.last_read_seq,
            unread=max(0, conversation.last_seq - membership.last_read_seq),
            unread_mentions=unread_mentions,
        )
    return payload
