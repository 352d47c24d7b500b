"""Reactions to messages."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from accounts.models import User
from archive.models import EventType
from core import fanout
from messenger import frames
from messenger.emojis import emoji_checked
from messenger.models import Message, Reaction
from messenger.selectors import message_for_member, reactions_of
from messenger.services.messages import archive_message_event


def reaction_add(*, user: User, message_id: int, emoji: str) -> list[dict]:
    """A reaction is a business record (a thumbs-up under "approve the trade?"): archived like a message. Any
    one emoji of the Unicode set (messenger.emojis), stored fully qualified."""
    emoji = emoji_checked(emoji)
    with transaction.atomic():
        message = message_for_member(user=user, message_id=message_id, to_write=True)
        _, created = Reaction.objects.get_or_create(message=message, user=user, emoji=emoji)
        reactions = reactions_of(message_id=message.pk)
        if created:
            archive_message_event(EventType.REACTION_ADDED, message, user, {"emoji": emoji})
            _announce_reactions(message, reactions)
    return reactions


def reaction_remove(*, user: User, message_id: int, emoji: str) -> list[dict]:
    emoji = emoji_checked(emoji)
    with transaction.atomic():
        message = message_for_member(user=user, message_id=message_id, to_write=True)
        removed, _ = Reaction.objects.filter(message=message, user=user, emoji=emoji).delete()
        reactions = reactions_of(message_id=message.pk)
        if removed:
            archive_message_event(EventType.REACTION_REMOVED, message, user, {"emoji": emoji})
            _announce_reactions(message, reactions)
    return reactions


def _announce_reactions(message: Message, reactions: list[dict]) -> None:
    frame = frames.message_reactions_frame(
        conversation_id=message.conversation_id, message_id=message.pk, reactions=reactions
    )
    fanout.after_commit(partial(fanout.to_conversation, message.conversation_id, frame))
