"""Presence through real sockets: contacts and chat partners see people come, go idle, choose and leave; the
worker's heartbeat keeps open sockets online and lets closed ones go."""

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async

from accounts import presence, presence_actions, services
from accounts.models import Contact, ContactGroup, User
from accounts.selectors import presence_watchlist
from accounts.tests.factories import UserFactory
from core import fanout, metrics
from core.testing import MovableClock, frames_before, free_port, next_of_type, session_cookie_for, socket_to_app
from core.tests.test_metrics import samples
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


# ---- the worker's heartbeat ---------------------------------------------------------------------------------

TTL, HEARTBEAT, SWEEP = 0.6, 0.15, 0.1


@pytest.fixture
def fast_presence(settings):
    settings.PARLEY_PRESENCE_TTL_SECONDS = TTL
    settings.PARLEY_PRESENCE_HEARTBEAT_SECONDS = HEARTBEAT
    settings.PARLEY_PRESENCE_SWEEP_SECONDS = SWEEP


async def connection_ids_of(user_id: int) -> list[str]:
    records = await presence._store().read_many([user_id])
    return list(records[user_id].connections) if user_id in records else []


async def bob_online_for_alice(alice, bob):
    """Both connected, alice told that bob is online; with bob's connection id (his socket's channel name)."""
    alice_socket, _ = await connect(alice)
    bob_socket, _ = await connect(bob)
    assert (await presence_of(alice_socket, bob.pk))["state"] == "available"
    [connection_id] = await connection_ids_of(bob.pk)
    return alice_socket, bob_socket, connection_id


async def test_an_open_socket_stays_online_across_several_ttls_with_only_the_worker_heartbeat(
    alice_and_bob, fast_presence, monkeypatch
):
    """Presence's time moves by most of a TTL before each heartbeat round and stands still otherwise, so the
    sweeps (every 0.1 s meanwhile) would find bob expired after the second round were he not refreshed, however
    slowly a busy machine runs the rounds."""
    alice, bob = alice_and_bob
    clock = MovableClock()
    monkeypatch.setattr(presence, "clock", clock)
    rounds, five_rounds = [], asyncio.Event()
    heartbeat_round = presence_actions._heartbeat_round

    async def round_after_most_of_a_ttl(heartbeat) -> None:
        clock.advance(0.9 * TTL)
        await heartbeat_round(heartbeat)
        rounds.append(clock())
        if len(rounds) == 5:  # 4.5 TTLs of presence's time
            five_rounds.set()

    monkeypatch.setattr(presence_actions, "_heartbeat_round", round_after_most_of_a_ttl)
    alice_socket, bob_socket, _ = await bob_online_for_alice(alice, bob)

    await five_rounds.wait()

    assert await frames_before_marker(alice, alice_socket) == []  # nobody was announced offline (or back)
    states = await presence.shown_states([alice.pk, bob.pk])
    assert (states[alice.pk][0], states[bob.pk][0]) == ("available", "available")
    for socket in (alice_socket, bob_socket):
        await socket.disconnect()


async def test_a_connection_lost_from_the_store_is_added_again_and_announced_online(alice_and_bob, fast_presence):
    """What a sweep after a stalled heartbeat, or a Redis restarted empty, leaves: the socket open, its record gone."""
    alice, bob = alice_and_bob
    alice_socket, bob_socket, connection_id = await bob_online_for_alice(alice, bob)

    await presence_actions.announce(await presence.connection_closed(user_id=bob.pk, connection_id=connection_id))
    offline = await presence_of(alice_socket, bob.pk)
    back = await presence_of(alice_socket, bob.pk)  # the next heartbeat round

    assert (offline["state"], back["state"]) == ("offline", "available")
    assert back["version"] > offline["version"]
    assert await connection_ids_of(bob.pk) == [connection_id]
    for socket in (alice_socket, bob_socket):
        await socket.disconnect()


