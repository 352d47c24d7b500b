"""Every communication event writes exactly one archive entry, in the same transaction as the event."""

import itertools
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from accounts.tests.factories import UserFactory
from archive import services as services_module
from archive.chain import canonical_event, entry_hash
from archive.models import GENESIS_HASH, ArchiveEntry, ArchiveImmutable, ArchiveSearchToken
from archive.retention import apply_retention
from archive.search_index import searchable_text
from archive.selectors import ArchiveSearch, archive_search, entries_in_chain_order
from archive.services import archive_record, search_index_rebuild
from archive.tests.factories import old_room
from core import blind_index
from core.crypto import KeyRing, new_key_entry
from core.key_rotation import keys_rotate
from messenger import services
from messenger.errors import NotAllowed
from messenger.models import Message
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


def events(conversation) -> list[tuple[str, dict]]:
    """What each entry records, without the identities every entry seals (tested in test_export.py)."""
    return [
        (e.event_type, without_people(e.content)) for e in entries_in_chain_order(conversation_ids=[conversation.pk])
    ]


def without_people(content: dict) -> dict:
    return {key: value for key, value in content.items() if key != "people"}


def test_room_creation_membership_and_messages_each_leave_one_entry(alice, bob):
    carol = UserFactory(username="carol")
    room = services.room_create(creator=alice, name="deals", topic="Q4", member_usernames=["bob"])
    message = send(bob, room, "the figures")
    services.message_edit(editor=bob, message_id=message.pk, body="the final figures")
    services.message_delete(editor=bob, message_id=message.pk)
    services.room_invite(inviter=alice, conversation_id=room.pk, usernames=["carol"])
    services.conversation_leave(user=carol, conversation_id=room.pk)

    assert events(room) == [
        ("room_created", {"name": "deals", "topic": "Q4", "is_public": False, "members": [alice.pk, bob.pk]}),
        ("message_sent", {"body": "the figures", "seq": 1, "reply_to": None}),
        ("message_edited", {"old": "the figures", "new": "the final figures", "seq": 1}),
        ("message_deleted", {"body": "the final figures", "seq": 1}),
        ("member_added", {"added": [carol.pk], "via": "invite"}),
        ("member_removed", {"removed": [carol.pk]}),
    ]


def test_entries_record_who_when_and_the_participants_at_that_moment(alice, bob):
    room = room_with(alice, bob)
    message = send(alice, room, "hi")
    carol = UserFactory(username="carol")
    services.room_invite(inviter=alice, conversation_id=room.pk, usernames=["carol"])

    sent = ArchiveEntry.objects.get(message_id=message.pk)
    added = ArchiveEntry.objects.get(conversation_id=room.pk, event_type="member_added")
    assert (sent.actor_id, sorted(sent.participants)) == (alice.pk, sorted([alice.pk, bob.pk]))
    assert sorted(added.participants) == sorted([alice.pk, bob.pk, carol.pk])
    assert sent.occurred_at <= added.occurred_at


def test_direct_chat_and_joining_a_public_room_are_archived(alice, bob):
    direct = services.direct_open(user=alice, other_username="bob")
    public = room_with(alice, is_public=True)
    services.room_join(user=bob, conversation_id=public.pk)

    assert events(direct) == [("member_added", {"kind": "direct", "added": sorted([alice.pk, bob.pk])})]
    assert events(public)[-1] == ("member_added", {"added": [bob.pk], "via": "join"})


def test_a_failure_after_the_message_insert_leaves_neither_message_nor_entry(alice, bob):
    room = room_with(alice, bob)
    entries_before = ArchiveEntry.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        send(alice, room, "never happened")
        assert ArchiveEntry.objects.count() == entries_before + 1  # written together inside...
        raise RuntimeError("the step after the insert failed")

    assert not Message.objects.exists()  # ...and gone together
    assert ArchiveEntry.objects.count() == entries_before


@pytest.mark.django_db(transaction=True)
def test_archiving_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        archive_record(event_type="message_sent", conversation_id=1, actor_id=None, participants=[], content={})


