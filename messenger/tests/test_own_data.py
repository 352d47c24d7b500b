"""A person downloads their own data: exactly theirs, nobody else's, audit-logged, nothing erased."""

import io
import json
import zipfile

import pytest
from auditlog.models import LogEntry
from django.core.files import File
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import SignIn
from accounts.services import avatar_set
from accounts.tests.factories import UserFactory
from core.testing import force_login_with_second_factor
from messenger import services
from messenger.files import file_share
from messenger.models import Message
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_people(settings):
    settings.PARLEY_CLAMD_ADDRESS = ""  # the scanner is not what this tests
    alice = UserFactory(username="alice", display_name="Alice Archer")
    bob = UserFactory(username="bob", display_name="Bob Baker")
    room = room_with(alice, bob, name="desk")
    mine = send(alice, room, "alice's first words")
    services.message_edit(editor=alice, message_id=mine.pk, body="alice's edited words")
    gone = send(alice, room, "alice regrets this")
    services.message_delete(editor=alice, message_id=gone.pk)
    send(bob, room, "bob's secret")
    file_share(sender=alice, conversation_id=room.pk, client_id="a1", name="alice.txt", content_type="", data=b"A!")
    file_share(sender=bob, conversation_id=room.pk, client_id="b1", name="bob.txt", content_type="", data=b"B!")
    picture = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 30, 30)).save(picture, format="PNG")
    picture.seek(0)
    avatar_set(user=alice, upload=File(picture, name="me.png"))
    SignIn.objects.create(user=alice, session_key="a" * 32, ip_address="10.0.0.1", user_agent="Firefox")
    SignIn.objects.create(user=bob, session_key="b" * 32, ip_address="10.0.0.2", user_agent="Chrome")
    return alice, bob


def download(person) -> zipfile.ZipFile:
    client = Client()
    force_login_with_second_factor(client, person)
    response = client.get(reverse("own_data_download"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    body = b"".join(response.streaming_content)
    return zipfile.ZipFile(io.BytesIO(body))


def test_the_zip_holds_exactly_the_persons_own_things(two_people):
    alice, _ = two_people

    archive = download(alice)
    messages = json.loads(archive.read("messages.json"))
    files = json.loads(archive.read("files.json"))
    sign_ins = json.loads(archive.read("sign_ins.json"))

    assert json.loads(archive.read("profile.json"))["display_name"] == "Alice Archer"
    assert [message["body"] for message in messages] == ["alice's edited words", "", ""]  # the last: the file's
    assert [v["body"] for v in messages[0]["earlier_versions"]] == ["alice's first words"]  # the edit's old text
    assert [v["body"] for v in messages[1]["earlier_versions"]] == ["alice regrets this"]  # the deleted text
    assert messages[1]["deleted_at"] is not None and messages[2]["file"] == files[0]["uid"]
    assert [file["name"] for file in files] == ["alice.txt"]
    assert archive.read(files[0]["path"]) == b"A!"
    assert len(sign_ins) == SignIn.objects.filter(user=alice).count() == 2  # the fixture's, and this download's
    assert ("10.0.0.1", "Firefox") in [(row["ip_address"], row["user_agent"]) for row in sign_ins]
    assert not any("bob" in archive.read(name).decode(errors="replace").lower() for name in archive.namelist())
    assert "nothing is erased early" in archive.read("README.txt").decode()
    assert Image.open(io.BytesIO(archive.read("avatar.webp"))).format == "WEBP"


def test_each_person_gets_their_own_and_the_download_is_audit_logged_erasing_nothing(two_people):
    _, bob = two_people
    before = Message.objects.count()

    archive = download(bob)

    assert [file["name"] for file in json.loads(archive.read("files.json"))] == ["bob.txt"]
    assert "avatar.webp" not in archive.namelist()  # alice's picture is hers
    assert [m["body"] for m in json.loads(archive.read("messages.json"))] == ["bob's secret", ""]
    assert Message.objects.count() == before
    logged = LogEntry.objects.get(action=LogEntry.Action.ACCESS, object_pk=str(bob.pk))
    assert logged.actor == bob and logged.additional_data["own_data_download"]["files"] == 1


def test_the_security_page_offers_the_download_and_strangers_are_sent_to_sign_in(two_people):
    alice, _ = two_people
    client = Client()
    force_login_with_second_factor(client, alice)

    page = client.get(reverse("account_security")).content.decode()
    anonymous = Client().get(reverse("own_data_download"))

    assert reverse("own_data_download") in page and "nothing is erased early" in page
    assert anonymous.status_code == 302
