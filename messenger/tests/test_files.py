"""Sharing files: scanned by a real clamd, sealed on disk, archived, shown only to the conversation's members."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from archive.models import ArchiveEntry, EventType
from archive.verification import archive_verify
from core import admission
from core.antivirus import ScannerUnavailable
from core.testing import table_text
from messenger import files
from messenger.errors import FileInfected, FileInvalid, FileTooLarge, NotAMember
from messenger.models import Attachment, Message
from messenger.services import message_delete
from messenger.tests.factories import room_with

pytestmark = pytest.mark.django_db

# The EICAR test file every antivirus detects; built in two halves so this source file is not itself a hit.
EICAR = (r"X5O!P%@AP[4\PZX54(P^)7CC)7}$" + r"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()
PICTURE = b"\x89PNG\r\n\x1a\n" + b"quarterly-chart" * 100


def share(sender, room, data=PICTURE, name="chart.png", content_type="image/png", **extra):
    return files.file_share(
        sender=sender,
        conversation_id=room.pk,
        client_id=uuid.uuid4().hex,
        name=name,
        content_type=content_type,
        data=data,
        **extra,
    )


def content_of(entry: ArchiveEntry) -> dict:
    return json.loads(entry.payload)["content"]


def archived(room, event_type):
    return list(ArchiveEntry.objects.filter(conversation_id=room.pk, event_type=event_type))


@pytest.mark.clamd
def test_a_clean_file_is_shared_as_a_message_sealed_on_disk_and_archived_once(alice, bob, settings):
    room = room_with(alice, bob)

    message = share(alice, room, body="Q3 numbers")

    attachment = message.attachment
    assert attachment.scanned
    assert (attachment.name, attachment.size) == ("chart.png", len(PICTURE))
    assert attachment.sha256 == hashlib.sha256(PICTURE).hexdigest()
    with attachment.file.open() as stored:
        assert stored.read() == PICTURE
    on_disk = (settings.MEDIA_ROOT / attachment.file.name).read_bytes()
    assert b"quarterly-chart" not in on_disk  # sealed
    [entry] = archived(room, EventType.FILE_SHARED)
    assert entry.message_id == message.pk
    assert content_of(entry)["file"]["sha256"] == attachment.sha256
    assert attachment.archive_position == entry.position
    assert archived(room, EventType.MESSAGE_SENT) == []


@pytest.mark.clamd
def test_an_infected_file_is_refused_not_stored_and_its_attempt_archived(alice, bob):
    room = room_with(alice, bob)

    with pytest.raises(FileInfected) as refusal:
        share(alice, room, data=EICAR, name="invoice.pdf", content_type="application/pdf")

    assert "EICAR" in refusal.value.message
    assert not Attachment.objects.exists()
    assert not Message.objects.filter(conversation=room).exists()
    [entry] = archived(room, EventType.FILE_QUARANTINED)
    assert entry.actor_id == alice.pk
    assert content_of(entry)["file"]["name"] == "invoice.pdf"
    assert content_of(entry)["file"]["sha256"] == hashlib.sha256(EICAR).hexdigest()
    assert "EICAR" in content_of(entry)["signature"]
    assert archive_verify().is_intact


def test_when_the_scanner_cannot_be_reached_nothing_is_shared(alice, bob, settings):
    settings.PARLEY_CLAMD_ADDRESS = "tcp://127.0.0.1:9"  # nothing listens on the discard port
    room = room_with(alice, bob)

    with pytest.raises(ScannerUnavailable):
        share(alice, room)

    assert not Attachment.objects.exists()
    assert archived(room, EventType.FILE_SHARED) == []


def test_only_members_share_files_in_a_conversation(alice, bob):
    room = room_with(alice)

    with pytest.raises(NotAMember):
        share(bob, room)


def test_a_file_over_the_limit_or_empty_or_nameless_is_refused(alice, settings):
    settings.PARLEY_MAX_UPLOAD_MB = 1
    room = room_with(alice)

    with pytest.raises(FileTooLarge):
        share(alice, room, data=b"x" * (1024 * 1024 + 1))
    with pytest.raises(FileInvalid):
        share(alice, room, data=b"")
    with pytest.raises(FileInvalid):
        share(alice, room, name="../\x00")


def test_an_upload_over_the_limit_is_refused_by_its_size_before_any_of_it_is_read(settings):
    from django.core.files.base import ContentFile

    from messenger.files import upload_read

    settings.PARLEY_MAX_UPLOAD_MB = 1
    too_large, just_right = ContentFile(b"x" * (1024 * 1024 + 1)), ContentFile(b"x" * 1024 * 1024)

    with pytest.raises(FileTooLarge) as refusal:
        upload_read(too_large)

    assert (refusal.value.code, refusal.value.http_status) == ("file_too_large", 413)
    assert too_large.tell() == 0  # not a byte was read
    assert len(upload_read(just_right)) == 1024 * 1024


def test_a_shown_name_keeps_no_path_and_the_stored_name_is_not_the_shown_one(alice, settings):
    settings.PARLEY_CLAMD_ADDRESS = ""  # development: shared unscanned
    room = room_with(alice)

    attachment = share(alice, room, name="../../etc/passwd\r\n.txt").attachment

    assert attachment.name == "passwd.txt"
    assert not attachment.scanned
    assert "passwd" not in attachment.file.name


def test_sending_the_same_client_id_twice_shares_the_file_once(alice, settings):
    settings.PARLEY_CLAMD_ADDRESS = ""
    room = room_with(alice)
    upload = {"sender": alice, "conversation_id": room.pk, "client_id": "same", "name": "a.txt", "content_type": ""}

    first = files.file_share(**upload, data=b"one")
    second = files.file_share(**upload, data=b"one")

    assert first.pk == second.pk
    assert Attachment.objects.count() == 1


# ---- over HTTP --------------------------------------------------------------------------------------------


@pytest.fixture
def no_scanner(settings):
    settings.PARLEY_CLAMD_ADDRESS = ""


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client, room, data=PICTURE, name="chart.png", content_type="image/png", **fields):
    return client.post(
        f"/api/v1/conversations/{room.pk}/files",
        {"file": SimpleUploadedFile(name, data, content_type=content_type), "client_id": uuid.uuid4().hex, **fields},
    )


def test_a_member_downloads_a_picture_inline_and_other_files_as_downloads(alice, bob, no_scanner):
    room = room_with(alice, bob)
    picture = upload(signed_in(alice), room, body="look").json()
    page = upload(signed_in(alice), room, data=b"<script>alert(1)</script>", name="x.html", content_type="text/html")

    shown = signed_in(bob).get(picture["attachment"]["url"])
    downloaded = signed_in(bob).get(page.json()["attachment"]["url"])

    assert picture["body"] == "look"
    assert shown.status_code == 200
    assert shown.content == PICTURE
    assert shown["Content-Type"] == "image/png"
    assert shown["Content-Disposition"].startswith("inline")
    assert downloaded["Content-Type"] == "application/octet-stream"
    assert downloaded["Content-Disposition"].startswith("attachment")
    assert downloaded["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in downloaded["Content-Security-Policy"]


def test_a_share_past_the_workers_admission_limit_answers_503_overloaded_and_stores_nothing(
    alice, no_scanner, settings
):
    room = room_with(alice)
    settings.PARLEY_MAX_SENDS_IN_FLIGHT = 1

    with admission.sends.admitted():  # another send holds the worker's only place
        refused = upload(signed_in(alice), room, client_id="share-1")
        stored_while_full = (Message.objects.count(), Attachment.objects.count())
    retried = upload(signed_in(alice), room, client_id="share-1")

    assert refused.status_code == 503
    assert refused.json()["code"] == "overloaded"
    assert stored_while_full == (0, 0)
    assert retried.status_code == 201


def test_nobody_outside_the_conversation_downloads_its_files(alice, bob, no_scanner):
    room = room_with(alice)
    url = upload(signed_in(alice), room).json()["attachment"]["url"]

    assert signed_in(bob).get(url).status_code == 404
    assert Client().get(url).status_code == 401
    assert signed_in(bob).get("/api/v1/files/not-a-uuid").status_code in (404, 422)


def test_a_deleted_message_takes_its_file_out_of_the_chat(alice, no_scanner):
    room = room_with(alice)
    shared = upload(signed_in(alice), room).json()

    message_delete(editor=alice, message_id=shared["id"])

    assert signed_in(alice).get(shared["attachment"]["url"]).status_code == 404


def test_refusals_over_http_are_clear_json_never_a_server_error(alice, bob, settings):
    settings.PARLEY_CLAMD_ADDRESS = "tcp://127.0.0.1:9"
    room = room_with(alice)

    unreachable = upload(signed_in(alice), room)
    outsider = upload(signed_in(bob), room)
    no_file = signed_in(alice).post(f"/api/v1/conversations/{room.pk}/files", {"client_id": "x"})

    assert (unreachable.status_code, unreachable.json()["code"]) == (503, "scanner_unavailable")
    assert (outsider.status_code, outsider.json()["code"]) == (404, "not_a_member")
    assert no_file.status_code == 422


@contextlib.contextmanager
def clamd_that_hangs(*, longest: float = 10.0):
    """A server that accepts a connection, reads nothing and never answers, until the test ends.

    It lets go after `longest` seconds in any case, so a scanner without a timeout fails the test instead of
    hanging the suite.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()
    held = []

    def hold():
        listener.settimeout(longest)
        with contextlib.suppress(OSError):
            held.append(listener.accept()[0])
        done.wait(longest)
        for connection in held:
            connection.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join()
        listener.close()


