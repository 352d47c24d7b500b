"""The HTTP API: every endpoint for a member, nothing for anyone else, clear 4xx errors, never a 5xx."""

import json

import pytest
from django.test import Client

from accounts.services import api_token_create, api_token_revoke
from accounts.tests.factories import UserFactory
from messenger.models import Message
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return UserFactory(username="alice", display_name="Alice Archer", department="Sales")


@pytest.fixture
def bob():
    return UserFactory(username="bob", display_name="Bob Bauer", department="Trading")


@pytest.fixture
def as_alice(alice):
    client = Client()
    client.force_login(alice)
    return client


def post(client, path, data=None, **extra):
    return client.post(path, json.dumps(data or {}), content_type="application/json", **extra)


def test_me_the_directory_and_a_profile_card_carry_the_profile(as_alice, alice, bob):
    for person, title, phone in ((alice, "Sales lead", "+41 1"), (bob, "Trader", "+41 2")):
        person.job_title, person.phone, person.status_message = title, phone, f"{title} at work"
        person.save()
    fields = ("username", "display_name", "job_title", "department", "phone", "status_message", "avatar")

    me = as_alice.get("/api/v1/me").json()
    found = as_alice.get("/api/v1/users", {"search": "trader"}).json()["users"]
    card = as_alice.get(f"/api/v1/users/{bob.pk}")
    bob.is_active = False
    bob.save()
    gone = as_alice.get(f"/api/v1/users/{bob.pk}")
    nobody = as_alice.get("/api/v1/users/999999")

    assert [me[field] for field in fields] == [
        "alice",
        "Alice Archer",
        "Sales lead",
        "Sales",
        "+41 1",
        "Sales lead at work",
        None,
    ]
    bob_card = ["bob", "Bob Bauer", "Trader", "Trading", "+41 2", "Trader at work", None]
    assert [[person[field] for field in fields] for person in found] == [bob_card]
    assert [card.json()[field] for field in fields] == bob_card
    assert (gone.status_code, nobody.status_code) == (404, 404)


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


def test_history_pages_backwards(as_alice, alice):
    room = room_with(alice)
    for index in range(5):
        send(alice, room, f"m{index}")

    page = as_alice.get(f"/api/v1/conversations/{room.pk}/messages", {"before_seq": 4, "limit": 2}).json()

    assert [message["body"] for message in page["messages"]] == ["m1", "m2"]


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


