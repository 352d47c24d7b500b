"""messenger/api/people.py: /me, /users and /contacts."""

import json

import pytest
from django.test import Client

from messenger.models import Message
from messenger.tests.api import photo_file, post
from messenger.tests.factories import room_with

pytestmark = pytest.mark.django_db


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
