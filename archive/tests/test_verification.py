"""verify_archive passes on an intact archive and names the first tampered position of every kind.

Tampering is done the way an attacker with database access would: raw SQL, with the PostgreSQL trigger
switched off first.
"""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.tests.factories import UserFactory
from archive.models import ArchiveEntry
from archive.tests.tampering import tamper
from archive.verification import archive_verify
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_room():
    """A room with a creation entry and five messages: positions 1..6."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = room_with(alice, bob)
    for index in range(5):
        send(alice if index % 2 else bob, room, f"message {index}")
    other = room_with(bob)
    send(bob, other, "elsewhere")
    return room


def first_problem(report, conversation_id):
    return next(problem for problem in report.problems if problem.conversation_id == conversation_id)


def test_an_intact_archive_verifies(busy_room, capsys):
    call_command("verify_archive", "--no-progress")

    output = capsys.readouterr().out
    assert "archive intact" in output
    assert "checked 8 entries in 2 chains and 6 messages; 0 checkpoints" in output


def test_altered_content_is_found_at_its_position(busy_room):
    entry = ArchiveEntry.objects.get(conversation_id=busy_room.pk, position=4)
    other = ArchiveEntry.objects.get(conversation_id=busy_room.pk, position=5)
    # Put another entry's (validly sealed) content into position 4: the ciphertext would not even open, so
    # change the clear metadata instead, which the hash also covers.
    tamper("UPDATE archive_archiveentry SET actor_id = %s WHERE id = %s", params=[other.actor_id + 1000, entry.pk])

    report = archive_verify()

    problem = first_problem(report, busy_room.pk)
    assert (problem.kind, problem.position) == ("altered", 4)


def test_a_deleted_entry_is_found(busy_room):
    tamper(f"DELETE FROM archive_archiveentry WHERE conversation_id = {busy_room.pk} AND position = 3")

    problem = first_problem(archive_verify(), busy_room.pk)

    assert (problem.kind, problem.position) == ("removed", 4)
    assert "position 3 is missing" in problem.detail


def test_a_deleted_tail_is_found_against_the_chain_head(busy_room):
    tamper(f"DELETE FROM archive_archiveentry WHERE conversation_id = {busy_room.pk} AND position = 6")

    problem = first_problem(archive_verify(), busy_room.pk)

    assert (problem.kind, problem.position) == ("truncated", 6)


def test_an_inserted_entry_is_found(busy_room):
    # Re-number 4..6 up by one and slip a copy of entry 3 (hash and all) in at position 4.
    tamper(
        f"UPDATE archive_archiveentry SET position = position + 100 WHERE conversation_id = {busy_room.pk} "
        "AND position >= 4",
        f"UPDATE archive_archiveentry SET position = position - 99 WHERE conversation_id = {busy_room.pk} "
        "AND position >= 100",
    )
    copy = ArchiveEntry.objects.get(conversation_id=busy_room.pk, position=3)
    tamper(
        "INSERT INTO archive_archiveentry (uid, conversation_id, position, event_type, actor_id, occurred_at, "
        "participants, message_id, payload, prev_hash, entry_hash) SELECT %s, conversation_id, 4, event_type, "
        "actor_id, occurred_at, participants, message_id, payload, prev_hash, entry_hash "
        "FROM archive_archiveentry WHERE id = %s",
        params=["0" * 32 if connection.vendor == "sqlite" else "00000000-0000-0000-0000-000000000000", copy.pk],
    )

    problem = first_problem(archive_verify(), busy_room.pk)

    assert problem.position == 4
    assert problem.kind in {"altered", "inserted_or_reordered"}


def test_swapped_order_is_found(busy_room):
    tamper(
        f"UPDATE archive_archiveentry SET position = -2 WHERE conversation_id = {busy_room.pk} AND position = 2",
        f"UPDATE archive_archiveentry SET position = 2 WHERE conversation_id = {busy_room.pk} AND position = 3",
        f"UPDATE archive_archiveentry SET position = 3 WHERE conversation_id = {busy_room.pk} AND position = -2",
    )

    problem = first_problem(archive_verify(), busy_room.pk)

    assert problem.position == 2


def test_a_message_without_its_entry_is_reported(busy_room):
    message_entry = ArchiveEntry.objects.filter(conversation_id=busy_room.pk, event_type="message_sent").last()
    tamper(f"DELETE FROM archive_archiveentry WHERE id = {message_entry.pk}")
    tamper(
        "UPDATE archive_archivechain SET position = 5, head_hash = %s WHERE conversation_id = %s",
        params=[message_entry.prev_hash, busy_room.pk],
    )

    report = archive_verify()

    assert [problem.kind for problem in report.problems] == ["missing_entry"]
    assert f"message {message_entry.message_id}" in report.problems[0].detail


def test_the_command_exits_non_zero_and_names_the_problem(busy_room, capsys):
    tamper(f"DELETE FROM archive_archiveentry WHERE conversation_id = {busy_room.pk} AND position = 2")

    with pytest.raises(CommandError, match="archive verification failed"):
        call_command("verify_archive", "--no-progress")

    assert f"removed at conversation {busy_room.pk}, position 3" in capsys.readouterr().out
