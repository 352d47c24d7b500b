"""The WebSocket frame format (docs/protocol.md): parsing what clients send and building what they receive.

Every frame is a JSON object with a `type`. A client may add `ref`, any string of its choosing, and the reply
or error that answers that frame carries the same `ref`. New kinds of traffic (calls, games) add a parser
entry in CLIENT_FRAMES and a handler; nothing else changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core.errors import ParleyError, ProtocolError
from core.text import NUL_REFUSED, contains_nul

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_REF_LENGTH = 64


@dataclass(frozen=True)
class ClientFrame:
    type: str
    ref: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class Fields:
    """The payload fields a frame type takes, with their JSON types. Handlers receive only these."""

    required: dict[str, type] = field(default_factory=dict)
    optional: dict[str, type] = field(default_factory=dict)


# Every frame a client may send. A new kind of traffic (calls, games) is one entry here and one handler.
CLIENT_FRAMES: dict[str, Fields] = {
    "ping": Fields(),
    "sync": Fields(required={"since": dict}),
    "message.send": Fields(
        required={"conversation_id": int, "client_id": str, "body": str}, optional={"reply_to": int}
    ),
    "message.edit": Fields(required={"message_id": int, "body": str}),
    "message.delete": Fields(required={"message_id": int}),
    "reaction.add": Fields(required={"message_id": int, "emoji": str}),
    "reaction.remove": Fields(required={"message_id": int, "emoji": str}),
    "read": Fields(required={"conversation_id": int, "seq": int}),
    "typing": Fields(required={"conversation_id": int}),
    "presence.tab": Fields(required={"state": str}),
    "presence.set": Fields(required={"choice": str}, optional={"status_message": str}),
}


def decode_client_frame(text: str | None) -> dict[str, Any]:
    """Turn the raw text of a socket message into a JSON object, or raise ProtocolError."""
    if text is None:
        raise ProtocolError("Frames are JSON text; binary frames are not accepted.")
    if len(text.encode()) > MAX_FRAME_BYTES:
        raise ProtocolError(f"A frame may be at most {MAX_FRAME_BYTES} bytes.", code="frame_too_large")
    try:
        frame = json.loads(text)
    except ValueError as error:
        raise ProtocolError(f"The frame is not valid JSON: {error.msg}.") from None
    if not isinstance(frame, dict):
        raise ProtocolError("A frame must be a JSON object.")
    if contains_nul(frame):
        raise ProtocolError(NUL_REFUSED)
    return frame


def parse_client_frame(frame: dict[str, Any]) -> ClientFrame:
    """Check a decoded frame against CLIENT_FRAMES and return it typed."""
    frame_type = frame.get("type")
    ref = frame.get("ref")
    if ref is not None and (not isinstance(ref, str) or len(ref) > MAX_REF_LENGTH):
        raise ProtocolError(f"'ref' must be a string of at most {MAX_REF_LENGTH} characters.")
    if not isinstance(frame_type, str):
        raise ProtocolError("A frame needs a string 'type'.")
    fields = CLIENT_FRAMES.get(frame_type)
    if fields is None:
        raise ProtocolError(f"Unknown frame type {frame_type!r}.", code="unknown_type")
    payload = {}
    for name, expected in fields.required.items():
        if frame.get(name) is None:
            raise ProtocolError(f"'{frame_type}' needs '{name}' ({JSON_NAMES[expected]}).", code="missing_field")
        payload[name] = _typed(frame_type, name, frame[name], expected)
    for name, expected in fields.optional.items():
        if frame.get(name) is not None:
            payload[name] = _typed(frame_type, name, frame[name], expected)
    return ClientFrame(type=frame_type, ref=ref, payload=payload)


JSON_NAMES = {int: "an integer", str: "a string", dict: "an object", list: "an array", bool: "true or false"}


def _typed(frame_type: str, name: str, value: Any, expected: type) -> Any:
    # bool is an int in Python; a field that wants a number must not accept true/false.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ProtocolError(f"'{name}' of '{frame_type}' must be {JSON_NAMES[expected]}.", code="invalid_field")
    return value


def safe_ref(frame: Any) -> str | None:
    """The `ref` to echo on an error, if the broken frame had a usable one."""
    if isinstance(frame, dict):
        ref = frame.get("ref")
        if isinstance(ref, str) and len(ref) <= MAX_REF_LENGTH:
            return ref
    return None


def error_frame(error: ParleyError, *, ref: str | None = None) -> dict[str, Any]:
    return with_ref({"type": "error", "code": error.code, "message": error.message}, ref)


def message_frame(message: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "message": message}


def hello_frame(*, user_id: int, username: str) -> dict[str, Any]:
    return {"type": "hello", "protocol": PROTOCOL_VERSION, "user": {"id": user_id, "username": username}}


def with_ref(frame: dict[str, Any], ref: str | None) -> dict[str, Any]:
    if ref is not None:
        frame["ref"] = ref
    return frame
