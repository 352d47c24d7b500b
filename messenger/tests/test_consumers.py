"""The socket, through the whole ASGI application: every frame type, every refusal, delivery between users."""

import uuid

import pytest
from channels.db import database_sync_to_async

from accounts import roles
from accounts.tests.factories import UserFactory
from core import admission, fanout
from core.testing import (
    MovableClock,
    frames_before,
    free_port,
    next_of_type,
    session_cookie_for,
    socket_to_app,
    start_redis,
)
from messenger import services
from messenger.models import Message
from messenger.tests.factories import room_with

pytestmark = pytest.mark.django_db(transaction=True)

create_user = database_sync_to_async(UserFactory)
create_room = database_sync_to_async(room_with)


async def open_socket(user):
    communicator = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(user))
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "hello"
    assert (await communicator.receive_json_from())["type"] == "presence.snapshot"
    return communicator


async def next_frame(socket) -> dict:
    """The next frame that is not a presence announcement (people come and go while a test runs)."""
    while True:
        frame = await socket.receive_json_from(timeout=3)
        if not frame["type"].startswith("presence"):
            return frame


async def request(socket, frame: dict) -> dict:
    """Send a frame with a fresh ref and return the reply that carries it (other frames are skipped)."""
    ref = uuid.uuid4().hex[:8]
    await socket.send_json_to({**frame, "ref": ref})
    while True:
        reply = await socket.receive_json_from(timeout=3)
        if reply.get("ref") == ref:
            return reply


@pytest.fixture
async def chat():
    """alice and bob in one room, each with an open socket."""
    alice, bob = await create_user(username="alice"), await create_user(username="bob")
    room = await create_room(alice, bob)
    sockets = {"alice": await open_socket(alice), "bob": await open_socket(bob)}
    yield {"room": room, "alice": alice, "bob": bob, **{f"{name}_socket": s for name, s in sockets.items()}}
    for socket in sockets.values():
        await socket.disconnect()


async def send_message(socket, room, body="hello", **extra) -> dict:
    return await request(
        socket,
        {"type": "message.send", "conversation_id": room.pk, "client_id": uuid.uuid4().hex, "body": body, **extra},
    )


async def test_ping_is_answered_with_pong_carrying_the_same_ref(chat):
    await chat["alice_socket"].send_json_to({"type": "ping", "ref": "r1"})

    assert await next_frame(chat["alice_socket"]) == {"type": "pong", "ref": "r1"}


async def test_a_sent_message_is_acknowledged_then_delivered_to_every_member(chat):
    ack = await send_message(chat["alice_socket"], chat["room"], "hi bob")

    own_copy = await next_of_type(chat["alice_socket"], "message")
    delivered = await next_of_type(chat["bob_socket"], "message")

    assert ack["type"] == "ack"
    assert ack["message"]["seq"] == 1
    assert delivered["message"]["id"] == own_copy["message"]["id"] == ack["message"]["id"]
    assert delivered["message"]["body"] == "hi bob"
    assert delivered["message"]["sender"]["username"] == "alice"


async def test_a_thread_reply_is_delivered_with_its_thread_and_a_bad_thread_gets_an_error_frame(chat):
    root = (await send_message(chat["alice_socket"], chat["room"], "approve the trade?"))["message"]

    ack = await send_message(chat["bob_socket"], chat["room"], "approved", thread_root_id=root["id"], also_in_room=True)
    delivered = await next_of_type(chat["alice_socket"], "message")
    while delivered["message"]["id"] != ack["message"]["id"]:
        delivered = await next_of_type(chat["alice_socket"], "message")
    refused = await send_message(chat["bob_socket"], chat["room"], "lost", thread_root_id=root["id"] + 999)
    still_open = await request(chat["bob_socket"], {"type": "ping"})

    assert (delivered["message"]["thread_root_id"], delivered["message"]["also_in_room"]) == (root["id"], True)
    assert (refused["type"], refused["code"]) == ("error", "thread_invalid")
    assert still_open["type"] == "pong"


