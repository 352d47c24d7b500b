"""messenger/services/rooms.py: direct chats and rooms, opening, creating, joining, archiving."""

import pytest
from django.db import IntegrityError, transaction

from accounts.tests.factories import UserFactory
from core import fanout
from core.testing import Listener
from messenger import services
from messenger.errors import NotAllowed, RoomArchived, RoomInvalid, UserNotFound
from messenger.models import Conversation, Membership
from messenger.tests.factories import room_with, send


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

    def test_public_rooms_can_be_joined_private_ones_cannot(self, alice, bob):
        public, private = room_with(alice, is_public=True), room_with(alice)

        services.room_join(user=bob, conversation_id=public.pk)
        with pytest.raises(NotAllowed):
            services.room_join(user=bob, conversation_id=private.pk)

        assert public.memberships.filter(user=bob).exists()
        assert not private.memberships.filter(user=bob).exists()


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


@pytest.mark.django_db
class TestDefaultRoomFlag:
    def test_a_public_room_becomes_a_default_room_and_back(self, alice):
        room = room_with(alice, name="general", is_public=True)

        services.do_room_default_set(actor=alice, room=room, is_default=True)
        room.refresh_from_db()
        assert room.is_default
        services.do_room_default_set(actor=alice, room=room, is_default=False)
        room.refresh_from_db()
        assert not room.is_default

    def test_a_private_room_or_a_direct_chat_cannot_be_a_default_room(self, alice, bob):
        private = room_with(alice, bob, name="desk")
        direct = services.direct_open(user=alice, other_username="bob")

        for conversation in (private, direct):
            with pytest.raises(RoomInvalid, match="Only a public room"):
                services.do_room_default_set(actor=alice, room=conversation, is_default=True)
        assert not Conversation.objects.filter(is_default=True).exists()

    def test_the_database_refuses_a_private_default_room(self, alice):
        room = room_with(alice, name="desk")

        with pytest.raises(IntegrityError), transaction.atomic():
            Conversation.objects.filter(pk=room.pk).update(is_default=True)
