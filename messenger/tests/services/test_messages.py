"""messenger/services/messages.py: sending, editing and deleting messages."""

import uuid

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction

from accounts import presence
from accounts.tests.factories import UserFactory
from core import fanout
from core.ratelimit import TokenBucket
from core.testing import Listener, run_in_threads
from messenger import services
from messenger.errors import BodyInvalid, NotAllowed, NotAMember, RateLimited
from messenger.models import Conversation, Membership, Mention, Message, MessageVersion
from messenger.tests.factories import room_with, send


@pytest.mark.django_db
class TestMessageSend:
    def test_stores_the_message_with_the_next_seq_and_marks_it_read_for_the_sender(self, alice, bob):
        room = room_with(alice, bob)

        first = send(alice, room, "one")
        second = send(bob, room, "two")

        assert (first.seq, second.seq) == (1, 2)
        assert Message.objects.get(pk=second.pk).body == "two"
        assert Membership.objects.get(user=bob, conversation=room).last_read_seq == 2
        assert Conversation.objects.get(pk=room.pk).last_seq == 2

    def test_resend_with_same_client_id_returns_original_message(self, alice, bob):
        room = room_with(alice, bob)
        original = services.message_send(sender=alice, conversation_id=room.pk, client_id="c-1", body="hi")

        again = services.message_send(sender=alice, conversation_id=room.pk, client_id="c-1", body="hi")

        assert again.pk == original.pk
        assert again.seq == original.seq
        assert Message.objects.count() == 1

    def test_non_member_cannot_send_and_learns_nothing_about_the_conversation(self, alice, bob):
        room = room_with(alice)

        with pytest.raises(NotAMember):
            send(bob, room)
        with pytest.raises(NotAMember):
            services.message_send(sender=bob, conversation_id=999_999, client_id="x", body="hi")
        assert Message.objects.count() == 0

    @pytest.mark.parametrize(
        ("body", "code"), [("", "body_invalid"), ("  \n ", "body_invalid"), ("x" * 10_001, "body_too_long")]
    )
    def test_refuses_empty_and_overlong_bodies(self, alice, body, code):
        room = room_with(alice)

        with pytest.raises(BodyInvalid) as refused:
            send(alice, room, body)

        assert refused.value.code == code

    def test_accepts_a_body_of_exactly_the_limit(self, alice):
        assert send(alice, room_with(alice), "x" * 10_000).seq == 1

    @pytest.mark.parametrize("client_id", ["", "c" * 65])
    def test_refuses_a_bad_client_id(self, alice, client_id):
        with pytest.raises(BodyInvalid) as refused:
            services.message_send(sender=alice, conversation_id=room_with(alice).pk, client_id=client_id, body="x")

        assert refused.value.code == "client_id_invalid"

    def test_reply_quotes_a_message_of_the_same_conversation_only(self, alice, bob):
        room, other_room = room_with(alice, bob), room_with(alice)
        quoted = send(bob, room, "lunch?")
        elsewhere = send(alice, other_room, "private")

        reply = send(alice, room, "yes", reply_to_id=quoted.pk)
        with pytest.raises(BodyInvalid) as refused:
            send(alice, room, "leak", reply_to_id=elsewhere.pk)

        assert reply.reply_to == quoted
        assert refused.value.code == "reply_invalid"

    def test_records_mentions_of_members_only(self, alice, bob):
        outsider = UserFactory(username="carol")
        room = room_with(alice, bob)

        message = send(alice, room, "hey @bob and @carol, mail me at x@bob.example")

        assert list(Mention.objects.values_list("message_id", "user_id")) == [(message.pk, bob.pk)]
        assert outsider.pk not in Mention.objects.values_list("user_id", flat=True)

    @pytest.mark.parametrize(
        ("body", "named"),
        [("thanks @bob, see you", "bob"), ("ask @bob.", "bob"), ("(@bob)", "bob"), ("@bob.smith: hi", "bob.smith")],
    )
    def test_a_mention_ends_before_the_punctuation_after_it(self, alice, body, named):
        person = UserFactory(username=named)
        message = send(alice, room_with(alice, person), body)

        assert list(Mention.objects.filter(message=message).values_list("user__username", flat=True)) == [named]

    def test_channel_in_a_room_mentions_every_other_member(self, alice, bob):
        carol, outsider = UserFactory(), UserFactory()
        room = room_with(alice, bob, carol)

        message = send(alice, room, "@channel the release is out")

        assert _mentioned(message) == {bob.pk, carol.pk}
        assert outsider.pk not in _mentioned(message)

    def test_here_in_a_room_mentions_the_members_online_now(self, alice, bob, online):
        carol, dave, eve = UserFactory(), UserFactory(), UserFactory(presence_choice="invisible")
        room = room_with(alice, bob, carol, dave, eve)
        online(alice, bob, eve)

        message = send(alice, room, "anyone @here?")

        # carol and dave are offline; eve is online but shown offline, as everyone sees her; alice sent it
        assert _mentioned(message) == {bob.pk}

    def test_here_with_nobody_else_online_mentions_only_who_is_named(self, alice, bob):
        carol = UserFactory(username="carol")
        room = room_with(alice, bob, carol)

        message = send(alice, room, "@here and @carol")

        assert _mentioned(message) == {carol.pk}

    @pytest.mark.parametrize("body", ["@channel", "@here", "hey @here and @channel"])
    def test_channel_and_here_are_plain_text_in_a_direct_chat(self, alice, bob, online, body):
        chat = services.direct_open(user=alice, other_username=bob.username)
        online(alice, bob)

        message = send(alice, chat, body)

        assert _mentioned(message) == set()

    @pytest.mark.parametrize("body", ["@channel, look", "@here, look"])
    def test_mentioning_everyone_costs_the_same_two_queries_whatever_the_room_size(
        self, body, online, django_assert_num_queries
    ):
        small, large = UserFactory.create_batch(3), UserFactory.create_batch(40)
        small_room, large_room = room_with(*small), room_with(*large)
        online(*small, *large)
        send(small[0], small_room)  # warm-up, as in the test below

        # participants, savepoint, seq, insert, read marker, mentioned members, mentions (one bulk insert),
        # archive chain, archive entry, chain head, search tokens (one bulk insert), release savepoint
        with django_assert_num_queries(12):
            send(small[1], small_room, body)
        with django_assert_num_queries(12):
            message = send(large[1], large_room, body)

        assert len(_mentioned(message)) == 39

    def test_a_flood_beyond_the_rate_limit_is_refused(self, alice, monkeypatch):
        monkeypatch.setattr(services.messages, "send_rate_limit", TokenBucket(rate=0.001, burst=3))
        room = room_with(alice)
        for _ in range(3):
            send(alice, room)

        with pytest.raises(RateLimited):
            send(alice, room)
        assert Message.objects.count() == 3

    def test_a_resend_past_the_rate_limit_is_still_answered_with_the_original(self, alice, monkeypatch):
        """A client that lost its acks resends its outbox at once after reconnecting: what was stored is
        answered, not refused (it writes nothing)."""
        monkeypatch.setattr(services.messages, "send_rate_limit", TokenBucket(rate=0.001, burst=2))
        room = room_with(alice)
        first = services.message_send(sender=alice, conversation_id=room.pk, client_id="c-1", body="one")
        services.message_send(sender=alice, conversation_id=room.pk, client_id="c-2", body="two")

        again = services.message_send(sender=alice, conversation_id=room.pk, client_id="c-1", body="one")

        assert again.pk == first.pk
        with pytest.raises(RateLimited):
            services.message_send(sender=alice, conversation_id=room.pk, client_id="c-3", body="three")
        assert Message.objects.count() == 2

    def test_is_delivered_to_the_conversation_after_commit_once(self, alice, bob, django_capture_on_commit_callbacks):
        room = room_with(alice, bob)
        member_socket = Listener(fanout.conversation_group(room.pk))

        with django_capture_on_commit_callbacks(execute=True):
            message = send(alice, room, "hello bob")

        frames = member_socket.frames()
        assert [(f["type"], f["message"]["id"], f["message"]["body"]) for f in frames] == [
            ("message", message.pk, "hello bob")
        ]

    def test_nothing_is_delivered_for_a_send_that_rolls_back(self, alice, bob, django_capture_on_commit_callbacks):
        room = room_with(alice, bob)
        member_socket = Listener(fanout.conversation_group(room.pk))

        with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
            send(alice, room, "never")
            raise RuntimeError("a later step failed")

        assert member_socket.frames() == []
        assert not Message.objects.exists()

    @pytest.mark.parametrize("room_size", [2, 40])
    def test_costs_the_same_queries_whatever_the_room_size(self, room_size, django_assert_num_queries):
        people = UserFactory.create_batch(room_size)
        room = room_with(*people)
        send(people[0], room)  # warm-up: nothing is cached between sends, but keep the measured call typical

        # participants, savepoint, seq, insert, read marker,
        # archive chain, archive entry, chain head, search tokens (one bulk insert of the distinct words: the
        # blind index, archive.search_index), release savepoint (the sender's identity, sealed into the entry,
        # comes from the account at hand: no query)
        with django_assert_num_queries(10):
            send(people[1], room, "a message for everyone")