async def test_every_tab_of_a_member_receives_the_message(chat):
    second_tab = await open_socket(chat["bob"])

    await send_message(chat["alice_socket"], chat["room"], "to all tabs")

    assert (await next_of_type(chat["bob_socket"], "message"))["message"]["body"] == "to all tabs"
    assert (await next_of_type(second_tab, "message"))["message"]["body"] == "to all tabs"
    await second_tab.disconnect()


async def test_resend_with_the_same_client_id_acks_the_original_and_delivers_once(chat):
    frame = {"type": "message.send", "conversation_id": chat["room"].pk, "client_id": "same", "body": "once"}

    first = await request(chat["alice_socket"], frame)
    again = await request(chat["alice_socket"], frame)

    assert again["message"]["id"] == first["message"]["id"]
    assert await database_sync_to_async(Message.objects.count)() == 1
    assert (await next_of_type(chat["bob_socket"], "message"))["message"]["id"] == first["message"]["id"]
    await chat["bob_socket"].send_json_to({"type": "ping", "ref": "end"})
    assert await next_frame(chat["bob_socket"]) == {"type": "pong", "ref": "end"}  # no second copy


async def test_sync_returns_what_the_client_missed_after_its_last_seq(chat):
    for body in ("one", "two", "three"):
        await send_message(chat["alice_socket"], chat["room"], body)

    result = await request(chat["bob_socket"], {"type": "sync", "since": {str(chat["room"].pk): 1}})

    (conversation,) = result["conversations"]
    assert result["type"] == "sync.result"
    assert [m["body"] for m in conversation["messages"]] == ["two", "three"]
    assert [m["seq"] for m in conversation["messages"]] == [2, 3]
    assert conversation["has_more"] is False


async def test_sync_pages_past_500_messages_and_a_client_following_the_pages_holds_each_message_once(chat, monkeypatch):
    from core.ratelimit import TokenBucket
    from messenger.selectors import SYNC_BATCH
    from messenger.tests.factories import send

    monkeypatch.setattr(services.messages, "send_rate_limit", TokenBucket(rate=1, burst=10_000))  # seeding only
    total = SYNC_BATCH + 20
    await database_sync_to_async(lambda: [send(chat["alice"], chat["room"], f"m{n}") for n in range(total)])()

    held, pages, since = [], [], {}
    while True:  # what docs/protocol.md asks of a client: with has_more, sync again from the new last seq
        result = await request(chat["bob_socket"], {"type": "sync", "since": since})
        (conversation,) = result["conversations"]
        pages.append((len(conversation["messages"]), conversation["has_more"]))
        held += [message["seq"] for message in conversation["messages"]]
        since = {str(chat["room"].pk): held[-1]}
        if not conversation["has_more"]:
            break

    assert SYNC_BATCH == 500
    assert pages == [(500, True), (20, False)]
    assert held == list(range(1, total + 1))  # every message, once, in order


async def test_edit_and_delete_reach_every_member(chat):
    ack = await send_message(chat["alice_socket"], chat["room"], "draft")
    message_id = ack["message"]["id"]

    await request(chat["alice_socket"], {"type": "message.edit", "message_id": message_id, "body": "final"})
    edited = await next_of_type(chat["bob_socket"], "message.updated")
    await request(chat["alice_socket"], {"type": "message.delete", "message_id": message_id})
    deleted = await next_of_type(chat["bob_socket"], "message.updated")

    assert (edited["message"]["body"], edited["message"]["edited_at"] is not None) == ("final", True)
    assert (deleted["message"]["body"], deleted["message"]["deleted"]) == (None, True)


async def test_reactions_are_live_for_every_member(chat):
    message_id = (await send_message(chat["alice_socket"], chat["room"]))["message"]["id"]

    reply = await request(chat["bob_socket"], {"type": "reaction.add", "message_id": message_id, "emoji": "👍"})
    seen_by_alice = await next_of_type(chat["alice_socket"], "message.reactions")
    await request(chat["bob_socket"], {"type": "reaction.remove", "message_id": message_id, "emoji": "👍"})
    removed = await next_of_type(chat["alice_socket"], "message.reactions")

    expected = [{"emoji": "👍", "count": 1, "user_ids": [chat["bob"].pk]}]
    assert reply["reactions"] == seen_by_alice["reactions"] == expected
    assert removed["reactions"] == []


