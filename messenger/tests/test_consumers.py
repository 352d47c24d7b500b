"""The socket answers every frame; a bad one gets an error frame and the socket stays open."""

import pytest
from channels.db import database_sync_to_async

from accounts.tests.factories import UserFactory
from core.testing import session_cookie_for, socket_to_app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def socket():
    user = await database_sync_to_async(UserFactory)()
    communicator = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(user))
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "hello"
    yield communicator
    await communicator.disconnect()


async def assert_still_open(socket):
    await socket.send_json_to({"type": "ping", "ref": "after"})
    assert await socket.receive_json_from() == {"type": "pong", "ref": "after"}


async def test_ping_is_answered_with_pong_carrying_the_same_ref(socket):
    await socket.send_json_to({"type": "ping", "ref": "r1"})

    assert await socket.receive_json_from() == {"type": "pong", "ref": "r1"}


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
    ],
)
async def test_bad_frame_gets_an_error_frame_and_the_socket_stays_open(socket, raw, code):
    await socket.send_to(text_data=raw)

    error = await socket.receive_json_from()

    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    await assert_still_open(socket)


async def test_error_frame_echoes_the_ref_of_the_frame_it_answers(socket):
    await socket.send_json_to({"type": "teleport", "ref": "mine"})

    assert (await socket.receive_json_from())["ref"] == "mine"


async def test_binary_frame_gets_an_error_frame_and_the_socket_stays_open(socket):
    await socket.send_to(bytes_data=b"\x00\x01")

    assert (await socket.receive_json_from())["code"] == "bad_frame"
    await assert_still_open(socket)
