"""The messenger's writes: who may do what, what is stored, and what is announced after commit."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from accounts.tests.factories import UserFactory
from core import fanout
from core.ratelimit import TokenBucket
from core.testing import run_in_threads
from messenger import services
from messenger.errors import BodyInvalid, NotAllowed, NotAMember, RateLimited, RoomArchived, RoomInvalid, UserNotFound
from messenger.models import Conversation, Membership, Mention, Message, MessageVersion
from messenger.tests.factories import room_with, send


class Listener:
    """A channel subscribed to one group, like a member's open socket."""

    def __init__(self, group: str) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(group, self.channel)

    def frames(self, timeout: float = 0.5) -> list[dict]:
        async def drain():
            received = []
            while True:
                try:
                    event = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
                except TimeoutError:
                    return received
                received.append(json.loads(event["text"]))

        return async_to_sync(drain)()


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

    def test_a_flood_beyond_the_rate_limit_is_refused(self, alice, monkeypatch):
        monkeypatch.setattr(services.messages, "send_rate_limit", TokenBucket(rate=0.001, burst=3))
        room = room_with(alice)
        for _ in range(3):
            send(alice, room)

        with pytest.raises(RateLimited):
            send(alice, room)
        assert Message.objects.count() == 3

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

        # participants, resend check, savepoint, seq, insert, read marker,
        # archive chain, archive entry, chain head, release savepoint
        with django_assert_num_queries(10):
            send(people[1], room, "a message for everyone")


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_in_one_room_get_unique_gap_free_seqs():
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


@pytest.mark.django_db
class TestReactionsAndReading:
    def test_reactions_are_counted_per_emoji_with_who_reacted(self, alice, bob):
        message = send(alice, room_with(alice, bob))

        services.reaction_add(user=alice, message_id=message.pk, emoji="👍")
        services.reaction_add(user=bob, message_id=message.pk, emoji="👍")
        services.reaction_add(user=bob, message_id=message.pk, emoji="🎉")
        summary = services.reaction_add(user=bob, message_id=message.pk, emoji="🎉")  # twice: still one

        assert summary == [
            {"emoji": "👍", "count": 2, "user_ids": [alice.pk, bob.pk]},
            {"emoji": "🎉", "count": 1, "user_ids": [bob.pk]},
        ]
        assert services.reaction_remove(user=bob, message_id=message.pk, emoji="👍") == [
            {"emoji": "👍", "count": 1, "user_ids": [alice.pk]},
            {"emoji": "🎉", "count": 1, "user_ids": [bob.pk]},
        ]

    @pytest.mark.parametrize("emoji", ["", "two words", "x" * 33])
    def test_a_malformed_emoji_is_refused(self, alice, emoji):
        message = send(alice, room_with(alice))

        with pytest.raises(BodyInvalid):
            services.reaction_add(user=alice, message_id=message.pk, emoji=emoji)

    def test_read_marker_only_moves_forward_and_not_past_the_last_message(self, alice, bob):
        room = room_with(alice, bob)
        for _ in range(3):
            send(alice, room)

        assert services.read_mark(user=bob, conversation_id=room.pk, seq=2) == 2
        assert services.read_mark(user=bob, conversation_id=room.pk, seq=1) == 2
        assert services.read_mark(user=bob, conversation_id=room.pk, seq=99) == 3
        assert Membership.objects.get(user=bob, conversation=room).last_read_seq == 3


