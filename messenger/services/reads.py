"""Read markers: how far each member has read, for unread counts and "seen by"."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from accounts.models import User
from core import fanout
from messenger import frames
from messenger.models import Membership
from messenger.selectors import membership_for


def read_mark(*, user: User, conversation_id: int, seq: int) -> int:
    """Move the user's read marker forward (never back) and tell the conversation, for "seen by"."""
    membership = membership_for(user=user, conversation_id=conversation_id)
    seq = min(seq, membership.conversation.last_seq)
    with transaction.atomic():
        moved = Membership.objects.filter(pk=membership.pk, last_read_seq__lt=seq).update(last_read_seq=seq)
        if moved:
            frame = frames.read_frame(conversation_id=conversation_id, user_id=user.pk, seq=seq)
            fanout.after_commit(partial(fanout.to_conversation, conversation_id, frame))
    return max(seq, membership.last_read_seq)
