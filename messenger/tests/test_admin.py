"""IT manages rooms in admin: every change is archived and reaches the room, and no page shows a message."""

import uuid

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.models import User
from accounts.tests.factories import UserFactory
from archive.models import ArchiveEntry, EventType
from core.testing import force_login_with_second_factor
from messenger.models import Conversation, Membership
from messenger.services import room_invite
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def it_admin() -> Client:
    roles.role_permissions_apply()
    person = UserFactory(username="ivy", is_staff=True)
    person.groups.add(roles.role_group(roles.IT_ADMINS))
    client = Client()
    force_login_with_second_factor(client, person)
    return client


@pytest.fixture
def room(alice, bob):
    room = room_with(alice, bob, name="trading-desk")
    send(alice, room, "confidential figures")
    return room


def archived(room, event_type):
    return ArchiveEntry.objects.filter(conversation_id=room.pk, event_type=event_type)


def test_the_room_pages_list_rooms_only_and_never_show_messages(it_admin, room, alice, bob):
    from messenger.services import direct_open

    direct_open(user=alice, other_username="bob")

    listing = it_admin.get(reverse("admin:messenger_conversation_changelist")).content.decode()
    page = it_admin.get(reverse("admin:messenger_conversation_change", args=[room.pk])).content.decode()

    assert "trading-desk" in listing
    assert "direct" not in listing.lower().split("<tbody>")[-1]
    assert "alice" in page and "bob" in page  # the members
    assert "confidential figures" not in listing + page


def test_it_renames_a_room_and_the_rename_is_archived(it_admin, room):
    response = it_admin.post(
        reverse("admin:messenger_conversation_change", args=[room.pk]), {"name": "fx-desk", "topic": "FX only"}
    )

    assert response.status_code == 302
    room.refresh_from_db()
    assert (room.name, room.topic) == ("fx-desk", "FX only")
    assert archived(room, EventType.ROOM_RENAMED).count() == 1


def test_it_archives_rooms_with_an_action(it_admin, room):
    it_admin.post(
        reverse("admin:messenger_conversation_changelist"), {"action": "archive_rooms", "_selected_action": [room.pk]}
    )

    room.refresh_from_db()
    assert room.is_archived
    assert archived(room, EventType.ROOM_ARCHIVED).count() == 1


def test_it_adds_someone_as_owner_and_removes_someone_both_archived(it_admin, room, bob):
    carol = UserFactory(username="carol")

    added = it_admin.post(
        reverse("admin:messenger_membership_add"), {"conversation": room.pk, "user": carol.pk, "role": "owner"}
    )
    it_admin.post(
        reverse("admin:messenger_membership_changelist"),
        {"action": "remove_members", "_selected_action": [Membership.objects.get(conversation=room, user=bob).pk]},
    )

    assert added.status_code == 302
    assert Membership.objects.get(conversation=room, user=carol).role == "owner"
    assert not Membership.objects.filter(conversation=room, user=bob).exists()
    assert archived(room, EventType.MEMBER_ADDED).count() == 1  # carol (the first members came with room_created)
    assert archived(room, EventType.MEMBER_REMOVED).count() == 1
    made_owner = archived(room, EventType.MEMBER_ROLE_CHANGED).get()
    assert made_owner.actor_id == User.objects.get(username="ivy").pk