@pytest.mark.django_db
class TestConversations:
    def test_a_direct_chat_is_found_again_from_either_side(self, alice, bob):
        opened = services.direct_open(user=alice, other_username="bob")

        assert services.direct_open(user=bob, other_username="alice") == opened
        assert set(opened.memberships.values_list("user__username", flat=True)) == {"alice", "bob"}

    def test_a_direct_chat_needs_an_active_user(self, alice):
        UserFactory(username="gone", is_active=False)

        with pytest.raises(UserNotFound):
            services.direct_open(user=alice, other_username="gone")

    def test_room_creator_owns_it_and_invited_people_are_members(self, alice, bob):
        room = services.room_create(creator=alice, name="deals", member_usernames=["bob"])

        roles = dict(room.memberships.values_list("user__username", "role"))
        assert roles == {"alice": "owner", "bob": "member"}

    def test_room_names_are_unique(self, alice):
        services.room_create(creator=alice, name="deals")

        with pytest.raises(RoomInvalid):
            services.room_create(creator=alice, name="deals")

    def test_invite_adds_only_newcomers_and_refuses_unknown_people(self, alice, bob):
        room = room_with(alice, bob)
        carol = UserFactory(username="carol")

        assert services.room_invite(inviter=bob, conversation_id=room.pk, usernames=["alice", "carol"]) == [carol]
        with pytest.raises(UserNotFound):
            services.room_invite(inviter=bob, conversation_id=room.pk, usernames=["nobody"])

    def test_public_rooms_can_be_joined_private_ones_cannot(self, alice, bob):
        public, private = room_with(alice, is_public=True), room_with(alice)

        services.room_join(user=bob, conversation_id=public.pk)
        with pytest.raises(NotAllowed):
            services.room_join(user=bob, conversation_id=private.pk)

        assert public.memberships.filter(user=bob).exists()
        assert not private.memberships.filter(user=bob).exists()

    def test_leaving_a_room_ends_membership_but_a_direct_chat_cannot_be_left(self, alice, bob):
        room = room_with(alice, bob)
        direct = services.direct_open(user=alice, other_username="bob")

        services.conversation_leave(user=bob, conversation_id=room.pk)
        with pytest.raises(NotAllowed):
            services.conversation_leave(user=bob, conversation_id=direct.pk)

        assert not room.memberships.filter(user=bob).exists()
        with pytest.raises(NotAMember):
            send(bob, room)


@pytest.mark.django_db
class TestRoomMembers:
    @pytest.fixture
    def room(self, alice, bob):
        """alice owns it; bob moderates it; carol and dave are members."""
        room = room_with(alice, bob, UserFactory(username="carol"), UserFactory(username="dave"), name="desk")
        services.room_member_role_set(user=alice, conversation_id=room.pk, username="bob", role="moderator")
        return room

    def roles(self, room) -> dict[str, str]:
        return dict(room.memberships.values_list("user__username", "role"))

    def test_the_owner_makes_moderators_and_removes_anyone_else_archived(self, alice, room):
        from archive.models import ArchiveEntry

        services.room_member_role_set(user=alice, conversation_id=room.pk, username="carol", role="moderator")
        services.room_member_remove(user=alice, conversation_id=room.pk, username="bob")

        assert self.roles(room) == {"alice": "owner", "carol": "moderator", "dave": "member"}
        removal = ArchiveEntry.objects.filter(conversation_id=room.pk, event_type="member_removed").get()
        assert removal.actor_id == alice.pk

    def test_a_moderator_removes_plain_members_only_and_changes_no_roles(self, bob, room):
        services.room_member_remove(user=bob, conversation_id=room.pk, username="dave")

        with pytest.raises(NotAllowed):
            services.room_member_remove(user=bob, conversation_id=room.pk, username="alice")
        with pytest.raises(NotAllowed):
            services.room_member_role_set(user=bob, conversation_id=room.pk, username="carol", role="moderator")
        assert self.roles(room) == {"alice": "owner", "bob": "moderator", "carol": "member"}

    def test_members_manage_nobody_and_nobody_manages_themselves(self, alice, room):
        dave = room.memberships.get(user__username="dave").user
        with pytest.raises(NotAllowed):
            services.room_member_remove(user=dave, conversation_id=room.pk, username="carol")
        with pytest.raises(NotAllowed):
            services.room_member_remove(user=alice, conversation_id=room.pk, username="alice")
        with pytest.raises(RoomInvalid):
            services.room_member_remove(user=alice, conversation_id=room.pk, username="nobody")
        with pytest.raises(RoomInvalid):
            services.room_member_role_set(user=alice, conversation_id=room.pk, username="dave", role="owner")