@pytest.mark.django_db
class TestThreads:
    def test_a_thread_reply_names_its_root_and_counts_on_it(self, alice, bob):
        room = room_with(alice, bob)
        root = send(alice, room, "approve the trade?")

        first = send(bob, room, "looking", thread_root_id=root.pk)
        second = send(alice, room, "thanks", thread_root_id=root.pk, also_in_room=True)

        root.refresh_from_db()
        assert (first.thread_root_id, first.also_in_room) == (root.pk, False)
        assert (second.thread_root_id, second.also_in_room) == (root.pk, True)
        assert (root.thread_reply_count, root.thread_last_reply_at) == (2, second.created_at)
        assert (first.seq, second.seq) == (2, 3)  # replies are messages of the conversation: synced, counted

    def test_answering_a_reply_goes_into_the_same_thread_one_level_deep(self, alice, bob):
        room = room_with(alice, bob)
        root = send(alice, room, "root")
        reply = send(bob, room, "reply", thread_root_id=root.pk)

        answer = send(alice, room, "answer to the reply", thread_root_id=reply.pk)

        assert answer.thread_root_id == root.pk
        assert Message.objects.get(pk=root.pk).thread_reply_count == 2
        assert Message.objects.get(pk=reply.pk).thread_reply_count == 0

    def test_a_thread_in_another_conversation_is_refused_and_nothing_is_stored(self, alice, bob):
        elsewhere = send(alice, room_with(alice), "private")
        room = room_with(alice, bob)

        with pytest.raises(BodyInvalid) as refused:
            send(bob, room, "sneaky", thread_root_id=elsewhere.pk)

        assert refused.value.code == "thread_invalid"
        assert Message.objects.filter(conversation=room).count() == 0
        assert Message.objects.get(pk=elsewhere.pk).thread_reply_count == 0

    def test_a_thread_reply_is_archived_with_its_thread(self, alice, bob):
        from archive.selectors import entries_in_chain_order

        room = room_with(alice, bob)
        root = send(alice, room, "root")
        send(bob, room, "in the thread", thread_root_id=root.pk, also_in_room=True)

        entry = list(entries_in_chain_order(conversation_ids=[room.pk]))[-1]
        assert entry.content["thread_root"] == root.pk and entry.content["also_in_room"] is True

    def test_a_thread_reply_costs_two_queries_more_whatever_the_room_size(self, django_assert_num_queries):
        people = UserFactory.create_batch(40)
        room = room_with(*people)
        root = send(people[0], room, "root")

        # the ten of a send, plus the thread's root and its reply count
        with django_assert_num_queries(12):
            send(people[1], room, "a reply", thread_root_id=root.pk)


