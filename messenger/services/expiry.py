"""Retention's side of the chat: removing messages, their earlier versions and shared files the archive's
retention (archive.retention) has decided must go, and telling open clients. The archive decides what and
when; only this module deletes messenger rows."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from django.db import transaction

from core import fanout
from messenger import frames
from messenger.models import Attachment, Message, MessageVersion


def messages_expire(*, message_ids: list[int]) -> int:
    """Remove messages (and their earlier versions) from the chat for good, and tell each conversation's open
    sockets which went. Replies that quoted one keep their text and lose the quote. Returns how many went."""
    if not message_ids:
        return 0
    with transaction.atomic():
        by_conversation: dict[int, list[int]] = {}
        for message_id, conversation_id in Message.objects.filter(pk__in=message_ids).values_list(
            "pk", "conversation_id"
        ):
            by_conversation.setdefault(conversation_id, []).append(message_id)
        MessageVersion.objects.filter(message_id__in=message_ids).delete()
        Message.objects.filter(reply_to_id__in=message_ids).update(reply_to=None)
        deleted, _ = Message.objects.filter(pk__in=message_ids).delete()
        for conversation_id, expired in by_conversation.items():
            frame = frames.messages_expired_frame(conversation_id=conversation_id, message_ids=sorted(expired))
            fanout.after_commit(partial(fanout.to_conversation, conversation_id, frame))
    return deleted


def messages_expire_before(*, conversation_id: int, cutoff: datetime) -> int:
    """A room's live-chat retention: remove its messages older than `cutoff` (their archive entries stay)."""
    with transaction.atomic():
        expired = Message.objects.filter(conversation_id=conversation_id, created_at__lt=cutoff)
        return messages_expire(message_ids=list(expired.values_list("pk", flat=True)))


def attachments_expire(*, conversation_id: int, archive_position: int) -> None:
    """Files whose "file shared" archive entry, at or before `archive_position`, was purged: rows first, then
    the sealed bytes once that commits. (Their messages went with messages_expire, or earlier.)"""
    expired = Attachment.objects.filter(conversation_id=conversation_id, archive_position__lte=archive_position)
    stored_names = list(expired.values_list("file", flat=True))
    expired.delete()
    storage = Attachment._meta.get_field("file").storage
    transaction.on_commit(lambda: [storage.delete(name) for name in stored_names])