async def test_a_closed_socket_is_no_longer_refreshed_and_a_leftover_connection_expires(alice_and_bob, fast_presence):
    alice, bob = alice_and_bob
    alice_socket, bob_socket, connection_id = await bob_online_for_alice(alice, bob)
    await bob_socket.disconnect()
    assert (await presence_of(alice_socket, bob.pk))["state"] == "offline"

    # As if the close had not reached the store: the connection is back, and only the heartbeat could keep it.
    change = await presence.connection_opened(user_id=bob.pk, connection_id=connection_id, choice="auto")
    await presence_actions.announce(change)
    assert (await presence_of(alice_socket, bob.pk))["state"] == "available"

    assert (await presence_of(alice_socket, bob.pk))["state"] == "offline"  # after TTL + sweep
    assert await connection_ids_of(bob.pk) == []
    await alice_socket.disconnect()


@pytest.mark.redis
async def test_a_heartbeat_round_that_fails_is_counted_and_the_next_one_refreshes_again(settings, fast_presence):
    user_id, connection_id = 424242, "heartbeat-probe"
    await presence.connection_opened(user_id=user_id, connection_id=connection_id, choice="auto")
    presence_actions.presence_heartbeat_add(user_id=user_id, connection_id=connection_id)
    errors_before = presence_errors()
    working_redis = settings.REDIS_HOST

    async def expiry() -> float:
        return (await presence._store().read_many([user_id]))[user_id].connections[connection_id][1]

    async def failure_counted() -> bool:
        return presence_errors() > errors_before

    settings.REDIS_HOST = {"address": f"redis://127.0.0.1:{free_port()}/0"}  # Redis away: nothing listens there
    await until(failure_counted)
    settings.REDIS_HOST = working_redis
    stalled = await expiry()

    async def refreshed_again() -> bool:
        return await expiry() > stalled

    await until(refreshed_again)  # the heartbeat task goes on by itself

    assert (await presence.shown_states([user_id]))[user_id][0] == "available"
    presence_actions.presence_heartbeat_remove(connection_id=connection_id)
    await presence.connection_closed(user_id=user_id, connection_id=connection_id)


def presence_errors() -> float:
    return samples(metrics.exposition()[0].decode())["parley_presence_errors_total"]


async def until(condition) -> None:
    """Wait until the worker's own tasks make `condition` true (pytest's timeout bounds the wait)."""
    while True:
        if await condition():
            return
        await asyncio.sleep(HEARTBEAT / 2)


# ---- following presence as conversations and contacts change ----------------------------------------------


async def snapshot_naming(socket, user_id: int) -> dict:
    """The next presence.snapshot on this socket that names `user_id`."""
    while True:
        frame = await socket.receive_json_from(timeout=3)
        if frame["type"] == "presence.snapshot" and user_id in {entry["user_id"] for entry in frame["users"]}:
            return {entry["user_id"]: entry for entry in frame["users"]}


async def choose(socket, choice: str) -> list[dict]:
    """Choose a presence state and wait for the acknowledgement, sent once the change is announced; the frames
    that came before it."""
    ref = uuid.uuid4().hex[:8]
    await socket.send_json_to({"type": "presence.set", "choice": choice, "ref": ref})
    return await frames_before(socket, lambda frame: frame.get("ref") == ref)


async def frames_before_marker(user, socket) -> list[dict]:
    """The frames this socket receives before a marker sent to its user now: everything announced earlier (an
    acknowledged choice) reaches it first, so what is not among them is not coming."""
    await database_sync_to_async(fanout.to_user)(user.pk, {"type": "test.marker"})
    return await frames_before(socket, lambda frame: frame["type"] == "test.marker")


def presence_about(frames: list[dict], user_id: int) -> list[str]:
    return [frame["state"] for frame in frames if frame["type"] == "presence" and frame["user_id"] == user_id]


async def test_opening_a_direct_chat_follows_the_other_persons_presence_on_the_live_socket():
    from messenger import services as messenger_services

    carol = await database_sync_to_async(UserFactory)(username="carol")
    dave = await database_sync_to_async(UserFactory)(username="dave")
    carol_socket, snapshot = await connect(carol)
    dave_socket, _ = await connect(dave)
    assert dave.pk not in snapshot  # strangers so far

    await database_sync_to_async(messenger_services.direct_open)(user=carol, other_username="dave")

    assert (await snapshot_naming(carol_socket, dave.pk))[dave.pk]["state"] == "available"
    assert (await snapshot_naming(dave_socket, carol.pk))[carol.pk]["state"] == "available"
    await dave_socket.send_json_to({"type": "presence.set", "choice": "busy"})
    assert (await presence_of(carol_socket, dave.pk))["state"] == "busy"
    for socket in (carol_socket, dave_socket):
        await socket.disconnect()