def _mentioned(message: Message) -> set[int]:
    return set(Mention.objects.filter(message=message).values_list("user_id", flat=True))


@pytest.fixture
def online():
    """Open a live connection for some users, as their socket would; closed again after the test."""
    opened = []

    def open_for(*users):
        for user in users:
            connection_id = uuid.uuid4().hex
            async_to_sync(presence.connection_opened)(
                user_id=user.pk, connection_id=connection_id, choice=user.presence_choice
            )
            opened.append((user.pk, connection_id))

    yield open_for
    for user_id, connection_id in opened:
        async_to_sync(presence.connection_closed)(user_id=user_id, connection_id=connection_id)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_send_outside_any_transaction_costs_its_turn_on_top(django_assert_num_queries):
    people = UserFactory.create_batch(3)
    room = room_with(*people)
    send(people[0], room)

    # participants, take the turn (core.commit_order), BEGIN, seq, insert, read marker,
    # archive chain, archive entry, chain head, search tokens, COMMIT, end the turn
    with django_assert_num_queries(12):
        send(people[1], room, "a message for everyone")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_in_one_room_get_unique_gap_free_seqs():
    """Only PostgreSQL can break this: SQLite serialises every write behind one database lock, so two senders
    never read the same last seq and a missing lock on the room would pass unseen."""
    senders = UserFactory.create_batch(8)
    room = room_with(*senders)
    per_sender = 25

    def send_many(sender):
        for index in range(per_sender):
            send(sender, room, f"{sender.username} {index}")

    failures = run_in_threads(send_many, senders)

    assert failures == []
    seqs = sorted(Message.objects.filter(conversation=room).values_list("seq", flat=True))
    assert seqs == list(range(1, len(senders) * per_sender + 1))