def test_a_scanner_that_accepts_and_never_answers_fails_the_upload_closed_after_its_timeout(
    alice, bob, settings, monkeypatch
):
    settings.PARLEY_CLAMD_TIMEOUT_SECONDS = 0.5
    room = room_with(alice, bob)
    stored = []
    monkeypatch.setattr(Attachment.file.field.storage, "save", lambda *args, **kwargs: stored.append(args))

    with clamd_that_hangs() as address:
        settings.PARLEY_CLAMD_ADDRESS = address
        started = time.monotonic()
        response = upload(signed_in(alice), room, body="Q3 numbers")
        waited = time.monotonic() - started

    assert (response.status_code, response.json()["code"]) == (503, "scanner_unavailable")
    assert 0.5 <= waited < 5  # the configured timeout, not the server letting go after 10 s
    assert stored == []
    assert not Attachment.objects.exists()
    assert not Message.objects.filter(conversation=room).exists()
    assert archived(room, EventType.FILE_SHARED) == []


@pytest.mark.clamd
def test_an_infected_upload_answers_422_file_infected(alice):
    room = room_with(alice)

    response = upload(signed_in(alice), room, data=EICAR, name="eicar.com", content_type="application/octet-stream")

    assert response.status_code == 422
    assert response.json()["code"] == "file_infected"