@pytest.mark.django_db
class TestArchivedRoom:
    """An archived room is read-only for good, whichever way a write comes in."""

    @pytest.fixture
    def room(self, alice, bob):
        room = room_with(alice, bob, name="closed deal", is_public=True)
        Membership.objects.filter(conversation=room, user=bob).update(role=Membership.Role.MODERATOR)
        self.message = send(bob, room, "final numbers")
        services.room_archive(user=alice, conversation_id=room.pk)
        return room

    def writes(self, alice, bob, carol, room):
        message_id = self.message.pk
        return {
            "send": lambda: services.message_send(sender=bob, conversation_id=room.pk, client_id="late", body="hi"),
            "edit": lambda: services.message_edit(editor=bob, message_id=message_id, body="changed"),
            "delete": lambda: services.message_delete(editor=bob, message_id=message_id),
            "react": lambda: services.reaction_add(user=alice, message_id=message_id, emoji="👍"),
            "unreact": lambda: services.reaction_remove(user=alice, message_id=message_id, emoji="👍"),
            "typing": lambda: services.typing_notify(user=alice, conversation_id=room.pk),
            "invite": lambda: services.room_invite(inviter=alice, conversation_id=room.pk, usernames=["carol"]),
            "join": lambda: services.room_join(user=carol, conversation_id=room.pk),
            "add in admin": lambda: services.do_members_add(actor=alice, room=room, usernames=["carol"], via="admin"),
            "rename": lambda: services.room_update(user=alice, conversation_id=room.pk, name="reopened"),
            "topic": lambda: services.room_update(user=bob, conversation_id=room.pk, topic="new topic"),
            "role": lambda: services.room_member_role_set(
                user=alice, conversation_id=room.pk, username="bob", role=Membership.Role.MEMBER
            ),
        }

    @pytest.mark.parametrize(
        "write",
        [
            "send",
            "edit",
            "delete",
            "react",
            "unreact",
            "typing",
            "invite",
            "join",
            "add in admin",
            "rename",
            "topic",
            "role",
        ],
    )
    def test_every_write_is_refused_with_room_archived(
        self, alice, bob, room, write, django_capture_on_commit_callbacks
    ):
        carol = UserFactory(username="carol")
        listener = Listener(fanout.conversation_group(room.pk))

        with django_capture_on_commit_callbacks(execute=True) as announcements, pytest.raises(RoomArchived) as refusal:
            self.writes(alice, bob, carol, room)[write]()

        assert refusal.value.code == "room_archived"
        assert announcements == []
        room.refresh_from_db()
        self.message.refresh_from_db()
        assert (room.name, room.topic, room.last_seq) == ("closed deal", "", 1)
        assert (self.message.body, self.message.deleted_at, self.message.reactions.count()) == (
            "final numbers",
            None,
            0,
        )
        assert sorted(Membership.objects.filter(conversation=room).values_list("user__username", "role")) == [
            ("alice", "owner"),
            ("bob", "moderator"),
        ]
        assert listener.frames(timeout=0.2) == []

    def test_members_still_read_mark_read_mute_and_leave_it(self, alice, bob, room):
        assert services.read_mark(user=alice, conversation_id=room.pk, seq=1) == 1
        services.membership_mute(user=alice, conversation_id=room.pk, is_muted=True)
        services.conversation_leave(user=bob, conversation_id=room.pk)

        assert list(Membership.objects.filter(conversation=room).values_list("user__username", flat=True)) == ["alice"]

    def test_archiving_again_is_harmless(self, alice, room):
        assert services.room_archive(user=alice, conversation_id=room.pk).is_archived