async def test_here_over_the_socket_mentions_the_members_with_the_app_open(chat):
    """The send path asks the presence store from the consumer's worker thread: the sockets open here are who is
    online."""
    carol = await create_user(username="carol")
    await database_sync_to_async(services.room_invite)(
        inviter=chat["alice"], conversation_id=chat["room"].pk, usernames=["carol"]
    )

    ack = await send_message(chat["alice_socket"], chat["room"], "@here standup in 5")
    message = await database_sync_to_async(Message.objects.get)(pk=ack["message"]["id"])
    mentioned = await database_sync_to_async(lambda: set(message.mentions.values_list("user_id", flat=True)))()

    assert mentioned == {chat["bob"].pk}
    assert carol.pk not in mentioned  # a member, but not online


async def test_an_emoji_that_is_not_one_gets_emoji_invalid_and_the_socket_stays_open(chat):
    message_id = (await send_message(chat["alice_socket"], chat["room"]))["message"]["id"]

    refused = await request(chat["bob_socket"], {"type": "reaction.add", "message_id": message_id, "emoji": "lol"})
    accepted = await request(chat["bob_socket"], {"type": "reaction.add", "message_id": message_id, "emoji": "🦩"})

    assert (refused["type"], refused["code"]) == ("error", "emoji_invalid")
    assert accepted["reactions"] == [{"emoji": "🦩", "count": 1, "user_ids": [chat["bob"].pk]}]


async def test_read_receipt_tells_the_sender_who_has_seen_it(chat):
    seq = (await send_message(chat["alice_socket"], chat["room"]))["message"]["seq"]

    await request(chat["bob_socket"], {"type": "read", "conversation_id": chat["room"].pk, "seq": seq})
    receipt = await next_of_type(chat["alice_socket"], "read")

    assert receipt == {"type": "read", "conversation_id": chat["room"].pk, "user_id": chat["bob"].pk, "seq": seq}


async def test_typing_is_shown_to_the_other_members(chat):
    await request(chat["alice_socket"], {"type": "typing", "conversation_id": chat["room"].pk})

    typing = await next_of_type(chat["bob_socket"], "typing")

    assert typing["user"]["username"] == "alice"
    assert typing["conversation_id"] == chat["room"].pk


async def test_an_invited_member_starts_receiving_the_room_at_once(chat):
    carol = await create_user(username="carol")
    carol_socket = await open_socket(carol)

    await database_sync_to_async(services.room_invite)(
        inviter=chat["alice"], conversation_id=chat["room"].pk, usernames=["carol"]
    )
    announced = await next_of_type(carol_socket, "conversation")
    await send_message(chat["alice_socket"], chat["room"], "welcome carol")

    assert announced["conversation"]["id"] == chat["room"].pk
    assert (await next_of_type(carol_socket, "message"))["message"]["body"] == "welcome carol"
    await carol_socket.disconnect()


async def test_a_member_who_left_receives_nothing_more(chat):
    await database_sync_to_async(services.conversation_leave)(user=chat["bob"], conversation_id=chat["room"].pk)
    await next_of_type(chat["bob_socket"], "conversation.left")

    await send_message(chat["alice_socket"], chat["room"], "after bob left")
    await chat["bob_socket"].send_json_to({"type": "ping", "ref": "last"})
    frames = []
    while not frames or frames[-1].get("ref") != "last":
        frames.append(await chat["bob_socket"].receive_json_from(timeout=3))

    assert "message" not in [frame["type"] for frame in frames]


async def test_the_members_who_stay_are_told_who_left(chat):
    await database_sync_to_async(services.conversation_leave)(user=chat["bob"], conversation_id=chat["room"].pk)

    left = await next_of_type(chat["alice_socket"], "member.left")

    assert left["conversation_id"] == chat["room"].pk
    assert (left["user"]["id"], left["user"]["username"]) == (chat["bob"].pk, "bob")


