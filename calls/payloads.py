"""The JSON shape of a call, as frames and replies carry it (docs/protocol.md, "Calls")."""

from __future__ import annotations

from typing import Any

from calls.models import Call, CallParticipant


def participant_state(participant: CallParticipant) -> str:
    if participant.left_at is not None:
        return "left"
    if participant.joined_at is not None:
        return "joined"
    if participant.declined_at is not None:
        return "declined"
    return "ringing"


def call_payload(call: Call, participants: list[CallParticipant]) -> dict[str, Any]:
    """`participants` with their users loaded (calls.selectors.call_participants)."""
    return {
        "id": call.pk,
        "conversation_id": call.conversation_id,
        "started_by": call.started_by_id,
        "state": call.state,
        "end_reason": call.end_reason or None,
        "started_at": call.started_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "duration_seconds": call.duration_seconds,
        "screen_shared": call.screen_shared,
        "participants": [
            {
                "user_id": participant.user_id,
                "username": participant.user.username,
                "display_name": participant.user.display_name,
                "state": participant_state(participant),
                "is_muted": participant.is_muted,
                "is_sharing_screen": participant.is_sharing_screen,
            }
            for participant in participants
        ],
    }
