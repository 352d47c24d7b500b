"""messenger/services/members.py: who is in a room, inviting, leaving, removing, roles."""

import json

import pytest

from accounts.models import User
from accounts.tests.factories import UserFactory
from messenger import services
from messenger.errors import NotAllowed, NotAMember, RoomInvalid, UserNotFound
from messenger.tests.factories import room_with, send


@pytest.mark.django_db
class TestInvitingAndLeaving:
    def test_invite_adds_only_newcomers_and_refuses_unknown_people(self, alice, bob):
        room = room_with(alice, bob)
        carol = UserFactory(username="carol")

        assert services.room_invite(inviter=bob, conversation_id=room.pk, usernames=["alice", "carol"]) == [carol]
        with pytest.raises(UserNotFound):
            services.room_invite(inviter=bob, conversation_id=room.pk, usernames=["nobody"])

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
        made_moderator = ArchiveEntry.objects.filter(conversation_id=room.pk, event_type="member_role_changed")
        bob, carol = (User.objects.get(username=name) for name in ("bob", "carol"))
        assert [
            (entry.actor_id, {**json.loads(entry.payload)["content"], "people": None})
            for entry in made_moderator.order_by("position")
        ] == [  # who they were is sealed too ("people", archive/tests/test_export.py)
            (alice.pk, {"member": bob.pk, "role": "moderator", "previous": "member", "people": None}),
            (alice.pk, {"member": carol.pk, "role": "moderator", "previous": "member", "people": None}),
        ]

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
class TestDefaultRooms:
    @pytest.fixture
    def general(self, alice):
        room = room_with(alice, name="general", is_public=True)
        return services.do_room_default_set(actor=alice, room=room, is_default=True)

    def test_a_new_account_joins_every_default_room_and_the_join_is_archived(self, alice, general):
        from archive.models import ArchiveEntry

        plain = room_with(alice, name="random", is_public=True)
        zoe = UserFactory(username="zoe")

        assert services.default_rooms_join(user=zoe) == [general]

        assert set(general.memberships.values_list("user__username", flat=True)) == {"alice", "zoe"}
        assert not plain.memberships.filter(user=zoe).exists()
        joined = ArchiveEntry.objects.filter(conversation_id=general.pk, event_type="member_added").get()
        assert joined.actor_id == zoe.pk
        content = json.loads(joined.payload)["content"]
        assert {key: content[key] for key in ("added", "via")} == {"added": [zoe.pk], "via": "default_room"}
        assert content["people"][str(zoe.pk)]["username"] == "zoe"  # who joined, as they were then

    def test_joining_twice_adds_and_archives_nothing_more(self, alice, general):
        from archive.models import ArchiveEntry

        zoe = UserFactory(username="zoe")
        services.default_rooms_join(user=zoe)

        assert services.default_rooms_join(user=zoe) == []
        assert ArchiveEntry.objects.filter(conversation_id=general.pk, event_type="member_added").count() == 1

    def test_an_inactive_account_or_an_archived_default_room_is_left_alone(self, alice, general):
        services.room_archive(user=alice, conversation_id=general.pk)
        other = services.do_room_default_set(
            actor=alice, room=room_with(alice, name="announcements", is_public=True), is_default=True
        )

        assert services.default_rooms_join(user=UserFactory(username="gone", is_active=False)) == []
        assert services.default_rooms_join(user=UserFactory(username="zoe")) == [other]
        assert general.memberships.count() == 1
