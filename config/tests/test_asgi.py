"""The ASGI application lets in signed-in users from our own origin, and nobody else."""

import pytest
from channels.db import database_sync_to_async

from accounts.tests.factories import UserFactory
from core.testing import session_cookie_for, socket_to_app

pytestmark = pytest.mark.django_db(transaction=True)


async def signed_in_cookie() -> str:
    user = await database_sync_to_async(UserFactory)(username="alice")
    return await database_sync_to_async(session_cookie_for)(user)


async def test_signed_in_user_from_our_origin_is_accepted_and_greeted():
    socket = socket_to_app(cookie=await signed_in_cookie())

    connected, _ = await socket.connect()
    hello = await socket.receive_json_from()

    assert connected
    assert hello["type"] == "hello"
    assert hello["user"]["username"] == "alice"
    await socket.disconnect()


async def test_socket_without_a_session_is_refused():
    socket = socket_to_app(cookie=None)

    connected, _ = await socket.connect()

    assert not connected


async def test_socket_with_a_forged_session_cookie_is_refused():
    socket = socket_to_app(cookie="sessionid=not-a-real-session")

    connected, _ = await socket.connect()

    assert not connected


async def test_signed_in_socket_from_a_foreign_origin_is_refused():
    socket = socket_to_app(cookie=await signed_in_cookie(), origin="https://evil.example")

    connected, _ = await socket.connect()

    assert not connected


async def test_signed_in_socket_without_an_origin_header_is_refused():
    socket = socket_to_app(cookie=await signed_in_cookie(), origin=None)

    connected, _ = await socket.connect()

    assert not connected