def test_each_entry_hashes_its_canonical_form_and_links_to_the_previous_one(alice, bob):
    room = room_with(alice, bob)
    send(alice, room, "one")
    send(bob, room, "two")

    chain = list(entries_in_chain_order(conversation_ids=[room.pk]))

    assert [e.position for e in chain] == [1, 2, 3]
    assert chain[0].prev_hash == GENESIS_HASH
    for before, entry in itertools.pairwise(chain):
        assert entry.prev_hash == before.entry_hash
    for entry in chain:
        assert entry.entry_hash == entry_hash(entry.canonical())


def test_canonical_form_is_stable_json_with_sorted_participants(alice):
    entry = next(entries_in_chain_order(conversation_ids=[room_with(alice).pk]))

    document = json.loads(entry.canonical())

    assert document["participants"] == sorted(document["participants"])
    assert entry.canonical() == canonical_event(
        conversation_id=entry.conversation_id,
        position=entry.position,
        prev_hash=entry.prev_hash,
        event_type=entry.event_type,
        actor_id=entry.actor_id,
        occurred_at=entry.occurred_at,
        participants=list(reversed(entry.participants)),
        message_id=entry.message_id,
        content=entry.content,
        salt=entry.salt,
    )


def test_the_orm_refuses_to_change_or_remove_entries(alice):
    room_with(alice)
    entry = ArchiveEntry.objects.first()

    entry.event_type = "message_sent"
    with pytest.raises(ArchiveImmutable):
        entry.save()
    with pytest.raises(ArchiveImmutable):
        entry.delete()
    with pytest.raises(ArchiveImmutable):
        ArchiveEntry.objects.filter(pk=entry.pk).update(event_type="purge")
    with pytest.raises(ArchiveImmutable):
        ArchiveEntry.objects.all().delete()
    with pytest.raises(ArchiveImmutable):
        ArchiveEntry._base_manager.filter(pk=entry.pk).update(event_type="purge")
    with pytest.raises(ArchiveImmutable):
        ArchiveEntry._base_manager.filter(pk=entry.pk).delete()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE archive_archiveentry SET event_type = 'purge'",
        "UPDATE archive_archiveentry SET payload = payload",
        "DELETE FROM archive_archiveentry",
    ],
)
def test_postgresql_rejects_raw_updates_and_deletes(alice, statement):
    room_with(alice)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert ArchiveEntry.objects.filter(event_type="room_created").count() == 1


@pytest.mark.postgres
def test_postgresql_lets_key_rotation_rewrite_only_the_payload(alice):
    room_with(alice)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL parley.archive_rekey = 'on'")
        cursor.execute("UPDATE archive_archiveentry SET payload = payload")  # allowed: the payload only
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("UPDATE archive_archiveentry SET actor_id = NULL")  # anything else: refused


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_writers_in_several_rooms_leave_chains_that_verify():
    """Only PostgreSQL can break this: SQLite takes one database-wide write lock, so its writers never interleave
    on a chain head and a missing row lock or turn would pass unseen."""
    from archive.verification import archive_verify
    from core.testing import run_in_threads

    people = UserFactory.create_batch(6)
    rooms = [room_with(*people, name=f"desk-{index}") for index in range(3)]

    def chatter(person):
        for index in range(12):
            room = rooms[index % len(rooms)]
            message = send(person, room, f"{person.username} {index}")
            if index % 4 == 0:
                services.message_edit(editor=person, message_id=message.pk, body=f"{person.username} {index}!")

    failures = run_in_threads(chatter, people)

    report = archive_verify()
    assert failures == []
    assert report.is_intact, report.problems
    assert report.messages_checked == len(people) * 12
    assert report.entries_checked == len(rooms) + len(people) * 12 + len(people) * 3


def test_renaming_and_archiving_a_room_are_archived_and_an_archived_room_takes_no_messages(alice, bob):
    room = services.room_create(creator=alice, name="deals", topic="Q4", member_usernames=["bob"])

    services.room_update(user=alice, conversation_id=room.pk, name="deals-2026", topic="Q1")
    services.room_archive(user=alice, conversation_id=room.pk)

    assert events(room)[1:] == [
        ("room_renamed", {"name": ["deals", "deals-2026"], "topic": ["Q4", "Q1"]}),
        ("room_archived", {"name": "deals-2026"}),
    ]
    with pytest.raises(NotAllowed):
        send(bob, room, "anyone there?")
    assert not Message.objects.filter(conversation=room).exists()