@pytest.mark.django_db
class TestEditAndDelete:
    def test_edit_replaces_the_text_and_keeps_the_earlier_version(self, alice, bob):
        message = send(alice, room_with(alice, bob), "draft")

        services.message_edit(editor=alice, message_id=message.pk, body="final")

        message.refresh_from_db()
        assert message.body == "final"
        assert message.edited_at is not None
        assert [version.body for version in MessageVersion.objects.filter(message=message)] == ["draft"]

    def test_delete_hides_the_text_but_keeps_it_as_a_version(self, alice, bob):
        message = send(alice, room_with(alice, bob), "oops")

        services.message_delete(editor=alice, message_id=message.pk)

        message.refresh_from_db()
        assert message.deleted_at is not None
        assert message.body == ""
        assert [version.body for version in MessageVersion.objects.filter(message=message)] == ["oops"]

    def test_only_the_sender_may_edit_or_delete(self, alice, bob):
        message = send(alice, room_with(alice, bob), "mine")

        with pytest.raises(NotAllowed):
            services.message_edit(editor=bob, message_id=message.pk, body="yours")
        with pytest.raises(NotAllowed):
            services.message_delete(editor=bob, message_id=message.pk)
        message.refresh_from_db()
        assert message.body == "mine"

    def test_a_non_member_cannot_even_find_the_message(self, alice, bob):
        message = send(alice, room_with(alice), "secret")

        with pytest.raises(NotAMember):
            services.message_edit(editor=bob, message_id=message.pk, body="x")

    def test_a_deleted_message_cannot_be_edited(self, alice):
        message = send(alice, room_with(alice), "gone")
        services.message_delete(editor=alice, message_id=message.pk)

        with pytest.raises(NotAllowed):
            services.message_edit(editor=alice, message_id=message.pk, body="back")


@pytest.mark.django_db(transaction=True)
def test_a_message_stored_while_the_channel_layer_is_away_is_a_success_for_its_sender(alice, bob, settings, client):
    """A Redis restart used to answer stored sends with internal_error (the fault run of the real-time bench):
    the commit had happened, only the announcement failed. Clients catch up with sync when they see the gap."""
    from core.tests.test_metrics import samples

    errors_before = samples(client.get("/metrics").content.decode())["parley_channel_layer_errors_total"]
    room = room_with(alice, bob)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},  # nothing listens on port 1
        }
    }

    message = services.message_send(sender=alice, conversation_id=room.pk, client_id="c-away", body="still here")

    assert Message.objects.get(pk=message.pk).body == "still here"
    errors_after = samples(client.get("/metrics").content.decode())["parley_channel_layer_errors_total"]
    assert errors_after == errors_before + 1


@pytest.mark.django_db(transaction=True)
def test_a_send_renders_its_body_before_its_transaction_takes_the_conversations_locks(monkeypatch):
    """Every other send to the conversation waits for those locks until COMMIT (docs/benchmarks.md, S2): the
    costly rendering happens outside them, once, and the frame and the ack reuse it."""
    from messenger import payloads

    people = UserFactory.create_batch(2)
    room = room_with(*people)
    renders = []
    render_body = payloads.render_body

    def watched_render(body: str) -> str:
        renders.append(transaction.get_connection().in_atomic_block)
        return render_body(body)

    monkeypatch.setattr(payloads, "render_body", watched_render)

    message = send(people[0], room, "**bold** words")

    assert renders == [False]
    assert "<strong>bold</strong>" in payloads.message_payload(message)["html"]
    assert renders == [False]