async def test_an_archived_room_refuses_every_write_over_the_socket_and_stays_readable(chat):
    room_id = chat["room"].pk
    direct = await database_sync_to_async(services.direct_open)(user=chat["alice"], other_username="bob")
    await next_of_type(chat["bob_socket"], "conversation")  # bob's socket follows the direct chat (the marker's)
    message_id = (await send_message(chat["alice_socket"], chat["room"], "final"))["message"]["id"]
    await database_sync_to_async(services.do_room_archive)(actor=chat["alice"], room=chat["room"])
    await next_of_type(chat["bob_socket"], "conversation.updated")

    attempts = [
        {"type": "message.send", "conversation_id": room_id, "client_id": "late", "body": "hi"},
        {"type": "message.edit", "message_id": message_id, "body": "rewritten"},
        {"type": "message.delete", "message_id": message_id},
        {"type": "reaction.add", "message_id": message_id, "emoji": "👍"},
        {"type": "reaction.remove", "message_id": message_id, "emoji": "👍"},
        {"type": "typing", "conversation_id": room_id},
    ]
    codes = [(await request(chat["alice_socket"], attempt))["code"] for attempt in attempts]
    # A typing frame alice sends after the refused one must reach bob first, had the refused one gone out.
    await chat["alice_socket"].send_json_to({"type": "typing", "conversation_id": direct.pk})
    before_marker = await frames_before(
        chat["bob_socket"], lambda frame: frame["type"] == "typing" and frame["conversation_id"] == direct.pk
    )
    synced = await request(chat["bob_socket"], {"type": "sync", "since": {}})
    marked = await request(chat["bob_socket"], {"type": "read", "conversation_id": room_id, "seq": 1})

    assert codes == ["room_archived"] * len(attempts)
    assert [m["body"] for m in synced["conversations"][0]["messages"]] == ["final"]
    assert marked["type"] == "ack"
    message = await database_sync_to_async(Message.objects.get)(pk=message_id)
    assert (message.body, message.deleted_at, message.edited_at) == ("final", None, None)
    assert [frame for frame in before_marker if frame["type"] == "typing"] == []


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "message.send", "conversation_id": 1, "body": "no client id"}, "missing_field"),
        ({"type": "message.send", "conversation_id": "1", "client_id": "c", "body": "x"}, "invalid_field"),
        ({"type": "message.edit", "message_id": 1}, "missing_field"),
        ({"type": "sync", "since": {"abc": 1}}, "invalid_field"),
        ({"type": "sync", "since": {"1": -5}}, "invalid_field"),
        ({"type": "read", "conversation_id": 1, "seq": True}, "invalid_field"),
    ],
)
async def test_malformed_fields_get_an_error_frame_and_the_socket_stays_open(chat, frame, code):
    error = await request(chat["alice_socket"], frame)

    assert (error["type"], error["code"]) == ("error", code)
    assert (await request(chat["alice_socket"], {"type": "ping"}))["type"] == "pong"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"body": "   "}, "body_invalid"),
        ({"client_id": ""}, "client_id_invalid"),
        ({"client_id": "c" * 65}, "client_id_invalid"),
        ({"reply_to": 999_999_999}, "reply_invalid"),
    ],
)
async def test_a_message_the_services_refuse_gets_its_code_nothing_is_stored_and_the_socket_stays_open(
    chat, fields, code
):
    error = await send_message(chat["alice_socket"], chat["room"], **{"body": "hi", **fields})

    assert (error["type"], error["code"]) == ("error", code)
    assert error["message"]
    assert await database_sync_to_async(Message.objects.count)() == 0
    assert (await request(chat["alice_socket"], {"type": "ping"}))["type"] == "pong"


async def test_a_reply_to_a_message_of_another_conversation_gets_reply_invalid(chat):
    elsewhere = await create_room(chat["alice"])
    other = (await send_message(chat["alice_socket"], elsewhere, "in another room"))["message"]

    error = await send_message(chat["alice_socket"], chat["room"], "quoting it", reply_to=other["id"])

    assert (error["type"], error["code"]) == ("error", "reply_invalid")


