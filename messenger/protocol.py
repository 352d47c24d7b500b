"""The WebSocket frame format (docs/protocol.md): parsing what clients send. What the server sends is built in
messenger.frames and accounts.frames.

Every frame is a JSON object with a `type`. A client may add `ref`, any string of its choosing, and the reply
or error that answers that frame carries the same `ref`. New kinds of traffic (calls, games) add a parser
entry in CLIENT_FRAMES and a handler; nothing else changes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from core.errors import ProtocolError
from core.text import NUL_REFUSED

MAX_FRAME_BYTES = 64 * 1024
MAX_REF_LENGTH = 64
# No frame needs more than a few levels (`sync` has two); deeper ones are refused before any code walks them.
MAX_FRAME_DEPTH = 16
# Integers in frames are ids and seqs: PostgreSQL's bigint holds them, anything longer is refused unparsed.
MAX_INT_DIGITS = 19
MAX_INT = 2**63 - 1
SURROGATE = re.compile(r"[\ud800-\udfff]")


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
        required={"conversation_id": int, "client_id": str, "body": str},
        optional={"reply_to": int, "thread_root_id": int, "also_in_room": bool},
    ),
    "message.edit": Fields(required={"message_id": int, "body": str}),
    "message.delete": Fields(required={"message_id": int}),
    "reaction.add": Fields(required={"message_id": int, "emoji": str}),
    "reaction.remove": Fields(required={"message_id": int, "emoji": str}),
    "read": Fields(required={"conversation_id": int, "seq": int}),
    "typing": Fields(required={"conversation_id": int}),
    "presence.tab": Fields(required={"state": str}),
    "presence.set": Fields(required={"choice": str}, optional={"status_message": str}),
    # Calls (calls/handlers.py; docs/protocol.md, "Calls").
    "call.list": Fields(),
    "call.invite": Fields(required={"conversation_id": int}),
    "call.accept": Fields(required={"call_id": int}),
    "call.join": Fields(required={"call_id": int}),
    "call.decline": Fields(required={"call_id": int}),
    "call.leave": Fields(required={"call_id": int}),
    "call.hangup": Fields(required={"call_id": int}),
    "call.mute": Fields(required={"call_id": int, "muted": bool}),
    "call.screen": Fields(required={"call_id": int, "sharing": bool}),
    "call.signal": Fields(required={"call_id": int, "to_user_id": int, "kind": str, "payload": dict}),
    # Games (games/handlers.py, docs/games.md).
    "game.challenge": Fields(required={"conversation_id": int, "opponent_id": int, "kind": str}),
    "game.accept": Fields(required={"game_id": int}),
    "game.decline": Fields(required={"game_id": int}),
    "game.move": Fields(required={"game_id": int, "move": str}),
    "game.resign": Fields(required={"game_id": int}),
    "game.draw_offer": Fields(required={"game_id": int}),
    "game.draw_accept": Fields(required={"game_id": int}),
    "game.list": Fields(required={"conversation_id": int}),
}


def decode_client_frame(text: str | None) -> dict[str, Any]:
    """Turn the raw text of a socket message into a JSON object, or raise ProtocolError.

    Whatever the text holds, the outcome is a frame or a ProtocolError, never another exception (which ended
    the socket with 1011): deep nesting (the decoder's RecursionError), integers beyond 64 bits (Python's
    digit limit raises a bare ValueError), NaN and infinities, and strings PostgreSQL cannot store (NUL, lone
    surrogates) are all refused here.
    """
    if text is None:
        raise ProtocolError("Frames are JSON text; binary frames are not accepted.")
    # surrogatepass: a lone surrogate must not fail the size check itself; it is refused below.
    if len(text) > MAX_FRAME_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise ProtocolError(f"A frame may be at most {MAX_FRAME_BYTES} bytes.", code="frame_too_large")
    try:
        frame = json.loads(text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise ProtocolError(f"A frame may nest at most {MAX_FRAME_DEPTH} levels.") from None
    except ValueError as error:
        raise ProtocolError(f"The frame is not valid JSON: {getattr(error, 'msg', 'bad value')}.") from None
    if not isinstance(frame, dict):
        raise ProtocolError("A frame must be a JSON object.")
    _check_values(frame)
    return frame


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS or abs(value := int(digits)) > MAX_INT:
        raise ProtocolError("Integers in a frame must fit in 64 bits.")
    return value


def _finite_float(literal: str) -> float:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise ProtocolError("Numbers in a frame must be finite.")
    return value


def _no_constant(name: str) -> None:
    raise ProtocolError(f"{name} is not JSON.")


def _check_values(frame: dict[str, Any]) -> None:
    """Refuse nesting deeper than MAX_FRAME_DEPTH and text PostgreSQL cannot store (U+0000, lone surrogates,
    keys included). A loop over a stack, not recursion: the depth is what is being checked."""
    stack: list[tuple[Any, int]] = [(frame, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise ProtocolError(NUL_REFUSED)
            if SURROGATE.search(value):
                raise ProtocolError("Text must be valid Unicode: a lone surrogate (U+D800 to U+DFFF) is not.")
        elif isinstance(value, dict | list):
            if depth > MAX_FRAME_DEPTH:
                raise ProtocolError(f"A frame may nest at most {MAX_FRAME_DEPTH} levels.")
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)


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


def with_ref(frame: dict[str, Any], ref: str | None) -> dict[str, Any]:
    if ref is not None:
        frame["ref"] = ref
    return frame
