"""messenger/api/rooms.py: the room directory, creating, managing, joining, inviting, leaving."""

import json

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from messenger.models import Message
from messenger.tests.api import photo_file, post
from messenger.tests.factories import room_with

pytestmark = pytest.mark.django_db


def test_rooms_create_directory_join_invite_leave(as_alice, alice, bob):
    created = post(as_alice, "/api/v1/rooms", {"name": "deals", "topic": "Q4", "is_public": True})
    room_id = created.json()["id"]
    as_bob = Client()
    as_bob.force_login(bob)

    directory = as_bob.get("/api/v1/rooms").json()["rooms"]
    joined = post(as_bob, f"/api/v1/rooms/{room_id}/join")
    carol = UserFactory(username="carol")
    invited = post(as_alice, f"/api/v1/rooms/{room_id}/invite", {"usernames": ["carol"]})
    left = post(as_bob, f"/api/v1/rooms/{room_id}/leave")

    assert created.status_code == 201
    assert [(room["name"], room["is_member"]) for room in directory] == [("deals", False)]
    assert joined.status_code == 200
    assert [person["id"] for person in invited.json()["added"]] == [carol.pk]
    assert left.status_code == 204
    assert [m["username"] for m in as_alice.get(f"/api/v1/conversations/{room_id}").json()["members"]] == [
        "alice",
        "carol",
    ]


def test_a_room_owner_renames_and_archives_a_room(as_alice, alice, bob):
    room = room_with(alice, bob, name="desk")
    as_bob = Client()
    as_bob.force_login(bob)

    renamed = as_alice.patch(
        f"/api/v1/rooms/{room.pk}", json.dumps({"topic": "rates"}), content_type="application/json"
    )
    refused = post(as_bob, f"/api/v1/rooms/{room.pk}/archive")
    archived = post(as_alice, f"/api/v1/rooms/{room.pk}/archive")
    late = post(as_bob, f"/api/v1/conversations/{room.pk}/messages", {"client_id": "late", "body": "hello?"})

    assert renamed.json()["topic"] == "rates"
    assert (refused.status_code, refused.json()["code"]) == (403, "not_allowed")
    assert archived.json()["is_archived"] is True
    assert (late.status_code, late.json()["code"]) == (403, "room_archived")


def test_an_archived_room_refuses_every_write_through_the_api(as_alice, alice, bob):
    from messenger.models import Conversation, Membership

    UserFactory(username="carol")
    room = room_with(alice, bob, name="desk", is_public=True)
    post(as_alice, f"/api/v1/rooms/{room.pk}/archive")
    as_dave = Client()
    as_dave.force_login(UserFactory(username="dave"))

    attempts = {
        "send": post(as_alice, f"/api/v1/conversations/{room.pk}/messages", {"client_id": "c", "body": "hello?"}),
        "share a file": as_alice.post(
            f"/api/v1/conversations/{room.pk}/files", {"file": photo_file(b"notes"), "client_id": "f"}
        ),
        "rename": as_alice.patch(f"/api/v1/rooms/{room.pk}", {"name": "desk 2"}, content_type="application/json"),
        "topic": as_alice.patch(f"/api/v1/rooms/{room.pk}", {"topic": "new"}, content_type="application/json"),
        "invite": post(as_alice, f"/api/v1/rooms/{room.pk}/invite", {"usernames": ["carol"]}),
        "join": post(as_dave, f"/api/v1/rooms/{room.pk}/join"),
        "role": as_alice.patch(
            f"/api/v1/rooms/{room.pk}/members/bob", {"role": "moderator"}, content_type="application/json"
        ),
    }

    assert {name: (r.status_code, r.json()["code"]) for name, r in attempts.items()} == {
        name: (403, "room_archived") for name in attempts
    }
    room = Conversation.objects.get(pk=room.pk)
    assert (room.name, room.topic, room.last_seq) == ("desk", "", 0)
    assert Message.objects.count() == 0
    assert sorted(Membership.objects.filter(conversation=room).values_list("user__username", "role")) == [
        ("alice", "owner"),
        ("bob", "member"),
    ]
    assert as_alice.get(f"/api/v1/conversations/{room.pk}/messages").status_code == 200  # still readable


def test_a_rooms_owner_makes_a_moderator_and_removes_a_member(as_alice, alice, bob):
    room = room_with(alice, bob, UserFactory(username="carol"), name="desk")

    promoted = as_alice.patch(
        f"/api/v1/rooms/{room.pk}/members/bob", json.dumps({"role": "moderator"}), content_type="application/json"
    )
    removed = as_alice.delete(f"/api/v1/rooms/{room.pk}/members/carol")
    refused = as_alice.delete(f"/api/v1/rooms/{room.pk}/members/alice")

    assert promoted.status_code == 200
    assert {member["username"]: member["role"] for member in promoted.json()["members"]} == {
        "alice": "owner",
        "bob": "moderator",
        "carol": "member",
    }
    assert removed.status_code == 204
    assert not room.memberships.filter(user__username="carol").exists()
    assert (refused.status_code, refused.json()["code"]) == (403, "not_allowed")
