"""What each call frame does (docs/protocol.md, "Calls"): one service call, and the reply. Registered with the
messenger's handler registry, so the one socket carries calls like everything else; the consumer imports
this module."""

from __future__ import annotations

import contextlib
from typing import Any

from accounts.models import User
from calls import services
from calls.errors import CallNotFound
from calls.ice import ice_servers_for
from calls.payloads import call_payload
from calls.selectors import call_participants, calls_live_for
from messenger import frames
from messenger.handlers import handles

# Frames after which this socket is in a call (the consumer hangs it up when the socket closes).
JOINING_FRAMES = {"call.invite", "call.accept", "call.join"}
LEAVING_FRAMES = {"call.leave", "call.hangup", "call.decline"}


@handles("call.invite")
def invite(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    call = services.call_invite(caller=user, conversation_id=payload["conversation_id"])
    return _joined_reply(user, call)


@handles("call.accept")
@handles("call.join")
def join(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    call = services.call_join(user=user, call_id=payload["call_id"])
    return _joined_reply(user, call)


def _joined_reply(user: User, call: Any) -> dict[str, Any]:
    """The call as it is now, and the ICE servers for its peer connections."""
    payload = call_payload(call, call_participants(call=call))
    return frames.ack_frame(call=payload, ice_servers=ice_servers_for(user_id=user.pk))


@handles("call.list")
def list_calls(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    """The calls ringing or running in the user's conversations now: a client asks on every (re)connect, as it
    sends `sync`, and shows "Join" for them (a call.updated it missed while away is not sent again)."""
    live_calls = calls_live_for(user=user)
    return frames.ack_frame(calls=[call_payload(call, participants) for call, participants in live_calls])


@handles("call.decline")
def decline(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    call = services.call_decline(user=user, call_id=payload["call_id"])
    return frames.ack_frame(call_id=call.pk)


@handles("call.leave")
@handles("call.hangup")
def leave(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    call = services.call_leave(user=user, call_id=payload["call_id"])
    return frames.ack_frame(call_id=call.pk)


@handles("call.mute")
def mute(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    call = services.call_mute_set(user=user, call_id=payload["call_id"], is_muted=payload["muted"])
    return frames.ack_frame(call_id=call.pk, muted=payload["muted"])


@handles("call.screen")
def screen(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    call = services.call_screen_set(user=user, call_id=payload["call_id"], is_sharing=payload["sharing"])
    return frames.ack_frame(call_id=call.pk, sharing=payload["sharing"])


@handles("call.signal")
def signal(user: User, payload: dict[str, Any]) -> dict[str, Any]:
    services.call_signal(
        user=user,
        call_id=payload["call_id"],
        to_user_id=payload["to_user_id"],
        kind=payload["kind"],
        payload=payload["payload"],
    )
    return frames.ack_frame()


def hang_up_on_close(*, user: User, call_id: int) -> None:
    """The socket that was in a call closed (tab closed, network gone): leave the call, so nobody stays busy and
    the others are told. A call already left or ended is nothing to do."""
    with contextlib.suppress(CallNotFound):
        services.call_leave(user=user, call_id=call_id)
