"""Reads about people: who someone watches for presence, the directory, buddy lists."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q

from accounts.models import Contact, ContactGroup, User

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
