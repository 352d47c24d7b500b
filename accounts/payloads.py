"""The JSON shapes of people, shared by the socket frames (accounts.frames, messenger.frames) and the HTTP API
(docs/protocol.md). In accounts, below messenger, so both apps shape a person the same way."""

from __future__ import annotations

import hashlib
from typing import Any

from accounts.models import User


def user_payload(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.name_to_show,
        "avatar": f"/api/v1/users/{user.pk}/avatar?v={avatar_version(user)}" if user.avatar else None,
    }


def avatar_version(user: User) -> str:
    """Changes with every new picture (each is stored under a name made from its content, by
    accounts.services.avatar_set), so browsers may cache one forever."""
    return hashlib.sha256(user.avatar.name.encode()).hexdigest()[:12]


def profile_payload(user: User) -> dict[str, Any]:
    """Someone as the directory, a buddy list and a profile card show them: the user plus their profile."""
    return {
        **user_payload(user),
        "job_title": user.job_title,
        "department": user.department,
        "phone": user.phone,
        "status_message": user.status_message,
    }