async def test_a_body_over_the_limit_is_refused_and_nothing_is_stored(chat):
    error = await send_message(chat["alice_socket"], chat["room"], "x" * 10_001)

    assert error["code"] == "body_too_long"
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_a_flood_beyond_the_configured_burst_is_rate_limited_for_that_sender_only_until_the_bucket_refills(
    chat, settings, monkeypatch
):
    """PARLEY_SEND_BURST and PARLEY_SEND_RATE_PER_SECOND as configured, over the socket, on a clock the test
    drives; the socket stays open throughout."""
    clock = MovableClock()
    monkeypatch.setattr(services.send_rate_limit, "clock", clock)
    burst, rate = settings.PARLEY_SEND_BURST, settings.PARLEY_SEND_RATE_PER_SECOND

    replies = [await send_message(chat["alice_socket"], chat["room"], f"m{i}") for i in range(burst + 1)]
    bob_meanwhile = await send_message(chat["bob_socket"], chat["room"], "mine")
    clock.advance(1.1 / rate)  # one token back
    refilled = await send_message(chat["alice_socket"], chat["room"], "after a pause")

    assert [reply["type"] for reply in replies] == ["ack"] * burst + ["error"]
    assert replies[-1]["code"] == "rate_limited"
    assert bob_meanwhile["type"] == "ack"
    assert refilled["type"] == "ack"
    assert (await request(chat["alice_socket"], {"type": "ping"}))["type"] == "pong"


async def test_a_send_past_the_workers_admission_limit_is_refused_as_overloaded_and_nothing_is_stored(chat, settings):
    settings.PARLEY_MAX_SENDS_IN_FLIGHT = 1
    frame = {"type": "message.send", "conversation_id": chat["room"].pk, "client_id": "c-1", "body": "hi"}

    with admission.sends.admitted():  # another send holds the worker's only place
        refusal = await request(chat["alice_socket"], frame)
        pong = await request(chat["alice_socket"], {"type": "ping"})  # only sends are counted
        stored_while_full = await database_sync_to_async(Message.objects.count)()
    retried = await request(chat["alice_socket"], frame)  # the client's retry, same client_id

    assert refusal["type"] == "error"
    assert (refusal["code"], refusal["retry_after"]) == ("overloaded", 0.5)
    assert pong["type"] == "pong"
    assert stored_while_full == 0
    assert retried["type"] == "ack" and retried["message"]["client_id"] == "c-1"
    assert admission.sends.in_flight == 0


async def test_an_outsider_can_neither_send_read_react_edit_nor_sync_anything_of_the_room(chat):
    mallory = await create_user(username="mallory")
    outsider = await open_socket(mallory)
    room_id = chat["room"].pk
    message_id = (await send_message(chat["alice_socket"], chat["room"], "confidential"))["message"]["id"]

    attempts = [
        {"type": "message.send", "conversation_id": room_id, "client_id": "m", "body": "hi"},
        {"type": "message.edit", "message_id": message_id, "body": "mine now"},
        {"type": "message.delete", "message_id": message_id},
        {"type": "reaction.add", "message_id": message_id, "emoji": "👀"},
        {"type": "read", "conversation_id": room_id, "seq": 1},
        {"type": "typing", "conversation_id": room_id},
    ]
    codes = [(await request(outsider, attempt))["code"] for attempt in attempts]
    synced = await request(outsider, {"type": "sync", "since": {str(room_id): 0}})

    assert codes == ["not_a_member"] * len(attempts)
    assert synced["conversations"] == []
    message = await database_sync_to_async(Message.objects.get)(pk=message_id)
    assert (message.body, message.deleted_at) == ("confidential", None)
    await outsider.disconnect()


