"""Every frame the server sends about people: presence, profiles, the buddy list, and the end of a session
(docs/protocol.md, "Server → client"). One builder per frame type; messenger.frames holds the others, and a
test checks the two against the protocol document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accounts.presence import OFFLINE


def presence_frame(
    *, user_id: int, state: str, version: int, last_seen: str | None = None, status_message: str | None = None
) -> dict[str, Any]:
    """Someone's shown presence changed; `last_seen` goes with offline, `status_message` when it changed."""
    frame: dict[str, Any] = {"type": "presence", "user_id": user_id, "state": state, "version": version}
    if last_seen is not None:
        frame["last_seen"] = last_seen
    if status_message is not None:
        frame["status_message"] = status_message
    return frame


def presence_snapshot_frame(*, people: list[dict[str, Any]], states: dict[int, tuple[str, int]]) -> dict[str, Any]:
    """The presence of `people` (PRESENCE_FIELDS rows of accounts.selectors) with their shown (state, version);
    someone with no state is offline."""
    users = []
    for person in people:
        state, version = states.get(person["id"], (OFFLINE, 0))
        last_seen: datetime | None = person["last_seen_at"]
        users.append(
            {
                "user_id": person["id"],
                "state": state,
                "version": version,
                "status_message": person["status_message"],
                "last_seen": last_seen.isoformat() if last_seen else None,
            }
        )
    return {"type": "presence.snapshot", "users": users}


def user_updated_frame(*, profile: dict[str, Any]) -> dict[str, Any]:
    return {"type": "user.updated", "user": profile}


def contacts_frame(*, groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "contacts", "groups": groups}


def signed_out_frame(*, reason: str) -> dict[str, Any]:
    """Sent just before the server closes a socket whose user or session was signed out."""
    return {"type": "signed_out", "reason": reason}
