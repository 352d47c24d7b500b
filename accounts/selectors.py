"""Reads about people: who someone watches for presence, the directory, buddy lists."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from accounts.models import User


def presence_watchlist(*, user: User) -> list[dict[str, Any]]:
    """Everyone whose presence `user` sees: their contacts and everyone they share a conversation with.

    One query however many people that is (presence is a hot path: no query per contact).
    """
    people = (
        User.objects.filter(
            Q(contact_of__owner=user) | Q(memberships__conversation__memberships__user=user), is_active=True
        )
        .exclude(pk=user.pk)
        .distinct()
        .values("id", "status_message", "last_seen_at")
    )
    return list(people)
