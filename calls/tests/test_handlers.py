"""Call frames on /ws/, through the whole ASGI application: ringing, answering, signaling between participants
only, mute and screen, hanging up (also by closing the socket), the ring timeout, refusals and bad input."""

import uuid

import pytest
from channels.db import database_sync_to_async

from calls.models import Call
from calls.tests.factories import UserFactory, direct_between, room_with
from core.testing import frames_before, next_of_type, session_cookie_for, socket_to_app

pytestmark = pytest.mark.django_db(transaction=True)

SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
CANDIDATE = {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}

create_user = database_sync_to_async(UserFactory)
create_room = database_sync_to_async(room_with)
create_direct = database_sync_to_async(direct_between)


async def open_socket(user):
    socket = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(user))
    assert (await socket.connect())[0]
    await next_of_type(socket, "presence.snapshot")
    return socket


async def request(socket, frame: dict, *, skipped: list[dict] | None = None) -> dict:
    """Send a frame with a fresh ref; the reply carrying it (other frames are skipped, kept in `skipped` if given)."""
    ref = uuid.uuid4().hex[:8]
    await socket.send_json_to({**frame, "ref": ref})
    while (reply := await socket.receive_json_from(timeout=3)).get("ref") != ref:
        if skipped is not None:
            skipped.append(reply)
    return reply


async def marker_sent(sender_socket, conversation):
    """Send a message to the conversation: a marker each member receives after anything fanned out to them
    before it. Returns the test that recognises it (for core.testing.frames_before)."""
    body = f"marker {uuid.uuid4().hex[:8]}"
    await request(
        sender_socket, {"type": "message.send", "conversation_id": conversation.pk, "client_id": body, "body": body}
    )
    return lambda frame: frame["type"] == "message" and frame["message"]["body"] == body


@pytest.fixture
async def people():
    alice, bob, carol = [await create_user(username=name) for name in ("alice", "bob", "carol")]
    sockets = {name: await open_socket(user) for name, user in (("alice", alice), ("bob", bob), ("carol", carol))}
    yield {"alice": alice, "bob": bob, "carol": carol, "sockets": sockets}
    for socket in sockets.values():
        await socket.disconnect()


async def call_in_direct_chat(people) -> tuple[int, object]:
    """alice calls bob, bob accepts: the call's id and the chat."""
    chat = await create_direct(people["alice"], people["bob"])
    alice, bob = people["sockets"]["alice"], people["sockets"]["bob"]
    invited = await request(alice, {"type": "call.invite", "conversation_id": chat.pk})
    ringing = await next_of_type(bob, "call.ringing")
    await request(bob, {"type": "call.accept", "call_id": ringing["call"]["id"]})
    return invited["call"]["id"], chat


async def test_a_call_rings_is_answered_relays_offer_answer_and_ice_and_hangs_up_for_both(people):
    chat = await create_direct(people["alice"], people["bob"])
    alice, bob = people["sockets"]["alice"], people["sockets"]["bob"]

    invited = await request(alice, {"type": "call.invite", "conversation_id": chat.pk})
    ringing = await next_of_type(bob, "call.ringing")
    accepted = await request(bob, {"type": "call.accept", "call_id": ringing["call"]["id"]})
    answered = await next_of_type(alice, "call.updated")
    while answered["call"]["state"] != "active":
        answered = await next_of_type(alice, "call.updated")

    assert invited["type"] == "ack" and invited["ice_servers"] == []
    assert ringing["call"]["started_by"] == people["alice"].pk
    assert accepted["call"]["state"] == "active"
    assert {p["username"]: p["state"] for p in answered["call"]["participants"]} == {"alice": "joined", "bob": "joined"}

    call_id = invited["call"]["id"]
    offer = {"type": "call.signal", "call_id": call_id, "to_user_id": people["alice"].pk, "kind": "offer"}
    await request(bob, {**offer, "payload": {"type": "offer", "sdp": SDP}})
    relayed = await next_of_type(alice, "call.signal")
    assert relayed == {
        "type": "call.signal",
        "call_id": call_id,
        "from_user_id": people["bob"].pk,
        "kind": "offer",
        "payload": {"type": "offer", "sdp": SDP},
    }
    answer = {"type": "call.signal", "call_id": call_id, "to_user_id": people["bob"].pk, "kind": "answer"}
    await request(alice, {**answer, "payload": {"type": "answer", "sdp": SDP}})
    assert (await next_of_type(bob, "call.signal"))["kind"] == "answer"
    await request(alice, {**answer, "kind": "ice", "payload": {**CANDIDATE, "extra": "dropped"}})
    assert (await next_of_type(bob, "call.signal"))["payload"] == CANDIDATE

    await request(alice, {"type": "call.hangup", "call_id": call_id})
    ended_for_alice, ended_for_bob = await next_of_type(alice, "call.ended"), await next_of_type(bob, "call.ended")
    assert ended_for_alice["call"]["state"] == ended_for_bob["call"]["state"] == "ended"
    assert ended_for_bob["call"]["end_reason"] == "hung_up"


