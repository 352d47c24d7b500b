"""Retention purges exactly the expired entries, spares legal holds, and leaves a chain that verifies."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.tests.factories import UserFactory
from archive.checkpoints import archive_checkpoint_create
from archive.models import GENESIS_HASH, ArchiveEntry, ArchiveSearchToken, RetentionPolicy
from archive.retention import (
    RetentionBelowFloor,
    apply_retention,
    legal_hold_open,
    legal_hold_release,
    retention_policy_set,
)
from archive.selectors import entries_in_chain_order
from archive.tests.factories import DAY, backdate, old_room, rehash
from archive.verification import archive_verify
from messenger.files import file_share
from messenger.models import Attachment, Message
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


def test_purges_exactly_the_expired_entries_and_the_chain_still_verifies(alice, bob, settings):
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    expired = old_room(alice, bob, days=2201)
    recent = old_room(alice, bob, days=2199)

    report = apply_retention()

    assert report.purged_entries == 4  # room_created + 3 messages
    remaining = [e.event_type for e in entries_in_chain_order(conversation_ids=[expired.pk])]
    assert remaining == ["purge"]
    assert ArchiveEntry.objects.filter(conversation_id=recent.pk).count() == 4
    assert not Message.objects.filter(conversation=expired).exists()  # gone from the chat with the archive
    assert Message.objects.filter(conversation=recent).count() == 3
    assert archive_verify().is_intact


def test_the_purge_takes_the_search_tokens_of_what_it_purges_and_leaves_the_rest(alice, bob, settings):
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    expired = old_room(alice, bob, days=2201)
    recent = old_room(alice, bob, days=2199)
    expired_ids = set(ArchiveEntry.objects.filter(conversation_id=expired.pk).values_list("pk", flat=True))
    recent_ids = set(ArchiveEntry.objects.filter(conversation_id=recent.pk).values_list("pk", flat=True))
    indexed_before = set(ArchiveSearchToken.objects.values_list("entry_id", flat=True))

    apply_retention()

    indexed = set(ArchiveSearchToken.objects.values_list("entry_id", flat=True))
    assert expired_ids & indexed_before and not expired_ids & indexed  # they had tokens, and lost them
    assert recent_ids & indexed == recent_ids & indexed_before != set()


def test_the_purge_records_range_count_and_last_hash(alice, bob, settings):
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    room = old_room(alice, bob, days=2201, messages=2)
    last_hash = ArchiveEntry.objects.get(conversation_id=room.pk, position=3).entry_hash

    apply_retention()

    (purge,) = [e for e in entries_in_chain_order(conversation_ids=[room.pk]) if e.event_type == "purge"]
    assert purge.content == {
        "from_position": 1,
        "to_position": 3,
        "count": 3,
        "first_prev_hash": GENESIS_HASH,
        "last_purged_hash": last_hash,
        "retention_days": 2200,
    }
    assert purge.position == 4


def test_a_legal_hold_on_a_user_spares_their_conversations_until_released(alice, bob, settings):
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    held = old_room(alice, bob, days=2201)
    free = old_room(UserFactory(), days=2201)
    hold = legal_hold_open(by=alice, case_name="SEC inquiry 42", reason="subpoena", users=[bob])

    first = apply_retention()
    legal_hold_release(hold=hold, by=alice)
    second = apply_retention()

    assert first.spared_by_hold == 1
    assert ArchiveEntry.objects.filter(conversation_id=held.pk, event_type="message_sent").count() == 0
    assert ArchiveEntry.objects.filter(conversation_id=free.pk, event_type="message_sent").count() == 0
    assert second.purged_entries == 4
    assert archive_verify().is_intact


def test_a_hold_on_a_room_and_date_range_spares_only_what_it_covers(alice, bob, settings):
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    held = old_room(alice, bob, days=2201)
    other = old_room(alice, bob, days=2201)
    legal_hold_open(
        by=alice, case_name="Room case", reason="litigation", rooms=[held], starts_at=timezone.now() - 2300 * DAY
    )

    apply_retention()

    assert ArchiveEntry.objects.filter(conversation_id=held.pk).count() == 4
    assert [e.event_type for e in entries_in_chain_order(conversation_ids=[other.pk])] == ["purge"]


def test_the_longest_applicable_policy_wins(alice, bob, settings):
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    traders = Group.objects.create(name="Traders")
    bob.groups.add(traders)
    retention_policy_set(name="traders", scope="group", group=traders, archive_days=3000)
    with_trader = old_room(alice, bob, days=2300)
    without = old_room(alice, UserFactory(), days=2300)

    apply_retention()

    assert ArchiveEntry.objects.filter(conversation_id=with_trader.pk).count() == 4
    assert [e.event_type for e in entries_in_chain_order(conversation_ids=[without.pk])] == ["purge"]


def test_no_policy_may_go_below_the_floor_and_the_default_not_below_six_years(settings):
    settings.PARLEY_RETENTION_FLOOR_DAYS = 0  # what settings.py refuses at startup; the code's floor holds anyway

    with pytest.raises(ValidationError, match="at least 1095 days"):
        retention_policy_set(name="short room", scope="room", room=room_with(UserFactory()), archive_days=365)
    with pytest.raises(ValidationError, match="at least 2190 days"):
        retention_policy_set(name="short default", scope="default", archive_days=2189)
    assert retention_policy_set(name="three years", scope="room", room=room_with(UserFactory()), archive_days=1095)


def test_live_chat_retention_removes_old_messages_from_the_chat_but_not_the_archive(alice, bob, settings):
    room = old_room(alice, bob, days=40)
    retention_policy_set(name="ephemeral", scope="room", room=room, archive_days=2000, live_days=30)

    report = apply_retention()

    assert report.chat_messages_removed == 3
    assert not Message.objects.filter(conversation=room).exists()
    assert ArchiveEntry.objects.filter(conversation_id=room.pk, event_type="message_sent").count() == 3
    assert archive_verify().is_intact


def test_opening_changing_and_releasing_a_hold_is_audit_logged(alice, bob):
    from auditlog.models import LogEntry

    hold = legal_hold_open(by=alice, case_name="Case 7", reason="inquiry", users=[bob])
    hold.reason = "inquiry, widened"
    hold.save()
    legal_hold_release(hold=hold, by=alice)

    changes = [entry.changes_dict for entry in LogEntry.objects.get_for_object(hold).order_by("pk")]
    assert "case_name" in changes[0]
    assert any("users" in change for change in changes)
    assert any(change.get("reason") == ["inquiry", "inquiry, widened"] for change in changes)
    assert any("released_at" in change for change in changes)


def test_a_shared_file_outlives_its_chat_message_and_goes_with_its_archive_entry(
    alice, bob, settings, django_capture_on_commit_callbacks
):
    settings.PARLEY_CLAMD_ADDRESS = ""  # shared unscanned: this test is about retention, not scanning
    room = room_with(alice, bob)
    message = file_share(
        sender=alice, conversation_id=room.pk, client_id="f1", name="deck.pdf", content_type="", data=b"%PDF deck"
    )
    stored_as = message.attachment.file.name
    storage = message.attachment.file.storage
    backdate(room, 40)
    rehash(room)
    policy = retention_policy_set(name="ephemeral", scope="room", room=room, archive_days=2000, live_days=30)

    apply_retention()  # the chat forgets the message; the archive still holds the file
    assert not Message.objects.filter(conversation=room).exists()
    assert Attachment.objects.filter(conversation=room).exists()
    assert storage.exists(stored_as)

    policy.delete()
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    backdate(room, 2201)
    rehash(room)
    with django_capture_on_commit_callbacks(execute=True):
        apply_retention()

    assert not Attachment.objects.filter(conversation=room).exists()
    assert not storage.exists(stored_as)
    assert archive_verify().is_intact


# ---- the floor at run time --------------------------------------------------------------------------------


def test_a_default_below_the_floor_is_refused_at_run_time_and_nothing_is_purged(alice, bob, settings):
    room = old_room(alice, bob, days=4000)
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 0  # settings.py refuses this at startup; say it got past anyway

    with pytest.raises(RetentionBelowFloor, match=r"DEFAULT_DAYS \(0 days\) is below the floor of 2190 days"):
        apply_retention()

    assert ArchiveEntry.objects.filter(conversation_id=room.pk).count() == 4


def test_a_policy_row_below_the_floor_is_refused_by_the_command_and_nothing_is_purged(alice, bob):
    room = old_room(alice, bob, days=4000)
    # Written behind retention_policy_set's and the admin's back (a shell, a bad migration, a restored dump).
    RetentionPolicy.objects.create(name="ruinous", scope="default", archive_days=1)

    with pytest.raises(CommandError, match="'ruinous' keeps 1 days, below the floor of 2190 days"):
        call_command("apply_retention")

    assert ArchiveEntry.objects.filter(conversation_id=room.pk).count() == 4
    assert Message.objects.filter(conversation=room).count() == 3


# ---- purge records accumulate -----------------------------------------------------------------------------


def test_purge_records_survive_later_runs_and_the_chain_verifies_after_each(alice, bob, settings):
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    later = timezone.now() + 2201 * DAY  # what the entries written now look like to a run in 2001 days
    room = room_with(alice, bob)
    for body in ("a", "b", "c"):
        send(alice, room, body)  # positions 1..4 with room_created

    apply_retention(now=later)  # purges 1..4, records it at 5
    send(alice, room, "d")
    send(alice, room, "e")  # 6, 7
    archive_checkpoint_create(reason="test")  # seals the head at 7, which the second run purges
    second = apply_retention(now=later)  # purges 6..7 and must keep the record at 5
    send(alice, room, "f")  # 9
    third = apply_retention(now=later)  # purges 9, keeps 5 and 8

    kept = list(entries_in_chain_order(conversation_ids=[room.pk]))
    assert [(entry.position, entry.event_type) for entry in kept] == [(5, "purge"), (8, "purge"), (10, "purge")]
    assert [(e.content["from_position"], e.content["to_position"], e.content["count"]) for e in kept] == [
        (1, 4, 4),
        (6, 7, 2),
        (9, 9, 1),
    ]
    assert kept[1].content["first_prev_hash"] == kept[0].entry_hash
    assert (second.purged_entries, third.purged_entries) == (2, 1)
    report = archive_verify()
    assert report.problems == []
    assert report.purged == [(room.pk, 1, 4), (room.pk, 6, 7), (room.pk, 9, 9)]
    output = io.StringIO()
    call_command("verify_archive", "--no-progress", verbosity=2, stdout=output)
    assert f"conversation {room.pk}: positions 6..7 purged" in output.getvalue()
    assert "archive intact" in output.getvalue()


def test_a_cut_after_a_kept_purge_record_needs_its_own_record(alice, bob, settings):
    from django.db import connection

    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    later = timezone.now() + 2201 * DAY
    room = room_with(alice, bob)
    send(alice, room, "a")
    apply_retention(now=later)  # purges 1..2, record at 3
    send(alice, room, "b")
    send(alice, room, "c")
    apply_retention(now=later)  # purges 4..5, record at 6
    send(alice, room, "d")  # 7

    with connection.cursor() as cursor:  # someone removes the second purge record, as the owner could
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE archive_archiveentry DISABLE TRIGGER archive_entry_append_only")
        cursor.execute("DELETE FROM archive_archiveentry WHERE conversation_id = %s AND position = 6", [room.pk])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE archive_archiveentry ENABLE TRIGGER archive_entry_append_only")

    problems = archive_verify().problems
    assert [(problem.kind, problem.position) for problem in problems] == [("removed", 7)]