async def test_someone_added_to_a_room_and_its_members_follow_each_other_without_a_reload():
    from messenger import services as messenger_services

    owner = await database_sync_to_async(UserFactory)(username="owner")
    member = await database_sync_to_async(UserFactory)(username="member")
    newcomer = await database_sync_to_async(UserFactory)(username="newcomer")
    room = await database_sync_to_async(room_with)(owner, member)
    member_socket, _ = await connect(member)
    newcomer_socket, _ = await connect(newcomer)

    await database_sync_to_async(messenger_services.room_invite)(
        inviter=owner, conversation_id=room.pk, usernames=["newcomer"]
    )

    seen_by_newcomer = await snapshot_naming(newcomer_socket, member.pk)
    assert seen_by_newcomer[member.pk]["state"] == "available"
    assert seen_by_newcomer[owner.pk]["state"] == "offline"
    assert (await snapshot_naming(member_socket, newcomer.pk))[newcomer.pk]["state"] == "available"
    await newcomer_socket.send_json_to({"type": "presence.tab", "state": "idle"})
    assert (await presence_of(member_socket, newcomer.pk))["state"] == "away"
    for socket in (member_socket, newcomer_socket):
        await socket.disconnect()


async def test_leaving_the_only_shared_room_stops_following_but_a_contact_stays_followed():
    from messenger import services as messenger_services

    owner = await database_sync_to_async(UserFactory)(username="owner")
    friend = await database_sync_to_async(UserFactory)(username="friend")
    stranger = await database_sync_to_async(UserFactory)(username="stranger")
    await contacts(owner, friend)
    room = await database_sync_to_async(room_with)(owner, friend, stranger)
    owner_socket, snapshot = await connect(owner)
    friend_socket, _ = await connect(friend)
    stranger_socket, _ = await connect(stranger)
    assert {friend.pk, stranger.pk} <= set(snapshot)

    for person in (friend, stranger):
        await database_sync_to_async(messenger_services.conversation_leave)(user=person, conversation_id=room.pk)
    await next_of_type(owner_socket, "member.left")
    await next_of_type(owner_socket, "member.left")
    heard = {socket: [] for socket in (owner_socket, friend_socket, stranger_socket)}
    for socket in (stranger_socket, friend_socket, owner_socket):
        heard[socket] += await choose(socket, "busy")
    for user, socket in ((owner, owner_socket), (friend, friend_socket), (stranger, stranger_socket)):
        heard[socket] += await frames_before_marker(user, socket)

    assert presence_about(heard[owner_socket], friend.pk) == ["busy"]  # a contact: still followed
    assert presence_about(heard[owner_socket], stranger.pk) == []
    assert presence_about(heard[stranger_socket], owner.pk) == []  # nothing links them any more, either way
    assert presence_about(heard[friend_socket], owner.pk) == []  # a contact is one way: the owner has the friend
    for socket in (owner_socket, friend_socket, stranger_socket):
        await socket.disconnect()


async def test_removing_a_contact_stops_following_them_unless_a_conversation_is_shared():
    alice = await database_sync_to_async(UserFactory)(username="alice")
    bob = await database_sync_to_async(UserFactory)(username="bob")
    await database_sync_to_async(services.contact_add)(owner=alice, username="bob")
    alice_socket, snapshot = await connect(alice)
    bob_socket, _ = await connect(bob)
    assert bob.pk in snapshot

    await database_sync_to_async(services.contact_remove)(owner=alice, username="bob")
    await next_of_type(alice_socket, "contacts")
    await choose(bob_socket, "busy")

    assert presence_about(await frames_before_marker(alice, alice_socket), bob.pk) == []
    for socket in (alice_socket, bob_socket):
        await socket.disconnect()