async def test_a_member_cannot_edit_someone_elses_message(chat):
    message_id = (await send_message(chat["alice_socket"], chat["room"], "alice's"))["message"]["id"]

    error = await request(chat["bob_socket"], {"type": "message.edit", "message_id": message_id, "body": "bob's"})

    assert error["code"] == "not_allowed"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"ref": "x"}', "bad_frame"),
        ('{"type": 7}', "bad_frame"),
        ('{"type": "teleport", "ref": "x"}', "unknown_type"),
        ('{"type": "ping", "ref": 12}', "bad_frame"),
        ('{"type": "ping", "pad": "' + "x" * 70_000 + '"}', "frame_too_large"),
        # PostgreSQL cannot store U+0000: refused at the door, not by the database (which ended the socket).
        ('{"type": "message.send", "conversation_id": 1, "client_id": "a\\u0000b", "body": "hi"}', "bad_frame"),
        ('{"type": "message.send", "conversation_id": 1, "client_id": "c1", "body": "a\\u0000b"}', "bad_frame"),
        # Strange JSON that used to end the socket with 1011 (an exception other than ProtocolError escaped).
        ("[" * 5000, "bad_frame"),  # the decoder's RecursionError
        ('{"a":' * 5000, "bad_frame"),
        ('{"type": "ping", "deep": ' + "[" * 40 + "]" * 40 + "}", "bad_frame"),  # decodes, but deeper than 16
        ('{"type": "read", "conversation_id": ' + "9" * 5000 + ', "seq": 1}', "bad_frame"),  # int digit limit
        ('{"type": "read", "conversation_id": 99999999999999999999, "seq": 1}', "bad_frame"),  # beyond bigint
        ('{"type": "ping", "x": 1e999999}', "bad_frame"),
        ('{"type": "ping", "x": NaN}', "bad_frame"),
        ('{"type": "ping", "x": -Infinity}', "bad_frame"),
        ('{"type": "message.send", "conversation_id": 1, "client_id": "c1", "body": "a\\ud800b"}', "bad_frame"),
        ('{"type": "ping", "\\udfff": 1}', "bad_frame"),  # a lone surrogate in a key
        ("[" + "[" * 5000, "bad_frame"),
        ('"just a string"', "bad_frame"),
        ("null", "bad_frame"),
        (" ", "bad_frame"),
        ('{"type": "ping", "pad": "' + "\u00e9" * 40_000 + '"}', "frame_too_large"),  # 80 KB in UTF-8
    ],
)
async def test_bad_frame_gets_an_error_frame_and_the_socket_stays_open(chat, raw, code):
    socket = chat["alice_socket"]
    await socket.send_to(text_data=raw)

    error = await next_frame(socket)

    assert (error["type"], error["code"]) == ("error", code)
    assert error["message"]
    assert (await request(socket, {"type": "ping"}))["type"] == "pong"


async def test_a_frame_with_a_raw_lone_surrogate_gets_an_error_frame_and_the_socket_stays_open(chat):
    socket = chat["alice_socket"]
    await socket.send_to(text_data='{"type": "message.send", "conversation_id": 1, "client_id": "c", "body": "\ud800"}')

    assert (await next_frame(socket))["code"] == "bad_frame"
    assert (await request(socket, {"type": "ping"}))["type"] == "pong"
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_a_frame_our_code_fails_on_gets_an_internal_error_frame_and_the_socket_stays_open(chat, monkeypatch):
    from messenger import handlers

    def broken(user, command):
        raise RuntimeError("a bug")

    monkeypatch.setattr(handlers, "dispatch", broken)
    error = await request(chat["alice_socket"], {"type": "read", "conversation_id": chat["room"].pk, "seq": 1})
    monkeypatch.undo()

    assert (error["type"], error["code"]) == ("error", "internal_error")
    assert "a bug" not in error["message"]
    assert (await request(chat["alice_socket"], {"type": "ping"}))["type"] == "pong"


async def test_a_socket_whose_session_expires_is_told_so_and_closed(settings):
    settings.SESSION_COOKIE_AGE = 2
    alice = await create_user(username="alice")
    socket = await open_socket(alice)

    assert await next_of_type(socket, "signed_out", seconds=10) == {"type": "signed_out", "reason": "session_expired"}
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}


async def test_a_socket_whose_session_is_deleted_from_the_store_is_closed_at_the_next_check(settings):
    from django.contrib.sessions.models import Session

    settings.PARLEY_SESSION_CHECK_SECONDS = 0.5
    alice = await create_user(username="alice")
    socket = await open_socket(alice)

    await database_sync_to_async(lambda: Session.objects.all().delete())()

    assert (await next_of_type(socket, "signed_out", seconds=10))["reason"] == "session_expired"
    assert (await socket.receive_output(timeout=3))["type"] == "websocket.close"


