"""Archives made to look old: what years of time would leave behind, for retention, holds and purges."""

from datetime import timedelta

from django.utils import timezone

from archive.models import ArchiveEntry, ArchiveSearchToken
from archive.selectors import entries_in_chain_order
from messenger.models import Message
from messenger.tests.factories import room_with, send

DAY = timedelta(days=1)


def backdate(conversation, days: int) -> None:
    """Make a conversation's archive and messages look `days` old (what time would do)."""
    from django.db import connection

    past = timezone.now() - days * DAY
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE archive_archiveentry DISABLE TRIGGER archive_entry_append_only")
        cursor.execute(
            "UPDATE archive_archiveentry SET occurred_at = %s WHERE conversation_id = %s", [past, conversation.pk]
        )
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE archive_archiveentry ENABLE TRIGGER archive_entry_append_only")
    Message.objects.filter(conversation=conversation).update(created_at=past)
    ArchiveSearchToken.objects.filter(
        entry_id__in=ArchiveEntry.objects.filter(conversation_id=conversation.pk).values("pk")
    ).update(occurred_at=past)  # the index's copy of the time, as archive_record would have written it


def rehash(conversation) -> None:
    """Backdating changed what the hashes cover; rebuild the chain as if the entries had been written then."""
    from django.db import connection

    from archive.chain import entry_hash
    from archive.models import GENESIS_HASH, ArchiveChain

    previous = GENESIS_HASH
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE archive_archiveentry DISABLE TRIGGER archive_entry_append_only")
        for entry in list(entries_in_chain_order(conversation_ids=[conversation.pk])):
            rebuilt = entry.__class__(**{**entry.__dict__, "prev_hash": previous})
            digest = entry_hash(rebuilt.canonical())
            cursor.execute(
                "UPDATE archive_archiveentry SET prev_hash = %s, entry_hash = %s WHERE id = %s",
                [previous, digest, entry.pk],
            )
            previous = digest
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE archive_archiveentry ENABLE TRIGGER archive_entry_append_only")
    ArchiveChain.objects.filter(pk=conversation.pk).update(head_hash=previous)


def old_room(*members, days: int, messages: int = 3):
    room = room_with(*members)
    for index in range(messages):
        send(members[0], room, f"old {index}")
    backdate(room, days)
    rehash(room)
    return room