def test_rooms_cannot_be_deleted_in_admin(it_admin, room):
    response = it_admin.post(reverse("admin:messenger_conversation_delete", args=[room.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Conversation.objects.filter(pk=room.pk).exists()


def test_a_compliance_officer_cannot_change_rooms(room):
    roles.role_permissions_apply()
    officer = UserFactory(is_staff=True)
    officer.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))
    client = Client()
    force_login_with_second_factor(client, officer)

    response = client.post(reverse("admin:messenger_conversation_change", args=[room.pk]), {"name": "x", "topic": ""})

    assert response.status_code == 403


# ---- IT never makes itself or another IT Admin a member ------------------------------------------------------


def add_member(client: Client, room, person, role: str = "member"):
    return client.post(
        reverse("admin:messenger_membership_add"), {"conversation": room.pk, "user": person.pk, "role": role}
    )


def another_it_admin(username: str = "otto"):
    person = UserFactory(username=username, is_staff=True)
    person.groups.add(roles.role_group(roles.IT_ADMINS))
    return person


def test_an_it_admin_cannot_add_themselves_to_a_room_and_so_cannot_read_it(it_admin, room):
    ivy = User.objects.get(username="ivy")  # the signed-in IT Admin

    response = add_member(it_admin, room, ivy, role="owner")
    history = it_admin.get(f"/api/v1/conversations/{room.pk}/messages")

    assert response.status_code == 200  # the form again, saying why; never a 500
    assert "You cannot make yourself a member of a room from admin" in response.content.decode()
    assert not Membership.objects.filter(conversation=room, user=ivy).exists()
    assert history.status_code in (403, 404)
    assert "confidential figures" not in history.content.decode()
    assert archived(room, EventType.MEMBER_ADDED).count() == 0


def test_an_it_admin_cannot_add_another_it_admin_who_could_read_it(it_admin, room):
    otto = another_it_admin()
    otto_client = Client()
    force_login_with_second_factor(otto_client, otto)

    response = add_member(it_admin, room, otto)
    history = otto_client.get(f"/api/v1/conversations/{room.pk}/messages")

    assert "otto is an IT Admin: only a superuser makes an IT Admin a member of a room from admin." in (
        response.content.decode()
    )
    assert not Membership.objects.filter(conversation=room, user=otto).exists()
    assert history.status_code in (403, 404)
    assert "confidential figures" not in history.content.decode()


def test_the_change_form_cannot_point_a_membership_at_an_it_admin(it_admin, room, bob):
    otto = another_it_admin()
    membership = Membership.objects.get(conversation=room, user=bob)

    it_admin.post(
        reverse("admin:messenger_membership_change", args=[membership.pk]),
        {"conversation": room.pk, "user": otto.pk, "role": "member"},
    )

    membership.refresh_from_db()
    assert membership.user == bob
    assert not Membership.objects.filter(conversation=room, user=otto).exists()


def test_a_superuser_may_add_an_it_admin_and_it_is_archived(room):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    force_login_with_second_factor(client, root)
    otto = another_it_admin()

    response = add_member(client, room, otto)

    assert response.status_code == 302
    assert Membership.objects.filter(conversation=room, user=otto).exists()
    assert archived(room, EventType.MEMBER_ADDED).get().actor_id == root.pk


def test_colleagues_may_still_invite_an_it_admin_in_the_app(room, alice):
    otto = another_it_admin()

    room_invite(inviter=alice, conversation_id=room.pk, usernames=["otto"])

    assert Membership.objects.filter(conversation=room, user=otto).exists()


# ---- today's numbers ------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_presence(settings):
    """A presence store of this test's own, so people left online by earlier tests are not counted."""
    settings.PARLEY_CHANNEL_PREFIX = f"parley-test-today-{uuid.uuid4().hex[:8]}"


def test_it_sees_todays_numbers_and_never_a_message(it_admin, fresh_presence, alice, bob, django_assert_num_queries):
    from accounts import presence

    busy = room_with(alice, bob, name="trading-desk")
    quiet = room_with(alice, bob, name="coffee")
    for body in ("confidential figures", "more figures", "even more"):
        send(alice, busy, body)
    send(bob, quiet, "secret recipe")
    for person in (alice, bob):
        async_to_sync(presence.connection_opened)(user_id=person.pk, connection_id=f"tab-{person.pk}", choice="auto")

    # Session, user, its second-factor device, its permissions (its own, its groups'), then the page's two:
    # the same however many messages and rooms there are.
    with django_assert_num_queries(7):
        response = it_admin.get(reverse("admin:messenger_conversation_today"))
    page = response.content.decode()

    assert response.status_code == 200
    assert '<td id="people-online">2</td>' in page
    assert '<td id="messages-today">4</td>' in page
    rooms = page.split('id="busiest-rooms"')[1]
    assert rooms.index("trading-desk") < rooms.index("coffee")
    assert "<td>3</td>" in rooms and "<td>1</td>" in rooms
    assert not any(text in page for text in ("confidential", "figures", "secret recipe"))


def test_the_rooms_list_links_to_todays_numbers(it_admin):
    listing = it_admin.get(reverse("admin:messenger_conversation_changelist")).content.decode()

    assert reverse("admin:messenger_conversation_today") in listing


@pytest.mark.parametrize("role", [roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS])
def test_an_employee_or_compliance_officer_cannot_see_todays_numbers(room, role):
    roles.role_permissions_apply()
    person = UserFactory(is_staff=True)  # staff, but without the permission to view rooms
    person.groups.add(roles.role_group(role))
    client = Client()
    force_login_with_second_factor(client, person)

    response = client.get(reverse("admin:messenger_conversation_today"))

    assert response.status_code == 403
    assert "trading-desk" not in response.content.decode()


def test_someone_not_staff_is_sent_to_sign_in(room, alice):
    client = Client()
    force_login_with_second_factor(client, alice)

    response = client.get(reverse("admin:messenger_conversation_today"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_it_makes_a_public_room_the_default_room_and_a_private_one_is_refused(it_admin, room, alice):
    lobby = room_with(alice, name="general", is_public=True)
    change = "admin:messenger_conversation_change"

    made = it_admin.post(reverse(change, args=[lobby.pk]), {"name": "general", "topic": "", "is_default": "on"})
    refused = it_admin.post(reverse(change, args=[room.pk]), {"name": "trading-desk", "topic": "", "is_default": "on"})

    assert made.status_code == 302
    assert Conversation.objects.get(pk=lobby.pk).is_default
    assert refused.status_code == 200
    assert "Only a public room can be a default room" in refused.content.decode()
    assert not Conversation.objects.get(pk=room.pk).is_default
    listing = it_admin.get(reverse("admin:messenger_conversation_changelist") + "?is_default__exact=1").content
    assert b"general" in listing and b"trading-desk" not in listing
