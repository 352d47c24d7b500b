"""accounts/services/sessions.py: ending sessions closes their sockets, and only theirs."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from accounts import errors, services
from accounts.models import SignIn
from accounts.tests.factories import UserFactory
from core import fanout
from core.testing import closes_with, open_socket_for, session_cookie_for

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
async def test_signing_one_session_out_closes_its_sockets_and_no_others():
    dana = await database_sync_to_async(UserFactory)(username="dana")
    laptop_cookie = await database_sync_to_async(session_cookie_for)(dana)
    phone_cookie = await database_sync_to_async(session_cookie_for)(dana)
    laptop, phone = await open_socket_for(laptop_cookie), await open_socket_for(phone_cookie)
    phone_key = phone_cookie.split("=", 1)[1]
    phone_sign_in = await database_sync_to_async(SignIn.objects.get)(session_key=phone_key)

    await database_sync_to_async(services.session_end)(user=dana, sign_in_id=phone_sign_in.pk)

    assert await closes_with(phone, "ended_by_user")
    await laptop.send_json_to({"type": "ping", "ref": "still-here"})
    while (frame := await laptop.receive_json_from(timeout=3))["type"] != "pong":
        pass
    assert frame["ref"] == "still-here"
    await laptop.disconnect()


def test_ending_a_session_that_is_not_yours_is_refused(alice, bob):
    client = Client()
    client.force_login(bob)

    with pytest.raises(errors.SessionInvalid):
        services.session_end(user=alice, sign_in_id=SignIn.objects.get(user=bob).pk)


@pytest.mark.django_db(transaction=True)
async def test_a_session_given_a_new_key_keeps_its_sockets_reachable_under_the_new_key():
    dana = await database_sync_to_async(UserFactory)(username="dana")
    cookie = await database_sync_to_async(session_cookie_for)(dana)
    socket = await open_socket_for(cookie)
    old_key = cookie.split("=", 1)[1]

    await database_sync_to_async(services.session_key_changed)(old_key=old_key, new_key="rekeyed-session")

    # The socket follows the new key once it has handled the move; ask until it has.
    for _ in range(50):
        await database_sync_to_async(fanout.close_session_sockets)("rekeyed-session", reason="ended_by_user")
        if await socket.receive_nothing(timeout=0.2):  # (a receive that times out would end the app)
            continue
        if (await socket.receive_json_from())["type"] == "signed_out":
            break
    else:
        pytest.fail("the socket never heard of its session's new key")
    assert (await socket.receive_output(timeout=3))["type"] == "websocket.close"
    assert await database_sync_to_async(SignIn.objects.filter(session_key="rekeyed-session").exists)()