async def test_mute_and_screen_sharing_are_shown_to_the_others(people):
    call_id, _chat = await call_in_direct_chat(people)
    alice, bob = people["sockets"]["alice"], people["sockets"]["bob"]

    assert (await request(alice, {"type": "call.mute", "call_id": call_id, "muted": True}))["muted"] is True
    while not (frame := await next_of_type(bob, "call.updated"))["call"]["participants"][0]["is_muted"]:
        pass
    await request(alice, {"type": "call.screen", "call_id": call_id, "sharing": True})
    while not (frame := await next_of_type(bob, "call.updated"))["call"]["screen_shared"]:
        pass

    sharing = {p["username"]: p["is_sharing_screen"] for p in frame["call"]["participants"]}
    assert sharing == {"alice": True, "bob": False}


async def test_declining_ends_the_call_for_the_caller(people):
    chat = await create_direct(people["alice"], people["bob"])
    alice, bob = people["sockets"]["alice"], people["sockets"]["bob"]
    await request(alice, {"type": "call.invite", "conversation_id": chat.pk})
    ringing = await next_of_type(bob, "call.ringing")

    await request(bob, {"type": "call.decline", "call_id": ringing["call"]["id"]})

    assert (await next_of_type(alice, "call.ended"))["call"]["end_reason"] == "declined"


async def test_a_non_member_can_neither_ring_nor_join_nor_signal_nor_hear_a_rooms_call(people):
    room = await create_room(people["alice"], people["bob"])
    alice, carol = people["sockets"]["alice"], people["sockets"]["carol"]
    alice_and_carol = await create_direct(people["alice"], people["carol"])  # for the marker
    await next_of_type(carol, "conversation")
    heard: list[dict] = []

    refused = await request(carol, {"type": "call.invite", "conversation_id": room.pk})
    assert refused["code"] == "not_a_member"
    call_id = (await request(alice, {"type": "call.invite", "conversation_id": room.pk}))["call"]["id"]
    assert (await request(carol, {"type": "call.join", "call_id": call_id}, skipped=heard))["code"] == "call_not_found"
    signal = {"type": "call.signal", "call_id": call_id, "to_user_id": people["alice"].pk, "kind": "offer"}
    assert (await request(carol, {**signal, "payload": {"sdp": SDP}}, skipped=heard))["code"] == "call_not_found"
    await request(people["sockets"]["bob"], {"type": "call.join", "call_id": call_id})
    await request(alice, {**signal, "to_user_id": people["bob"].pk, "payload": {"sdp": SDP}})
    heard += await frames_before(carol, await marker_sent(alice, alice_and_carol))

    assert [frame["type"] for frame in heard if frame["type"].startswith("call")] == []


async def test_a_member_who_is_not_in_the_call_receives_none_of_its_signaling(people):
    room = await create_room(people["alice"], people["bob"], people["carol"])
    alice, bob, carol = (people["sockets"][name] for name in ("alice", "bob", "carol"))
    call_id = (await request(alice, {"type": "call.invite", "conversation_id": room.pk}))["call"]["id"]
    await request(bob, {"type": "call.join", "call_id": call_id})
    to_carol = {"type": "call.signal", "call_id": call_id, "to_user_id": people["carol"].pk, "kind": "offer"}

    assert (await request(alice, {**to_carol, "payload": {"sdp": SDP}}))["code"] == "signal_invalid"
    await request(alice, {**to_carol, "to_user_id": people["bob"].pk, "payload": {"sdp": SDP}})
    assert (await next_of_type(bob, "call.signal"))["kind"] == "offer"
    frames_for_carol = [frame["type"] for frame in await frames_before(carol, await marker_sent(alice, room))]
    assert "call.signal" not in frames_for_carol
    assert "call.ringing" in frames_for_carol  # she is a member: rung, and may join


