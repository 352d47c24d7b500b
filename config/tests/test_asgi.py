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


# ---- the Origin check compares scheme, host and port (issue 11) ---------------------------------------------


async def connects(**socket_options) -> bool:
    socket = socket_to_app(cookie=await signed_in_cookie(), **socket_options)
    connected, _ = await socket.connect()
    if connected:
        await socket.disconnect()
    return connected


async def test_socket_from_our_origin_with_its_port_is_accepted():
    assert await connects(host="localhost:8000", origin="http://localhost:8000")


async def test_socket_from_a_page_on_another_port_of_our_host_is_refused():
    assert not await connects(host="localhost:8000", origin="http://localhost:8081")
    assert not await connects(host="localhost", origin="http://localhost:8081")


async def test_socket_from_an_https_page_to_a_plain_http_site_is_refused():
    assert not await connects(host="localhost", origin="https://localhost")


async def test_socket_whose_host_is_not_an_allowed_host_is_refused_even_from_that_hosts_page():
    assert not await connects(host="evil.example", origin="http://evil.example")


async def test_socket_from_an_origin_in_csrf_trusted_origins_is_accepted(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["http://localhost:3000", "https://*.parley.example"]

    assert await connects(host="localhost", origin="http://localhost:3000")
    assert await connects(host="localhost", origin="https://chat.parley.example")
    assert not await connects(host="localhost", origin="http://chat.parley.example")


async def test_socket_through_a_tls_proxy_is_accepted_from_the_https_page_and_refused_from_http(settings):
    settings.ALLOWED_HOSTS = ["parley.example"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    behind_tls = ((b"x-forwarded-proto", b"https"),)

    assert await connects(host="parley.example", origin="https://parley.example", extra_headers=behind_tls)
    assert not await connects(host="parley.example", origin="http://parley.example", extra_headers=behind_tls)


async def test_a_forwarded_proto_header_is_not_believed_unless_the_operator_trusts_it(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    claims_tls = ((b"x-forwarded-proto", b"https"),)

    assert not await connects(host="localhost", origin="https://localhost", extra_headers=claims_tls)
