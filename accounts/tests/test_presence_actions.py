"""Presence through real sockets: contacts and chat partners see people come, go idle, choose and leave."""

import pytest
from channels.db import database_sync_to_async

from accounts import services
from accounts.models import Contact, ContactGroup, User
from accounts.selectors import presence_watchlist
from accounts.tests.factories import UserFactory
from core.testing import session_cookie_for, socket_to_app
from messenger.tests.factories import room_with

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(user):
    socket = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(user))
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["type"] == "hello"
    snapshot = await socket.receive_json_from()
    assert snapshot["type"] == "presence.snapshot"
    return socket, {entry["user_id"]: entry for entry in snapshot["users"]}


async def presence_of(socket, user_id: int) -> dict:
    """The next presence announcement about `user_id` on this socket."""
    while True:
        frame = await socket.receive_json_from(timeout=3)
        if frame["type"] == "presence" and frame["user_id"] == user_id:
            return frame


@database_sync_to_async
def contacts(owner, *people):
    group, _ = ContactGroup.objects.get_or_create(owner=owner, name="Team")
    for person in people:
        Contact.objects.create(owner=owner, group=group, person=person)


@pytest.fixture
async def alice_and_bob():
    alice = await database_sync_to_async(UserFactory)(username="alice")
    bob = await database_sync_to_async(UserFactory)(username="bob")
    await contacts(alice, bob)
    return alice, bob


async def test_a_contact_sees_someone_come_online_and_go_offline_with_last_seen(alice_and_bob):
    alice, bob = alice_and_bob
    alice_socket, snapshot = await connect(alice)
    assert snapshot[bob.pk]["state"] == "offline"

    bob_socket, _ = await connect(bob)
    online = await presence_of(alice_socket, bob.pk)
    await bob_socket.disconnect()
    offline = await presence_of(alice_socket, bob.pk)

    assert online["state"] == "available"
    assert offline["state"] == "offline"
    assert offline["last_seen"] is not None
    assert offline["version"] > online["version"]
    refreshed = await database_sync_to_async(User.objects.get)(pk=bob.pk)
    assert refreshed.last_seen_at is not None
    await alice_socket.disconnect()


async def test_the_snapshot_shows_who_is_online_already(alice_and_bob):
    alice, bob = alice_and_bob
    bob_socket, _ = await connect(bob)

    alice_socket, snapshot = await connect(alice)

    assert snapshot[bob.pk]["state"] == "available"
    assert snapshot[alice.pk]["state"] == "available"  # your own state, for your own status menu
    for socket in (alice_socket, bob_socket):
        await socket.disconnect()


async def test_people_sharing_a_room_see_each_other_without_being_contacts():
    carol = await database_sync_to_async(UserFactory)(username="carol")
    dave = await database_sync_to_async(UserFactory)(username="dave")
    await database_sync_to_async(room_with)(carol, dave)
    carol_socket, _ = await connect(carol)

    dave_socket, _ = await connect(dave)

    assert (await presence_of(carol_socket, dave.pk))["state"] == "available"
    for socket in (carol_socket, dave_socket):
        await socket.disconnect()


async def test_several_tabs_count_as_one_presence_and_idle_tabs_make_away(alice_and_bob):
    alice, bob = alice_and_bob
    alice_socket, _ = await connect(alice)
    first_tab, _ = await connect(bob)
    await presence_of(alice_socket, bob.pk)
    second_tab, _ = await connect(bob)

    await first_tab.send_json_to({"type": "presence.tab", "state": "idle"})
    await second_tab.send_json_to({"type": "presence.tab", "state": "idle"})
    away = await presence_of(alice_socket, bob.pk)
    await second_tab.disconnect()
    await first_tab.send_json_to({"type": "presence.tab", "state": "active"})
    back = await presence_of(alice_socket, bob.pk)

    assert away["state"] == "away"
    assert back["state"] == "available"
    await first_tab.disconnect()
    assert (await presence_of(alice_socket, bob.pk))["state"] == "offline"
    await alice_socket.disconnect()


async def test_busy_and_invisible_are_shown_as_chosen_with_the_status_message(alice_and_bob):
    alice, bob = alice_and_bob
    alice_socket, _ = await connect(alice)
    bob_socket, _ = await connect(bob)
    await presence_of(alice_socket, bob.pk)

    await bob_socket.send_json_to({"type": "presence.set", "choice": "busy", "status_message": "In a meeting"})
    busy = await presence_of(alice_socket, bob.pk)
    await bob_socket.send_json_to({"type": "presence.set", "choice": "invisible"})
    invisible = await presence_of(alice_socket, bob.pk)

    assert (busy["state"], busy["status_message"]) == ("busy", "In a meeting")
    assert invisible["state"] == "offline"
    stored = await database_sync_to_async(User.objects.get)(pk=bob.pk)
    assert (stored.presence_choice, stored.status_message) == ("invisible", "In a meeting")
    for socket in (alice_socket, bob_socket):
        await socket.disconnect()


@pytest.mark.parametrize(
    "frame", [{"type": "presence.set", "choice": "sleeping"}, {"type": "presence.tab", "state": "asleep"}]
)
async def test_an_unknown_presence_state_gets_an_error_frame(alice_and_bob, frame):
    alice, _ = alice_and_bob
    socket, _ = await connect(alice)

    await socket.send_json_to({**frame, "ref": "p"})

    error = await socket.receive_json_from(timeout=3)
    assert (error["type"], error["code"], error["ref"]) == ("error", "presence_invalid", "p")
    await socket.disconnect()


@pytest.mark.parametrize("contact_count", [5, 60])
def test_the_watchlist_costs_one_query_however_many_contacts(contact_count, django_assert_num_queries):
    owner = UserFactory()
    group = ContactGroup.objects.create(owner=owner, name="Everyone")
    people = UserFactory.create_batch(contact_count)
    Contact.objects.bulk_create(Contact(owner=owner, group=group, person=person) for person in people)
    room_with(owner, *people[:3])

    with django_assert_num_queries(1):
        watched = presence_watchlist(user=owner)

    assert {entry["id"] for entry in watched} == {person.pk for person in people}


async def test_a_new_contact_is_followed_at_once_by_every_tab_of_the_owner():
    erin = await database_sync_to_async(UserFactory)(username="erin")
    frank = await database_sync_to_async(UserFactory)(username="frank")
    frank_socket, _ = await connect(frank)
    erin_socket, snapshot = await connect(erin)
    assert frank.pk not in snapshot  # not a contact yet, no shared conversation

    await database_sync_to_async(services.contact_add)(owner=erin, username="frank")
    while (frame := await erin_socket.receive_json_from(timeout=3))["type"] != "presence.snapshot":
        pass
    await frank_socket.send_json_to({"type": "presence.set", "choice": "busy"})

    assert [(u["user_id"], u["state"]) for u in frame["users"]] == [(frank.pk, "available")]
    assert (await presence_of(erin_socket, frank.pk))["state"] == "busy"
    for socket in (erin_socket, frank_socket):
        await socket.disconnect()