def test_a_failure_while_archiving_a_shared_file_leaves_no_message_no_row_and_no_stored_bytes(
    alice, settings, monkeypatch
):
    settings.PARLEY_CLAMD_ADDRESS = ""
    room = room_with(alice)
    stored = []
    real_save = Attachment.file.field.storage.save

    def remembering_save(name, content, max_length=None):
        stored.append(real_save(name, content, max_length=max_length))
        return stored[-1]

    def archive_down(**kwargs):
        raise RuntimeError("the archive write failed")

    monkeypatch.setattr(Attachment.file.field.storage, "save", remembering_save)
    monkeypatch.setattr("messenger.services.messages.archive_record", archive_down)

    with pytest.raises(RuntimeError):
        share(alice, room)

    assert not Attachment.objects.exists()
    assert not Message.objects.exists()
    assert stored and not Attachment.file.field.storage.exists(stored[0])


def test_a_shared_files_name_is_stored_sealed_and_stays_out_of_the_audit_log(alice, no_scanner):
    from auditlog.models import LogEntry
    from django.db import connection

    message = share(alice, room_with(alice), name="layoffs-Q3-names.xlsx")

    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM messenger_attachment WHERE id = %s", [message.attachment_id])
        (stored,) = cursor.fetchone()
    audit_log = table_text("auditlog_logentry")
    assert b"layoffs" not in bytes(stored)
    assert Attachment.objects.get(pk=message.attachment_id).name == "layoffs-Q3-names.xlsx"
    assert LogEntry.objects.get_for_object(message.attachment).exists()  # the file is audit-logged, not its name
    assert "layoffs" not in audit_log