def test_only_owners_and_moderators_manage_a_room(alice, bob):
    room = services.room_create(creator=alice, name="desk", member_usernames=["bob"])

    with pytest.raises(NotAllowed):
        services.room_update(user=bob, conversation_id=room.pk, name="mine")
    with pytest.raises(NotAllowed):
        services.room_archive(user=bob, conversation_id=room.pk)
    assert ArchiveEntry.objects.filter(conversation_id=room.pk).count() == 1


# ---- the search index across a key rotation -----------------------------------------------------------------

OLD_KEY, NEW_KEY = new_key_entry("old"), new_key_entry("new")


def found(words: str) -> list[str]:
    return [hit.content["body"] for hit in archive_search(search=ArchiveSearch(words=words)).hits]


def test_search_stays_complete_through_a_key_rotation_and_the_rebuild_leaves_only_the_new_keys_tokens(
    settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path  # rotation walks the stored files too: never the developer's var/media
    settings.PARLEY_ENCRYPTION_KEYS = OLD_KEY
    alice = UserFactory()
    room = room_with(alice)
    send(alice, room, "quarterly figures before")
    settings.PARLEY_ENCRYPTION_KEYS = f"{NEW_KEY},{OLD_KEY}"  # the operator adds a new primary key
    send(alice, room, "quarterly figures after")
    keys_rotate()  # payloads re-sealed; the tokens are still the old key's

    during = found("quarterly figures")
    rebuilt = list(search_index_rebuild(batch_size=2))
    settings.PARLEY_ENCRYPTION_KEYS = NEW_KEY  # the old key can go now

    assert during == found("quarterly figures") == ["quarterly figures before", "quarterly figures after"]
    assert rebuilt[-1].entries == ArchiveEntry.objects.count() and len(rebuilt) > 1  # in batches
    stored = {bytes(token) for token in ArchiveSearchToken.objects.values_list("token", flat=True)}
    new_ring = KeyRing.from_spec(NEW_KEY)
    texts = [searchable_text(event_type=e.event_type, content=e.content) for e in entries_in_chain_order()]
    assert stored == set().union(*(blind_index.text_tokens(text, ring=new_ring) for text in texts))


def test_an_interrupted_rebuild_resumes_after_the_last_entry_it_reported(settings):
    alice = UserFactory()
    room = room_with(alice)
    for index in range(5):
        send(alice, room, f"note {index}")
    first = next(search_index_rebuild(batch_size=2))
    resumed = list(search_index_rebuild(after_id=first.after_id, batch_size=2))

    assert first.entries + resumed[-1].entries == ArchiveEntry.objects.count()
    assert found("note") == [f"note {index}" for index in range(5)]


def test_the_rebuild_command_reports_what_it_did_and_how_to_resume(capsys):
    alice = UserFactory()
    send(alice, room_with(alice), "hello")

    call_command("rebuild_search_index", "--no-progress", "--batch-size", "1")

    assert "re-indexed 2 entries" in capsys.readouterr().out  # the room's creation and the message
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("rebuild_search_index", "--no-progress", "--batch-size", "0")


def test_an_entry_purged_while_the_rebuild_reads_it_gets_no_tokens_back(alice, settings, monkeypatch):
    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    expired = old_room(alice, days=2201)
    purged_ids = list(ArchiveEntry.objects.filter(conversation_id=expired.pk).values_list("pk", flat=True))
    tokenize, purged = services_module.entry_tokens, []

    def purge_after_the_read(**entry):
        if not purged:
            purged.append(apply_retention().purged_entries)  # between reading the batch and writing its tokens
        return tokenize(**entry)

    monkeypatch.setattr(services_module, "entry_tokens", purge_after_the_read)
    list(search_index_rebuild())

    assert purged == [4]
    assert not ArchiveSearchToken.objects.filter(entry_id__in=purged_ids).exists()