async def test_a_socket_whose_session_is_alive_stays_open_across_checks(settings, monkeypatch):
    from accounts.selectors import session_valid_until
    from messenger import consumers

    settings.PARLEY_SESSION_CHECK_SECONDS = 0.05
    checks = []

    def counted(**kwargs):
        checks.append(session_valid_until(**kwargs))
        return checks[-1]

    monkeypatch.setattr(consumers, "session_valid_until", counted)
    alice = await create_user(username="alice")
    socket = await open_socket(alice)
    while len(checks) < 3:  # the checks are the events awaited: three of them found the session alive
        assert await socket.receive_nothing(timeout=0.05), "a frame arrived between two session checks"

    assert all(valid_until is not None for valid_until in checks)
    await socket.send_json_to({"type": "ping", "ref": "after-the-checks"})
    assert await frames_before(socket, lambda frame: frame.get("ref") == "after-the-checks") == []  # no signed_out
    await socket.disconnect()


async def test_error_frame_echoes_the_ref_of_the_frame_it_answers(chat):
    await chat["alice_socket"].send_json_to({"type": "teleport", "ref": "mine"})

    assert (await next_frame(chat["alice_socket"]))["ref"] == "mine"


async def test_binary_frame_gets_an_error_frame_and_the_socket_stays_open(chat):
    await chat["alice_socket"].send_to(bytes_data=b"\x00\x01")

    assert (await next_frame(chat["alice_socket"]))["code"] == "bad_frame"
    assert (await request(chat["alice_socket"], {"type": "ping"}))["type"] == "pong"


async def test_closing_a_users_sockets_closes_every_tab_with_a_reason(chat):
    second_tab = await open_socket(chat["alice"])

    await database_sync_to_async(fanout.close_user_sockets)(chat["alice"].pk, reason="deactivated")

    for socket in (chat["alice_socket"], second_tab):
        assert await next_of_type(socket, "signed_out") == {"type": "signed_out", "reason": "deactivated"}
        assert (await socket.receive_output(timeout=3))["type"] == "websocket.close"
    assert (await request(chat["bob_socket"], {"type": "ping"}))["type"] == "pong"  # others are untouched


async def test_a_session_that_owes_its_second_factor_gets_no_socket_until_it_is_entered():
    it_admin = await create_user(username="ivy")
    await database_sync_to_async(lambda: it_admin.groups.add(roles.role_group(roles.IT_ADMINS)))()

    password_only = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(it_admin))
    refused, code = await password_only.connect()
    verified = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(it_admin, second_factor=True))
    accepted, _ = await verified.connect()

    assert not refused
    assert code == 4401
    assert accepted
    await verified.disconnect()


async def test_a_frame_for_a_socket_the_browser_just_closed_is_dropped_so_disconnect_still_runs():
    from autobahn.exception import Disconnected
    from channels.testing import WebsocketCommunicator

    from accounts import presence
    from config.asgi import application
    from core.testing import TEST_ORIGIN

    alice = await create_user(username="alice")
    browser_closed = False

    async def daphne_like(scope, receive, send):
        async def send_unless_closed(message):
            if browser_closed:
                raise Disconnected("Attempt to send on a closed protocol")  # what daphne raises then
            await send(message)

        await application(scope, receive, send_unless_closed)

    cookie = await database_sync_to_async(session_cookie_for)(alice)
    socket = WebsocketCommunicator(
        daphne_like,
        "/ws/",
        headers=[(b"host", b"localhost"), (b"origin", TEST_ORIGIN.encode()), (b"cookie", cookie.encode())],
    )
    assert (await socket.connect())[0]
    assert await presence.users_connected([alice.pk]) == {alice.pk}

    browser_closed = True  # a frame dispatched before the disconnect queued behind it
    await socket.send_input({"type": "deliver.frame", "text": '{"type": "presence"}'})
    await socket.send_input({"type": "websocket.disconnect", "code": 1001})
    await socket.wait(timeout=3)  # re-raises whatever ended the consumer

    assert await presence.users_connected([alice.pk]) == set()  # disconnect ran: not online until the TTL


async def test_muting_a_conversation_reaches_the_users_other_tabs_and_no_one_else(chat):
    second_tab = await open_socket(chat["alice"])

    await database_sync_to_async(services.membership_mute)(
        user=chat["alice"], conversation_id=chat["room"].pk, is_muted=True
    )

    for socket in (chat["alice_socket"], second_tab):
        frame = await next_of_type(socket, "conversation.updated")
        assert frame["conversation"] == {"id": chat["room"].pk, "is_muted": True}
    # alice's next message reaches bob after anything the mute could have sent him.
    await send_message(chat["alice_socket"], chat["room"], "after the mute")
    before_marker = await frames_before(chat["bob_socket"], lambda frame: frame["type"] == "message")
    assert "conversation.updated" not in [frame["type"] for frame in before_marker]
    await second_tab.disconnect()


