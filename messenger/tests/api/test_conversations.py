"""messenger/api/conversations.py: conversations, history, sending, reading, search, files; nothing for outsiders."""

import pytest
from django.test import Client

from core import admission
from core.testing import MovableClock
from messenger.models import Message
from messenger.tests.api import post
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


def test_direct_chat_send_history_and_read(as_alice, alice, bob):
    conversation = post(as_alice, "/api/v1/conversations/direct", {"username": "bob"}).json()
    sent = post(as_alice, f"/api/v1/conversations/{conversation['id']}/messages", {"client_id": "c1", "body": "hi"})
    again = post(as_alice, f"/api/v1/conversations/{conversation['id']}/messages", {"client_id": "c1", "body": "hi"})
    history = as_alice.get(f"/api/v1/conversations/{conversation['id']}/messages").json()["messages"]
    read = post(as_alice, f"/api/v1/conversations/{conversation['id']}/read", {"seq": 1})

    assert {member["username"] for member in conversation["members"]} == {"alice", "bob"}
    assert sent.status_code == 201
    assert again.json()["id"] == sent.json()["id"]  # idempotent by client_id
    assert [message["body"] for message in history] == ["hi"]
    assert read.json() == {"seq": 1}
    listing = as_alice.get("/api/v1/conversations").json()["conversations"]
    assert [item["id"] for item in listing] == [conversation["id"]]


def test_the_configured_burst_is_sent_then_429_until_the_bucket_refills_and_nobody_else_is_held_back(
    as_alice, alice, bob, settings, monkeypatch
):
    """PARLEY_SEND_RATE_PER_SECOND and PARLEY_SEND_BURST as configured, through the HTTP API, on a clock the
    test drives, so the refill is exact and never waits."""
    from messenger.services import send_rate_limit

    clock = MovableClock()
    monkeypatch.setattr(send_rate_limit, "clock", clock)
    room = room_with(alice, bob)
    as_bob = Client()
    as_bob.force_login(bob)
    path = f"/api/v1/conversations/{room.pk}/messages"
    burst, rate = settings.PARLEY_SEND_BURST, settings.PARLEY_SEND_RATE_PER_SECOND

    burst_answers = [post(as_alice, path, {"client_id": f"a{n}", "body": "hi"}).status_code for n in range(burst)]
    refused = post(as_alice, path, {"client_id": "over", "body": "hi"})
    bob_meanwhile = post(as_bob, path, {"client_id": "b1", "body": "mine"})
    clock.advance(0.9 / rate)  # not yet a whole token back
    still_refused = post(as_alice, path, {"client_id": "over", "body": "hi"})
    clock.advance(0.2 / rate)  # now one
    refilled = post(as_alice, path, {"client_id": "over", "body": "hi"})
    after_refill = post(as_alice, path, {"client_id": "over-2", "body": "hi"})

    assert (send_rate_limit.rate, send_rate_limit.burst) == (rate, burst)  # the bucket is the configured one
    assert burst_answers == [201] * burst
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert bob_meanwhile.status_code == 201  # alice's empty bucket is hers alone
    assert still_refused.status_code == 429
    assert refilled.status_code == 201
    assert after_refill.status_code == 429  # one token back, one send
    assert Message.objects.filter(sender=alice).count() == burst + 1


def test_a_send_past_the_workers_admission_limit_answers_503_overloaded_with_retry_after(as_alice, alice, settings):
    room = room_with(alice)
    settings.PARLEY_MAX_SENDS_IN_FLIGHT = 1
    path = f"/api/v1/conversations/{room.pk}/messages"

    with admission.sends.admitted():  # another send holds the worker's only place
        refused = post(as_alice, path, {"client_id": "c1", "body": "hi"})
        stored_while_full = Message.objects.count()
    retried = post(as_alice, path, {"client_id": "c1", "body": "hi"})

    assert refused.status_code == 503
    assert refused["Retry-After"] == "1"
    assert refused.json()["code"] == "overloaded" and refused.json()["retry_after"] == 0.5
    assert stored_while_full == 0
    assert retried.status_code == 201


def test_history_pages_backwards(as_alice, alice):
    room = room_with(alice)
    for index in range(5):
        send(alice, room, f"m{index}")

    page = as_alice.get(f"/api/v1/conversations/{room.pk}/messages", {"before_seq": 4, "limit": 2}).json()

    assert [message["body"] for message in page["messages"]] == ["m1", "m2"]


