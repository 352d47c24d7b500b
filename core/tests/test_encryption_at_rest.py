"""A marker sent through the real stack is nowhere readable: not in the tables, a pg_dump, or Redis."""

import os
import re
import shutil
import subprocess
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from accounts.tests.factories import UserFactory
from core import fanout
from core.testing import Listener, session_cookie_for, socket_to_app, table_text
from messenger.tests.factories import room_with

IS_CI = os.environ.get("CI", "").lower() == "true"
TABLES_WITH_TEXT = ["messenger_message", "messenger_messageversion", "archive_archiveentry"]


@pytest.fixture
def marker() -> str:
    return f"MARKER-{uuid.uuid4().hex}"


async def send_edit_through_the_socket(marker: str) -> None:
    alice = await database_sync_to_async(UserFactory)()
    room = await database_sync_to_async(room_with)(alice)
    socket = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(alice))
    assert (await socket.connect())[0]
    await socket.send_json_to(
        {"type": "message.send", "ref": "s", "conversation_id": room.pk, "client_id": "m1", "body": f"one {marker}"}
    )
    while (ack := await socket.receive_json_from(timeout=5)).get("ref") != "s":
        pass
    await socket.send_json_to(
        {"type": "message.edit", "ref": "e", "message_id": ack["message"]["id"], "body": f"two {marker}"}
    )
    while (await socket.receive_json_from(timeout=5)).get("ref") != "e":
        pass
    await socket.disconnect()


def tables_containing(needle: str) -> list[str]:
    """Every table (not only the ones meant to hold text: audit log, sessions, ...) whose raw rows hold `needle`."""
    tables = connection.introspection.table_names()
    assert set(TABLES_WITH_TEXT) <= set(tables)
    return [table for table in tables if needle in table_text(table)]


@pytest.mark.django_db(transaction=True)
async def test_a_message_and_its_edit_are_stored_sealed_everywhere(marker):
    await send_edit_through_the_socket(marker)

    assert "messenger_conversation" in await database_sync_to_async(tables_containing)("room-")  # finds clear text
    assert await database_sync_to_async(tables_containing)(marker) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_pg_dump_of_the_database_does_not_contain_the_marker(marker):
    async_to_sync(send_edit_through_the_socket)(marker)
    if shutil.which("pg_dump") is None:
        if IS_CI:
            pytest.fail("pg_dump is missing; .ci/run installs postgresql-client")
        pytest.skip("pg_dump is not installed")
    db = connection.settings_dict

    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            db["HOST"] or "127.0.0.1",
            "-p",
            str(db["PORT"] or 5432),
            "-U",
            db["USER"],
            db["NAME"],
        ],
        env={**os.environ, "PGPASSWORD": db["PASSWORD"] or ""},
        capture_output=True,
        timeout=120,
        check=True,
    ).stdout

    assert b"messenger_message" in dump  # the dump really holds the tables
    assert marker.encode() not in dump


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_channel_layer_traffic_crosses_redis_encrypted(marker):
    """The pub/sub layer keeps nothing in Redis, but every event crosses it: whoever can subscribe in Redis
    reads only ciphertext, while members' sockets read the message."""
    import redis

    eavesdropper = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    eavesdropper.psubscribe(f"{settings.PARLEY_CHANNEL_PREFIX}*")
    assert eavesdropper.get_message(timeout=5)["type"] == "psubscribe"
    member = Listener(fanout.conversation_group(987654))

    fanout.to_conversation(987654, {"type": "message", "message": {"body": f"secret {marker}"}})

    crossed = eavesdropper.get_message(timeout=5)
    assert crossed is not None, "the event should have crossed Redis"
    assert marker.encode() not in crossed["data"]
    assert b"secret" not in crossed["data"]
    assert [frame["message"]["body"] for frame in member.frames()] == [f"secret {marker}"]
    eavesdropper.close()


@pytest.mark.django_db
def test_file_names_and_room_topics_are_stored_sealed_yet_the_app_the_api_and_the_archive_show_them(
    marker, settings, tmp_path
):
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.test import Client

    from core.testing import force_login_with_second_factor

    settings.PARLEY_CLAMD_ADDRESS = ""
    settings.MEDIA_ROOT = tmp_path / "media"
    alice = UserFactory(username="alice")
    api = Client()
    api.force_login(alice)
    file_name, topic = f"layoffs-Q3-{marker}.xlsx", f"reorganisation {marker}"

    room_id = api.post(
        "/api/v1/rooms", json.dumps({"name": "plans", "topic": "first", "is_public": True}), "application/json"
    ).json()["id"]
    api.patch(f"/api/v1/rooms/{room_id}", json.dumps({"topic": topic}), "application/json")
    shared = api.post(
        f"/api/v1/conversations/{room_id}/files", {"file": SimpleUploadedFile(file_name, b"names"), "client_id": "f1"}
    )
    officer = UserFactory(username="root", is_staff=True, is_superuser=True)
    review = Client()
    force_login_with_second_factor(review, officer)
    reviewed = review.get("/admin/archive/archiveentry/review/", {"words": marker}).content.decode()
    export = tmp_path / "export.jsonl"
    call_command("export_archive", str(export), "--requested-by", "compliance")

    assert shared.status_code == 201
    assert shared.json()["attachment"]["name"] == file_name
    history = api.get(f"/api/v1/conversations/{room_id}/messages").json()["messages"]
    assert [message["attachment"]["name"] for message in history if message["attachment"]] == [file_name]
    assert api.get(f"/api/v1/conversations/{room_id}").json()["topic"] == topic
    assert [room["id"] for room in api.get("/api/v1/rooms", {"search": "REORGANISATION"}).json()["rooms"]] == [room_id]
    found = api.get("/api/v1/messages/search", {"q": "layoffs-q3"}).json()["messages"]
    assert [message["attachment"]["name"] for message in found] == [file_name]
    assert api.get(f"/api/v1/files/{shared.json()['attachment']['id']}")["Content-Disposition"].endswith(
        f'filename="{file_name}"'
    )
    shown = re.sub(r"</?mark>", "", reviewed)  # the review screen marks the words searched for
    assert file_name in shown and topic in shown
    assert file_name in export.read_text() and topic in export.read_text()
    assert tables_containing(marker) == []  # attachments, conversations, the audit log: nowhere in clear