async def test_a_value_the_database_refuses_gets_an_error_frame_and_the_socket_stays_open(chat, monkeypatch):
    from django.db import DataError

    from messenger import handlers

    def refused(user, command):
        raise DataError("value too long")

    monkeypatch.setattr(handlers, "dispatch", refused)
    error = await request(chat["alice_socket"], {"type": "read", "conversation_id": chat["room"].pk, "seq": 1})
    monkeypatch.undo()

    assert (error["type"], error["code"]) == ("error", "bad_frame")
    assert (await request(chat["alice_socket"], {"type": "ping"}))["type"] == "pong"


# ---- Redis away, restarted, or unable to take the socket -------------------------------------------------------------


@pytest.mark.redis
async def test_a_socket_the_channel_layer_cannot_take_is_refused_with_try_again_later_not_a_server_error(settings):
    """Redis away (restarting, failing over): the pub/sub layer cannot subscribe the socket's channel, so the
    handshake is refused with 1013 and the browser retries; it is never a server error."""
    from copy import deepcopy

    from core.tests.test_metrics import samples

    alice = await create_user(username="alice")
    cookie = await database_sync_to_async(session_cookie_for)(alice)
    errors_before = samples(await database_sync_to_async(_metrics_text)())["parley_channel_layer_errors_total"]
    normal_layers = deepcopy(settings.CHANNEL_LAYERS)
    away = deepcopy(normal_layers)
    away["default"]["CONFIG"]["hosts"] = [{"address": f"redis://127.0.0.1:{free_port()}/0"}]  # nothing listens
    settings.CHANNEL_LAYERS = away

    refused = socket_to_app(cookie=cookie)
    connected, code = await refused.connect()

    assert (connected, code) == (False, 1013)
    errors_after = samples(await database_sync_to_async(_metrics_text)())["parley_channel_layer_errors_total"]
    assert errors_after == errors_before + 1
    settings.CHANNEL_LAYERS = normal_layers
    retried = await open_socket(alice)  # the same person, once Redis is back
    assert (await request(retried, {"type": "ping"}))["type"] == "pong"
    await retried.disconnect()


def _metrics_text() -> str:
    from django.test import Client

    return Client().get("/metrics").content.decode()


@pytest.mark.redis
async def test_an_open_socket_keeps_receiving_after_redis_restarts_empty(settings, tmp_path):
    """The real-time bench's fault run: Redis restarted empty, and every socket left open silently received
    nothing more (channels-redis's list layer kept its groups in Redis). The pub/sub layer subscribes again."""
    import asyncio
    from copy import deepcopy

    server = await asyncio.to_thread(start_redis, tmp_path, directives=[])
    own_redis = deepcopy(settings.CHANNEL_LAYERS)
    own_redis["default"]["CONFIG"]["hosts"] = [{"address": f"redis://127.0.0.1:{server.port}/0"}]
    settings.CHANNEL_LAYERS = own_redis
    alice, bob = await create_user(username="alice"), await create_user(username="bob")
    room = await create_room(alice, bob)
    alice_socket, bob_socket = await open_socket(alice), await open_socket(bob)
    try:
        await asyncio.to_thread(server.stop)
        server = await asyncio.to_thread(start_redis, tmp_path, directives=[], port=server.port)

        heard = []
        # A send in the moment before the layer has reconnected is stored, and announced to nobody (clients
        # fill such a gap with sync); so send until one is heard, for at most 20 s.
        for attempt in range(40):
            assert (await send_message(alice_socket, room, body=f"after the restart {attempt}"))["type"] == "ack"
            while not await bob_socket.receive_nothing(timeout=0.5):
                frame = await bob_socket.receive_json_from()
                if frame["type"] == "message":
                    heard.append(frame["message"]["body"])
            if heard:
                break

        assert heard and heard[-1].startswith("after the restart")
    finally:
        await alice_socket.disconnect()
        await bob_socket.disconnect()
        await asyncio.to_thread(server.stop)
