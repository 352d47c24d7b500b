"""Every frame the server sends about conversations and messages, and the socket's own replies (docs/protocol.md,
"Server → client"). One builder per frame type, named after it; accounts.frames holds the frames about people,
and a test checks the two modules against the protocol document. Services, handlers and the consumer build
frames only here; messenger.payloads shapes the objects inside them.
"""

from __future__ import annotations

from typing import Any

from core.errors import ParleyError

PROTOCOL_VERSION = 1


# ---- the socket's own frames -------------------------------------------------------------------------------


def hello_frame(*, user_id: int, username: str) -> dict[str, Any]:
    return {"type": "hello", "protocol": PROTOCOL_VERSION, "user": {"id": user_id, "username": username}}


def pong_frame() -> dict[str, Any]:
    return {"type": "pong"}


def ack_frame(**fields: Any) -> dict[str, Any]:
    """The reply to a frame that did what it asked; `fields` are what that frame type answers with."""
    return {"type": "ack", **fields}


def error_frame(error: ParleyError, *, ref: str | None = None) -> dict[str, Any]:
    """A refusal; `retry_after` (seconds) when trying again later will do (`overloaded`)."""
    frame = {"type": "error", "code": error.code, "message": error.message}
    if (retry_after := getattr(error, "retry_after", None)) is not None:
        frame["retry_after"] = retry_after
    if ref is not None:
        frame["ref"] = ref
    return frame


def sync_result_frame(*, conversations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "sync.result", "conversations": conversations}


# ---- messages ------------------------------------------------------------------------------------------------


def message_frame(*, message: dict[str, Any]) -> dict[str, Any]:
    """A new message; `message` is its messenger.payloads.message_payload."""
    return {"type": "message", "message": message}


def message_updated_frame(*, message: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message.updated", "message": message}


def message_reactions_frame(
    *, conversation_id: int, message_id: int, reactions: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "message.reactions",
        "conversation_id": conversation_id,
        "message_id": message_id,
        "reactions": reactions,
    }


def messages_expired_frame(*, conversation_id: int, message_ids: list[int]) -> dict[str, Any]:
    """Retention removed these messages from the chat for good: drop them."""
    return {"type": "messages.expired", "conversation_id": conversation_id, "message_ids": message_ids}


def read_frame(*, conversation_id: int, user_id: int, seq: int) -> dict[str, Any]:
    return {"type": "read", "conversation_id": conversation_id, "user_id": user_id, "seq": seq}


def typing_frame(*, conversation_id: int, user: dict[str, Any]) -> dict[str, Any]:
    return {"type": "typing", "conversation_id": conversation_id, "user": user}


# ---- conversations -------------------------------------------------------------------------------------------


def conversation_frame(*, conversation: dict[str, Any]) -> dict[str, Any]:
    """The user was added to a conversation; `conversation` is its payload with members."""
    return {"type": "conversation", "conversation": conversation}


def conversation_updated_frame(*, conversation: dict[str, Any]) -> dict[str, Any]:
    """A room changed (its whole payload), or one member's view of it did (only `id` and the changed field)."""
    return {"type": "conversation.updated", "conversation": conversation}


def conversation_left_frame(*, conversation_id: int) -> dict[str, Any]:
    return {"type": "conversation.left", "conversation_id": conversation_id}


def member_left_frame(*, conversation_id: int, user: dict[str, Any]) -> dict[str, Any]:
    return {"type": "member.left", "conversation_id": conversation_id, "user": user}
