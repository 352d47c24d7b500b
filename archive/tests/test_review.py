"""The archive read by people: names as of the event, events in words, words marked, the covering checkpoint."""

import json

import pytest

from accounts.tests.factories import UserFactory
from archive import signing
from archive.chain import entry_hash
from archive.models import ArchiveCheckpoint, ArchiveEntry
from archive.review import highlighted, readable_entries, transcript
from archive.selectors import ArchiveSearch, archive_search, entries_in_chain_order
from messenger import services
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


def opened(conversation_id: int):
    return list(entries_in_chain_order(conversation_ids=[conversation_id]))


def test_words_are_marked_in_any_case_and_the_rest_is_escaped():
    assert highlighted("Buy <b>ACME</b> now", "acme") == "Buy &lt;b&gt;<mark>ACME</mark>&lt;/b&gt; now"
    assert highlighted("plain", "") == "plain"


def test_people_are_named_as_they_were_when_they_wrote_not_as_they_are_now():
    alice = UserFactory(username="alice", display_name="Alice Old")
    room = room_with(alice, name="desk")
    send(alice, room, "hello")
    alice.display_name, alice.username = "Alice New", "alice2"
    alice.save()

    rows = readable_entries(opened(room.pk))
    message = next(row for row in rows if row.entry.event_type == "message_sent")

    assert str(message.who) == "Alice Old (alice)"
    assert message.where == "#desk"


def test_hits_read_with_rooms_and_direct_chats_named_in_two_queries(django_assert_num_queries):
    carol = UserFactory(username="carol", display_name="")
    UserFactory(username="dave")
    room = room_with(carol, name="desk")
    send(carol, room, "lunch at noon")
    direct = services.direct_open(user=carol, other_username="dave")
    send(carol, direct, "noon works")
    hits = archive_search(search=ArchiveSearch(words="noon")).hits

    with django_assert_num_queries(2):
        rows = readable_entries(hits, words="noon")

    assert [(row.where, str(row.who), row.text) for row in rows] == [
        ("#desk", "carol", "lunch at <mark>noon</mark>"),
        ("direct: carol, dave", "carol", "<mark>noon</mark> works"),
    ]


def test_edits_deletions_reactions_and_threads_read_as_such():
    alice = UserFactory(username="alice")
    room = room_with(alice, name="desk")
    first = send(alice, room, "price is 10")
    services.message_edit(editor=alice, message_id=first.pk, body="price is 12")
    services.reaction_add(user=alice, message_id=first.pk, emoji="👍")
    send(alice, room, "in the thread", thread_root_id=first.pk)
    second = send(alice, room, "oops")
    services.message_delete(editor=alice, message_id=second.pk)

    rows = {row.entry.event_type: row for row in readable_entries(opened(room.pk), words="price")}
    thread_reply = [row for row in readable_entries(opened(room.pk)) if row.thread_root == first.pk]

    edit = rows["message_edited"]
    assert (edit.event, edit.before, edit.after) == ("edited", "<mark>price</mark> is 10", "<mark>price</mark> is 12")
    assert (rows["message_deleted"].event, rows["message_deleted"].deleted) == ("deleted", "oops")
    assert (rows["reaction_added"].event, rows["reaction_added"].text) == ("reaction added", "👍")
    assert rows["room_created"].event == "room created"
    assert [row.text for row in thread_reply] == ["in the thread"]


def test_a_transcript_ends_with_the_signed_checkpoint_that_seals_its_chain():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = room_with(alice, bob, name="desk")
    send(alice, room, "one")
    send(bob, room, "two")

    shown = transcript(conversation_id=room.pk, since=None, until=None)
    custody = shown.custody
    checkpoint = ArchiveCheckpoint.objects.get(pk=custody.checkpoint_id)
    document = checkpoint.document.encode()

    assert [row.text for row in shown.rows if row.entry.event_type == "message_sent"] == ["one", "two"]
    assert custody.document_hash == checkpoint.document_hash
    assert signing.signature_is_valid(public_key=custody.public_key, document=document, signature=custody.signature)
    assert [room.pk, custody.head_position, custody.head_hash] in json.loads(checkpoint.document)["heads"]
    # Each shown entry's hash is recomputed from its content, and the chain from it runs to the sealed head.
    previous = shown.rows[0].entry.prev_hash
    for row in shown.rows:
        assert row.entry.prev_hash == previous
        assert entry_hash(row.entry.canonical()) == row.entry.entry_hash
        previous = row.entry.entry_hash
    assert shown.rows[-1].entry.position == custody.head_position and previous == custody.head_hash


def test_a_transcript_reuses_a_checkpoint_that_already_covers_it():
    alice = UserFactory(username="alice")
    room = room_with(alice, name="desk")
    send(alice, room, "one")

    first = transcript(conversation_id=room.pk, since=None, until=None).custody
    again = transcript(conversation_id=room.pk, since=None, until=None).custody

    assert first == again
    assert ArchiveCheckpoint.objects.count() == 1
    assert ArchiveEntry.objects.filter(conversation_id=room.pk).count() == first.head_position


def test_every_event_type_has_a_readable_name():
    from archive.models import EventType
    from archive.review import EVENT_NAMES

    assert set(EVENT_NAMES) == set(EventType)


def test_a_call_refused_as_busy_reads_as_such_with_who_was_busy():
    from calls import services as calls
    from calls.errors import CallBusy

    alice, bob, carol = (UserFactory(username=name, display_name="") for name in ("alice", "bob", "carol"))
    chat = services.direct_open(user=alice, other_username="bob")
    calls.call_join(user=bob, call_id=calls.call_invite(caller=alice, conversation_id=chat.pk).pk)
    carol_and_bob = services.direct_open(user=carol, other_username="bob")
    with pytest.raises(CallBusy):
        calls.call_invite(caller=carol, conversation_id=carol_and_bob.pk)

    rows = transcript(conversation_id=carol_and_bob.pk, since=None, until=None).rows

    assert [(str(row.who), row.event, row.text) for row in rows if row.event.startswith("call")] == [
        ("carol", "call ended", "Call refused (busy): bob was in another call")
    ]
