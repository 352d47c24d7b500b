"""Reads about people: who someone watches for presence, the directory, buddy lists."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q

from accounts.models import ApiToken, Contact, ContactGroup, User

PRESENCE_FIELDS = ("id", "status_message", "last_seen_at")


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
        .values(*PRESENCE_FIELDS)
    )
    return list(people)


def presence_people(*, user_ids: list[int]) -> list[dict[str, Any]]:
    return list(User.objects.filter(pk__in=user_ids, is_active=True).values(*PRESENCE_FIELDS))


def buddy_list(*, user: User) -> list[dict[str, Any]]:
    """The user's contact groups in order, each with its people (sorted by name), in two queries."""
    groups = ContactGroup.objects.filter(owner=user).prefetch_related(
        Prefetch("contacts", queryset=Contact.objects.select_related("person").order_by("person__username"))
    )
    return [
        {
            "name": group.name,
            "position": group.position,
            "contacts": [
                {
                    "id": contact.person.pk,
                    "username": contact.person.username,
                    "display_name": contact.person.name_to_show,
                    "job_title": contact.person.job_title,
                    "department": contact.person.department,
                    "status_message": contact.person.status_message,
                }
                for contact in group.contacts.all()
                if contact.person.is_active
            ],
        }
        for group in groups
    ]


def user_for_api_token(*, token: str) -> User | None:
    """The active user a live token belongs to, or None. Marks the token used (at most once a minute)."""
    from django.utils import timezone

    from accounts.services import api_token_hash

    found = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=api_token_hash(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if found is None:
        return None
    now = timezone.now()
    if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found.user


def user_directory(*, search: str = "", limit: int = 50) -> list[dict[str, Any]]:
    """Active people matching a search over names, username, department and title, by name."""
    people = User.objects.filter(is_active=True)
    for word in search.split():
        people = people.filter(
            Q(username__icontains=word)
            | Q(display_name__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(department__icontains=word)
            | Q(job_title__icontains=word)
        )
    return [
        {
            "id": person.pk,
            "username": person.username,
            "display_name": person.name_to_show,
            "department": person.department,
            "job_title": person.job_title,
            "status_message": person.status_message,
        }
        for person in people.order_by("display_name", "username")[: max(1, min(limit, 200))]
    ]
