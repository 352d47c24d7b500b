"""What each client frame does: check the payload's meaning, call one service or selector, shape the reply.

Handlers are synchronous and run in a database thread (the consumer wraps `dispatch` in
database_sync_to_async). They return the reply frame; the consumer adds `ref` and sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accounts.models import User
from core.errors import ProtocolError
from messenger import frames, protocol, selectors, services
from messenger.payloads import message_payload

Handler = Callable[[User, dict[str, Any]], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def handles(frame_type: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        assert frame_type in protocol.CLIENT_FRAMES, f"{frame_type} is not in protocol.CLIENT_FRAMES"
        HANDLERS[frame_type] = handler
        return handler

    return register


def dispatch(user: User, command: protocol.ClientFrame) -> dict[str, Any]:
    return HANDLERS[command.type](user, command.payload)


@handles("ping")
def ping(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    return frames.pong_frame()


@handles("message.send")
def send(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    message = services.message_send(
        sender=user,
        conversation_id=payload["conversation_id"],
        client_id=payload["client_id"],
        body=payload["body"],
        reply_to_id=payload.get("reply_to"),
        thread_root_id=payload.get("thread_root_id"),
        also_in_room=payload.get("also_in_room", False),
    )
    return frames.ack_frame(message=message_payload(message))


@handles("message.edit")
def edit(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    message = services.message_edit(editor=user, message_id=payload["message_id"], body=payload["body"])
    return frames.ack_frame(message_id=message.pk)


@handles("message.delete")
def delete(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    message = services.message_delete(editor=user, message_id=payload["message_id"])
    return frames.ack_frame(message_id=message.pk)


@handles("reaction.add")
def react(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    reactions = services.reaction_add(user=user, message_id=payload["message_id"], emoji=payload["emoji"])
    return frames.ack_frame(message_id=payload["message_id"], reactions=reactions)


@handles("reaction.remove")
def unreact(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    reactions = services.reaction_remove(user=user, message_id=payload["message_id"], emoji=payload["emoji"])
    return frames.ack_frame(message_id=payload["message_id"], reactions=reactions)


@handles("read")
def read(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    seq = services.read_mark(user=user, conversation_id=payload["conversation_id"], seq=payload["seq"])
    return frames.ack_frame(conversation_id=payload["conversation_id"], seq=seq)


@handles("typing")
def typing(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    services.typing_notify(user=user, conversation_id=payload["conversation_id"])
    return frames.ack_frame()


@handles("sync")
def sync(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    """Everything newer than the client's last seq per conversation (selectors.messages_since)."""
    since = _parse_since(payload["since"])
    return frames.sync_result_frame(conversations=selectors.messages_since(user=user, since=since))


def _parse_since(since: dict[str, Any]) -> dict[int, int]:
    parsed = {}
    for key, value in since.items():
        if not key.isdigit() or not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ProtocolError(
                "'since' maps conversation ids (as strings) to the last seq you have.", code="invalid_field"
            )
        parsed[int(key)] = value
    return parsed