def test_an_outsider_gets_404_for_everything_of_a_conversation(alice, bob):
    room = room_with(alice, name="board")
    send(alice, room, "secret plans")
    outsider = Client()
    outsider.force_login(bob)

    responses = [
        outsider.get(f"/api/v1/conversations/{room.pk}"),
        outsider.get(f"/api/v1/conversations/{room.pk}/messages"),
        outsider.get(f"/api/v1/conversations/{room.pk}/threads/{Message.objects.get().pk}"),
        post(outsider, f"/api/v1/conversations/{room.pk}/messages", {"client_id": "x", "body": "hi"}),
        post(outsider, f"/api/v1/conversations/{room.pk}/read", {"seq": 1}),
        post(outsider, f"/api/v1/rooms/{room.pk}/invite", {"usernames": ["bob"]}),
        post(outsider, f"/api/v1/rooms/{room.pk}/leave"),
    ]

    assert [response.status_code for response in responses] == [404] * len(responses)
    assert all(response.json()["code"] == "not_a_member" for response in responses)
    assert "secret" not in "".join(response.content.decode() for response in responses)
    assert post(outsider, f"/api/v1/rooms/{room.pk}/join").status_code == 403  # private room
    assert Message.objects.count() == 1


def test_a_conversation_shows_each_members_read_marker_for_seen_by(as_alice, alice, bob):
    from messenger import services

    room = room_with(alice, bob)
    send(alice, room, "one")
    send(alice, room, "two")
    services.read_mark(user=bob, conversation_id=room.pk, seq=1)

    members = as_alice.get(f"/api/v1/conversations/{room.pk}").json()["members"]

    assert {m["username"]: m["last_read_seq"] for m in members} == {"alice": 2, "bob": 1}


def test_message_search_pages_through_hits_and_refuses_an_empty_query(as_alice, alice, bob):
    room = room_with(alice, bob, name="deals")
    for body in ("quarterly numbers", "lunch?", "Quarterly review"):
        send(bob, room, body)

    first = as_alice.get("/api/v1/messages/search", {"q": "quarterly", "limit": 1}).json()
    rest = as_alice.get("/api/v1/messages/search", {"q": "quarterly", "before": first["next_before"]}).json()
    blank = as_alice.get("/api/v1/messages/search", {"q": "   "})
    nobody = as_alice.get("/api/v1/messages/search", {"q": "from:nobody"})

    assert [message["body"] for message in first["messages"]] == ["Quarterly review"]
    assert first["messages"][0]["conversation_id"] == room.pk
    assert [message["body"] for message in rest["messages"]] == ["quarterly numbers"]
    assert rest["next_before"] is None
    assert (blank.status_code, blank.json()["code"]) == (422, "invalid_request")
    assert (nobody.status_code, nobody.json()["code"]) == (400, "search_invalid")


@pytest.mark.parametrize("kind", ["Compliance Officers", "IT Admins", "superuser"])
def test_message_search_shows_a_privileged_account_only_its_own_conversations_not_the_archive(alice, bob, kind):
    from accounts.tests.factories import privileged
    from core.testing import force_login_with_second_factor

    send(bob, room_with(alice, bob), "pineapple for alice and bob")
    reader = privileged(kind)
    send(reader, room_with(reader), "pineapple of my own")
    client = Client()
    force_login_with_second_factor(client, reader)

    found = client.get("/api/v1/messages/search", {"q": "pineapple"}).json()["messages"]

    assert [message["body"] for message in found] == ["pineapple of my own"]  # the archive is searched in admin


def test_message_search_refuses_anonymous_callers(alice, bob):
    send(bob, room_with(alice, bob), "pineapple for alice and bob")

    refused = Client().get("/api/v1/messages/search", {"q": "pineapple"})

    assert refused.status_code == 401 and "pineapple" not in refused.content.decode()


def test_a_conversation_is_muted_and_unmuted_for_the_user_alone(as_alice, alice, bob):
    room = room_with(alice, bob)

    muted = post(as_alice, f"/api/v1/conversations/{room.pk}/mute", {"is_muted": True})
    listing = {item["id"]: item for item in as_alice.get("/api/v1/conversations").json()["conversations"]}
    post(as_alice, f"/api/v1/conversations/{room.pk}/mute", {"is_muted": False})

    assert (muted.status_code, muted.json()) == (200, {"is_muted": True})
    assert listing[room.pk]["is_muted"] is True
    assert not room.memberships.filter(is_muted=True).exists()


def test_a_thread_is_its_first_message_and_its_replies_whichever_of_them_is_asked_for(as_alice, alice, bob):
    room = room_with(alice, bob)
    root = send(alice, room, "approve the trade?")
    send(alice, room, "unrelated")
    path = f"/api/v1/conversations/{room.pk}/messages"
    first = post(as_alice, path, {"client_id": "t1", "body": "looking", "thread_root_id": root.pk}).json()
    post(as_alice, path, {"client_id": "t2", "body": "approved", "thread_root_id": first["id"], "also_in_room": True})

    by_root = as_alice.get(f"/api/v1/conversations/{room.pk}/threads/{root.pk}").json()
    by_reply = as_alice.get(f"/api/v1/conversations/{room.pk}/threads/{first['id']}").json()

    assert by_root == by_reply
    assert by_root["root"]["thread"]["reply_count"] == 2
    assert [(m["body"], m["also_in_room"]) for m in by_root["replies"]] == [("looking", False), ("approved", True)]
