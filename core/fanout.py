"""Who hears about what: the only module that knows channel-layer group names.

It sits in core, below every app, so accounts (presence, contacts, sessions) and messenger (conversations)
announce through the same groups without importing each other; frames are built by the apps' `frames`
modules and only carried here.

Layout: one group per conversation ("conversation.<id>"), joined by every open socket of every member, and one
per user ("user.<id>") for that user's own sockets. A message costs one group_send whatever the room size, and
its frame is encoded to JSON once, here, not once per receiving socket. Membership changes go to the user's
group, whose sockets then join or leave the conversation group. Every function here is called from
`transaction.on_commit`, so nothing is announced for a write that rolled back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from core import metrics

logger = logging.getLogger(__name__)


def after_commit(announce: Callable[[], Any]) -> None:
    """Run an announcement once the current transaction commits (at once outside one). Every service announces
    through this. Failures are logged, not raised: the write has committed, so a channel layer that is away (a
    Redis restart) must not turn it into an error for the writer (a stored message answered `internal_error`,
    an admin page 500). The failure is counted on /metrics (group sends), and clients catch up with `sync` when
    they notice the gap. (Django's own robust=True cannot log a functools.partial: it reads __qualname__.)"""

    def announce_logging_failure() -> None:
        try:
            announce()
        except Exception:
            logger.exception("An announcement after commit failed; clients will catch up with sync")

    transaction.on_commit(announce_logging_failure)


# Handler names on messenger.consumers.ParleyConsumer (the "type" of a channel-layer event).
DELIVER = "deliver.frame"
JOIN = "conversation.join"
LEAVE = "conversation.leave"
CLOSE = "socket.close"
WATCH = "presence.watch"
RECHECK = "presence.recheck"
REKEY = "session.rekey"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def presence_group(user_id: int) -> str:
    """Joined by the sockets of everyone who sees this user's presence (contacts, people sharing a chat)."""
    return f"presence.{user_id}"


def session_group(session_key: str) -> str:
    return f"session.{session_key}"


def encode_frame(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def _group_send(group: str, event: dict[str, Any]) -> None:
    # Timed from here, in the on_commit callback: the hop to the event loop is part of what a send costs.
    with metrics.fanout_timed():
        async_to_sync(get_channel_layer().group_send)(group, event)


def to_conversation(conversation_id: int, frame: dict[str, Any]) -> None:
    """Every open socket of every member receives `frame`."""
    _group_send(conversation_group(conversation_id), {"type": DELIVER, "text": encode_frame(frame)})


def to_user(user_id: int, frame: dict[str, Any]) -> None:
    """Every open socket (tab, device) of one user receives `frame`."""
    _group_send(user_group(user_id), {"type": DELIVER, "text": encode_frame(frame)})


def conversation_joined(
    user_id: int, conversation_id: int, frame: dict[str, Any], *, member_ids: list[int], newcomer_ids: list[int]
) -> None:
    """The user's sockets start listening to the conversation, then receive `frame` describing it, and follow
    the presence of its members. The members already there follow the newcomers' presence: one event to the
    conversation's group, not one per member."""
    event = {"type": JOIN, "conversation_id": conversation_id, "text": encode_frame(frame), "member_ids": member_ids}
    _group_send(user_group(user_id), event)
    _group_send(conversation_group(conversation_id), {"type": WATCH, "user_ids": newcomer_ids})


def conversation_left(user_id: int, conversation_id: int, frame: dict[str, Any], *, member_ids: list[int]) -> None:
    """The user's sockets stop listening to the conversation; they, and the members who stay, stop following
    each other's presence where nothing else (another conversation, the buddy list) still links them."""
    event = {"type": LEAVE, "conversation_id": conversation_id, "text": encode_frame(frame), "member_ids": member_ids}
    _group_send(user_group(user_id), event)
    _group_send(conversation_group(conversation_id), {"type": RECHECK, "user_ids": [user_id]})


def watch_presence(watcher_id: int, user_id: int) -> None:
    """The watcher's sockets start following `user_id`'s presence (a new contact) and get their state."""
    _group_send(user_group(watcher_id), {"type": WATCH, "user_ids": [user_id]})


def recheck_presence(watcher_id: int, user_id: int) -> None:
    """The watcher's sockets stop following `user_id` unless they still share a conversation (a contact
    removed)."""
    _group_send(user_group(watcher_id), {"type": RECHECK, "user_ids": [user_id]})


def close_user_sockets(user_id: int, *, reason: str) -> None:
    """Close every open socket of a user (deactivated, signed out everywhere) on every worker."""
    _group_send(user_group(user_id), {"type": CLOSE, "reason": reason})


def close_session_sockets(session_key: str, *, reason: str) -> None:
    """Close the sockets opened with one browser session (that session was signed out)."""
    _group_send(session_group(session_key), {"type": CLOSE, "reason": reason})


def session_rekeyed(old_key: str, new_key: str) -> None:
    """A session got a new key (a password change): its open sockets move to the new key's group, so signing
    that session out later still closes them."""
    _group_send(session_group(old_key), {"type": REKEY, "group": session_group(new_key), "session_key": new_key})


def to_user_and_watchers(user_id: int, frame: dict[str, Any]) -> None:
    """Everyone who sees this user's presence, and the user's own other tabs (a new profile, say)."""
    text = encode_frame(frame)
    _group_send(presence_group(user_id), {"type": DELIVER, "text": text})
    _group_send(user_group(user_id), {"type": DELIVER, "text": text})


async def to_presence_watchers(user_id: int, frame: dict[str, Any]) -> None:
    """One group_send per presence change, however many people watch this user."""
    with metrics.fanout_timed():
        await get_channel_layer().group_send(presence_group(user_id), {"type": DELIVER, "text": encode_frame(frame)})