def test_an_outsider_gets_404_for_everything_of_a_conversation(alice, bob):
    room = room_with(alice, name="board")
    send(alice, room, "secret plans")
    outsider = Client()
    outsider.force_login(bob)

    responses = [
        outsider.get(f"/api/v1/conversations/{room.pk}"),
        outsider.get(f"/api/v1/conversations/{room.pk}/messages"),
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


def test_unauthenticated_requests_get_401_json():
    response = Client().get("/api/v1/conversations")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_session_post_without_csrf_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = post(client, "/api/v1/rooms", {"name": "sneaky"})

    assert response.status_code == 403


def test_an_api_token_authenticates_until_revoked_or_the_user_is_deactivated(alice):
    token_record, token = api_token_create(user=alice, name="bot")
    bot = Client(HTTP_AUTHORIZATION=f"Bearer {token}", enforce_csrf_checks=True)

    assert bot.get("/api/v1/me").json()["username"] == "alice"
    assert post(bot, "/api/v1/rooms", {"name": "bot-room"}).status_code == 201  # no CSRF for tokens
    assert Client(HTTP_AUTHORIZATION="Bearer pat_wrong").get("/api/v1/me").status_code == 401
    alice.is_active = False
    alice.save()
    assert bot.get("/api/v1/me").status_code == 401
    alice.is_active = True
    alice.save()
    api_token_revoke(token=token_record)
    assert bot.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize(
    ("path", "payload", "code"),
    [
        ("/api/v1/rooms", {"name": ""}, "invalid_request"),
        ("/api/v1/rooms", {"name": "x", "members": ["nobody"]}, "user_not_found"),
        ("/api/v1/conversations/direct", {}, "invalid_request"),
        ("/api/v1/conversations/1/messages", {"client_id": "c", "body": "x" * 10_001}, "invalid_request"),
        ("/api/v1/conversations/1/read", {"seq": "soon"}, "invalid_request"),
    ],
)
def test_bad_input_gets_a_clear_4xx_with_a_code(as_alice, alice, path, payload, code):
    room_with(alice)

    response = post(as_alice, path, payload)

    assert 400 <= response.status_code < 500
    assert response.json()["code"] == code


def test_malformed_input_never_causes_a_5xx(as_alice, alice):
    room = room_with(alice)
    ids = ["0", "-1", "abc", "99999999999999999999999", str(room.pk)]
    bodies = ["", "{", "[]", "null", '"text"', '{"client_id": 5}', json.dumps({"usernames": "bob"}), "\x00"]
    paths = [
        "/api/v1/users/{id}",
        "/api/v1/conversations/{id}",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/conversations/{id}/read",
        "/api/v1/rooms/{id}/join",
        "/api/v1/rooms/{id}/invite",
        "/api/v1/rooms/{id}/leave",
        "/api/v1/conversations/direct",
        "/api/v1/rooms",
        "/api/v1/users?limit=-5",
        "/api/v1/conversations/{id}/messages?before_seq=-1&limit=100000",
    ]
    statuses = set()
    for path in paths:
        for conversation_id in ids:
            url = path.format(id=conversation_id)
            statuses.add(as_alice.get(url).status_code)
            for body in bodies:
                statuses.add(as_alice.post(url, body, content_type="application/json").status_code)

    assert max(statuses) < 500, statuses


def test_the_openapi_schema_describes_every_endpoint(as_alice):
    schema = as_alice.get("/api/v1/openapi.json").json()  # the schema, like the docs, needs a sign-in

    assert schema["info"]["version"] == "1"
    for path in (
        "/api/v1/me",
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/conversations",
        "/api/v1/conversations/direct",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/rooms",
        "/api/v1/rooms/{room_id}/invite",
    ):
        assert path in schema["paths"]


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


def test_a_conversation_shows_each_members_read_marker_for_seen_by(as_alice, alice, bob):
    from messenger import services

    room = room_with(alice, bob)
    send(alice, room, "one")
    send(alice, room, "two")
    services.read_mark(user=bob, conversation_id=room.pk, seq=1)

    members = as_alice.get(f"/api/v1/conversations/{room.pk}").json()["members"]

    assert {m["username"]: m["last_read_seq"] for m in members} == {"alice": 2, "bob": 1}


def test_the_buddy_list_adds_moves_and_removes_people(as_alice, bob):
    added = post(as_alice, "/api/v1/contacts", {"username": "bob", "group": "Team"}).json()["groups"]
    moved = post(as_alice, "/api/v1/contacts", {"username": "bob", "group": "Favourites"}).json()["groups"]
    self_add = post(as_alice, "/api/v1/contacts", {"username": "alice"})
    removed = as_alice.delete("/api/v1/contacts/bob")

    assert [(g["name"], [c["username"] for c in g["contacts"]]) for g in added] == [("Team", ["bob"])]
    assert [(g["name"], [c["username"] for c in g["contacts"]]) for g in moved] == [
        ("Team", []),
        ("Favourites", ["bob"]),
    ]
    assert (self_add.status_code, self_add.json()["code"]) == (400, "contact_invalid")
    assert removed.status_code == 204
    assert all(not g["contacts"] for g in as_alice.get("/api/v1/contacts").json()["groups"])


def test_a_profile_is_edited_and_a_picture_is_resized_stripped_and_sealed(as_alice, alice, bob, settings, tmp_path):
    import io

    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    photo = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera GPS-MARKER"  # camera maker
    Image.new("RGB", (1200, 800), "teal").save(photo, format="JPEG", exif=exif)

    profile = as_alice.patch(
        "/api/v1/me", json.dumps({"job_title": "Trader", "phone": "+41 44 000"}), content_type="application/json"
    )
    uploaded = as_alice.post("/api/v1/me/avatar", {"picture": photo_file(photo.getvalue())})
    as_bob = Client()
    as_bob.force_login(bob)
    served = as_bob.get(uploaded.json()["avatar"])
    junk = as_alice.post("/api/v1/me/avatar", {"picture": photo_file(b"not a picture")})

    alice.refresh_from_db()
    assert (alice.job_title, alice.phone) == ("Trader", "+41 44 000")
    assert profile.status_code == 200
    picture = Image.open(io.BytesIO(served.content))
    assert (served.status_code, picture.format, picture.size) == (200, "WEBP", (256, 256))
    assert b"GPS-MARKER" not in served.content
    on_disk = (tmp_path / alice.avatar.name).read_bytes()
    assert b"RIFF" not in on_disk[:16] and b"WEBP" not in on_disk  # sealed, not a picture on disk
    assert (junk.status_code, junk.json()["code"]) == (400, "profile_invalid")


def test_a_picture_or_a_file_over_the_limit_is_refused_with_413_and_nothing_is_stored(as_alice, alice, settings):
    from messenger.models import Attachment

    settings.PARLEY_MAX_UPLOAD_MB = 1
    room = room_with(alice)

    picture = as_alice.post("/api/v1/me/avatar", {"picture": photo_file(b"x" * (5 * 1024 * 1024 + 1))})
    shared = as_alice.post(
        f"/api/v1/conversations/{room.pk}/files",
        {"file": photo_file(b"x" * (1024 * 1024 + 1)), "client_id": "big"},
    )

    assert (picture.status_code, picture.json()["code"]) == (413, "file_too_large")
    assert (shared.status_code, shared.json()["code"]) == (413, "file_too_large")
    alice.refresh_from_db()
    assert not alice.avatar
    assert (Attachment.objects.count(), Message.objects.count()) == (0, 0)


def test_a_picture_url_is_cached_for_good_and_a_new_picture_gets_a_new_url(as_alice, alice, settings, tmp_path):
    import io

    from PIL import Image

    settings.MEDIA_ROOT = tmp_path

    def upload(colour: str) -> str:
        photo = io.BytesIO()
        Image.new("RGB", (64, 64), colour).save(photo, format="PNG")
        return as_alice.post("/api/v1/me/avatar", {"picture": photo_file(photo.getvalue())}).json()["avatar"]

    first = upload("red")
    second = upload("blue")
    third = upload("green")  # the first picture's stored name is free again by now
    current = as_alice.get(third)
    superseded = as_alice.get(second)

    assert len({first, second, third}) == 3
    assert current["Cache-Control"] == "private, max-age=31536000, immutable"
    assert superseded.status_code == 200 and superseded["Cache-Control"] == "private, no-cache"
    assert superseded.content == current.content  # an old URL shows the current picture, never a stale one


def photo_file(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("photo.jpg", content, content_type="image/jpeg")


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


def test_a_conversation_is_muted_and_unmuted_for_the_user_alone(as_alice, alice, bob):
    room = room_with(alice, bob)

    muted = post(as_alice, f"/api/v1/conversations/{room.pk}/mute", {"is_muted": True})
    listing = {item["id"]: item for item in as_alice.get("/api/v1/conversations").json()["conversations"]}
    post(as_alice, f"/api/v1/conversations/{room.pk}/mute", {"is_muted": False})

    assert (muted.status_code, muted.json()) == (200, {"is_muted": True})
    assert listing[room.pk]["is_muted"] is True
    assert not room.memberships.filter(is_muted=True).exists()


def test_a_value_the_database_refuses_is_a_400_not_a_500(as_alice, alice, monkeypatch):
    from django.db import DataError

    from messenger import services

    def refused(**kwargs):
        raise DataError("value too long for type character varying(64)")

    monkeypatch.setattr(services, "message_send", refused)
    response = post(as_alice, f"/api/v1/conversations/{room_with(alice).pk}/messages", {"client_id": "c", "body": "x"})

    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")