async def test_a_member_connecting_during_a_rooms_call_learns_of_it_and_others_do_not(people):
    room = await create_room(people["alice"], people["bob"], people["carol"])
    alice, bob = people["sockets"]["alice"], people["sockets"]["bob"]
    call_id = (await request(alice, {"type": "call.invite", "conversation_id": room.pk}))["call"]["id"]
    await request(bob, {"type": "call.join", "call_id": call_id})
    outsider = await create_user(username="dave")

    carol_reloaded, dave = await open_socket(people["carol"]), await open_socket(outsider)
    live = (await request(carol_reloaded, {"type": "call.list"}))["calls"]
    unseen = (await request(dave, {"type": "call.list"}))["calls"]

    assert [(call["id"], call["conversation_id"], call["state"]) for call in live] == [(call_id, room.pk, "active")]
    assert {p["username"]: p["state"] for p in live[0]["participants"]} == {
        "alice": "joined",
        "bob": "joined",
        "carol": "ringing",
    }
    assert unseen == []
    await carol_reloaded.disconnect()
    await dave.disconnect()


async def test_calling_someone_in_a_call_is_busy_and_a_full_call_refuses_one_more(people, settings):
    _call_id, _chat = await call_in_direct_chat(people)
    carol_and_bob = await create_direct(people["carol"], people["bob"])
    busy = await request(people["sockets"]["carol"], {"type": "call.invite", "conversation_id": carol_and_bob.pk})
    assert busy["code"] == "call_busy"

    settings.PARLEY_CALL_MAX_PARTICIPANTS = 2
    dave, erin = await create_user(), await create_user()
    room = await create_room(people["carol"], dave, erin)
    dave_socket = await open_socket(dave)
    call_id = (await request(people["sockets"]["carol"], {"type": "call.invite", "conversation_id": room.pk}))["call"][
        "id"
    ]
    await request(dave_socket, {"type": "call.join", "call_id": call_id})
    erin_socket = await open_socket(erin)
    assert (await request(erin_socket, {"type": "call.join", "call_id": call_id}))["code"] == "call_full"
    await dave_socket.disconnect()
    await erin_socket.disconnect()


async def test_bad_call_frames_get_an_error_frame_and_the_socket_stays_open(people):
    call_id, _chat = await call_in_direct_chat(people)
    alice = people["sockets"]["alice"]
    signal = {"type": "call.signal", "call_id": call_id, "to_user_id": people["bob"].pk}

    assert (await request(alice, {**signal, "kind": "bye", "payload": {}}))["code"] == "signal_invalid"
    assert (await request(alice, {**signal, "kind": "offer", "payload": {"sdp": "x" * 40000}}))[
        "code"
    ] == "signal_invalid"
    assert (await request(alice, {**signal, "kind": "ice", "payload": "candidate"}))["code"] == "invalid_field"
    assert (await request(alice, {"type": "call.mute", "call_id": call_id, "muted": "yes"}))["code"] == "invalid_field"
    assert (await request(alice, {"type": "call.join"}))["code"] == "missing_field"
    assert (await request(alice, {"type": "call.join", "call_id": 10**12}))["code"] == "call_not_found"
    assert (await request(alice, {"type": "ping"}))["type"] == "pong"


async def test_closing_the_socket_hangs_up_its_call(people):
    call_id, _chat = await call_in_direct_chat(people)

    await people["sockets"]["bob"].disconnect()

    ended = await next_of_type(people["sockets"]["alice"], "call.ended")
    assert ended["call"]["id"] == call_id
    people["sockets"]["bob"] = await open_socket(people["bob"])  # for the fixture to close


async def test_an_unanswered_call_ends_after_the_ring_time_with_a_missed_call_message(people, settings):
    settings.PARLEY_CALL_RING_SECONDS = 1
    chat = await create_direct(people["alice"], people["bob"])
    alice, bob = people["sockets"]["alice"], people["sockets"]["bob"]
    await request(alice, {"type": "call.invite", "conversation_id": chat.pk})

    ended = await next_of_type(bob, "call.ended", seconds=5)
    missed = await next_of_type(bob, "message", seconds=5)

    assert ended["call"]["end_reason"] == "missed"
    assert "Missed call from" in missed["message"]["body"]
    calls = database_sync_to_async(lambda: list(Call.objects.filter(conversation=chat).values_list("state")))
    assert await calls() == [("ended",)]
