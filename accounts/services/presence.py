"""What people choose to show (their presence choice and status message), and when they were last seen."""

from __future__ import annotations

from django.utils import timezone

from accounts.errors import PresenceInvalid
from accounts.models import PresenceChoice, User

MAX_STATUS_MESSAGE_LENGTH = 140


def presence_choose(*, user: User, choice: str, status_message: str | None = None) -> User:
    """Store what the user chose to show (and optionally their status message)."""
    if choice not in PresenceChoice.values:
        raise PresenceInvalid(f"Presence is one of {', '.join(PresenceChoice.values)}.")
    fields = {"presence_choice": choice}
    if status_message is not None:
        if len(status_message) > MAX_STATUS_MESSAGE_LENGTH:
            raise PresenceInvalid(f"A status message is at most {MAX_STATUS_MESSAGE_LENGTH} characters.")
        fields["status_message"] = status_message
    User.objects.filter(pk=user.pk).update(**fields)
    for name, value in fields.items():
        setattr(user, name, value)
    return user


def user_last_seen_mark(*, user_id: int) -> str:
    """Record that a user just went offline; returns the time as ISO 8601 for the announcement."""
    now = timezone.now()
    User.objects.filter(pk=user_id).update(last_seen_at=now)
    return now.isoformat()
