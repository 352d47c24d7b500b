"""Every frame the server sends about calls (docs/protocol.md, "Calls"). One builder per frame type, named after
it, like messenger.frames; calls.payloads shapes the call inside them."""

from __future__ import annotations

from typing import Any


def call_ringing_frame(*, call: dict[str, Any]) -> dict[str, Any]:
    """Someone calls this user: show the incoming-call notice (every tab and device of theirs rings)."""
    return {"type": "call.ringing", "call": call}


def call_updated_frame(*, call: dict[str, Any]) -> dict[str, Any]:
    """A call in one of the user's conversations changed: someone answered, joined, left, muted or shared."""
    return {"type": "call.updated", "call": call}


def call_signal_frame(*, call_id: int, from_user_id: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An SDP offer or answer or an ICE candidate from another participant, relayed as it came."""
    return {"type": "call.signal", "call_id": call_id, "from_user_id": from_user_id, "kind": kind, "payload": payload}


def call_ended_frame(*, call: dict[str, Any]) -> dict[str, Any]:
    return {"type": "call.ended", "call": call}
