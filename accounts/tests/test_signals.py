"""Deactivation takes effect at once whichever way it is done: sessions end, sockets close, messages stay."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from core.testing import force_login_with_second_factor, session_cookie_for, socket_to_app
from messenger.models import Message
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db(transaction=True)


async def open_socket(user):
    socket = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(user))
    assert (await socket.connect())[0]
    return socket


async def assert_signed_out(socket) -> None:
    while (frame := await socket.receive_json_from(timeout=3))["type"] != "signed_out":
        pass
    assert frame["reason"] == "deactivated"
    assert (await socket.receive_output(timeout=3))["type"] == "websocket.close"


def deactivate_by_saving(user):
    user.is_active = False
    user.save()


def password_sign_in(username: str) -> bool:
    """Sign in through the login form, as a person would; True if it let them in."""
    client = Client()
    client.post("/accounts/login/", {"username": username, "password": TEST_PASSWORD})
    return "_auth_user_id" in client.session


def deactivate_by_command(user):
    call_command("deactivate_user", user.username)


def deactivate_in_admin(user):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    force_login_with_second_factor(client, admin)
    client.post("/admin/accounts/user/", {"action": "deactivate", "_selected_action": [user.pk]})


@pytest.mark.parametrize("deactivate", [deactivate_by_saving, deactivate_by_command, deactivate_in_admin])
async def test_deactivation_signs_the_user_out_everywhere_and_keeps_their_messages(deactivate):
    mallory = await database_sync_to_async(UserFactory)(username="mallory")
    await database_sync_to_async(lambda: send(mallory, room_with(mallory), "kept for the record"))()
    first_tab, second_tab = await open_socket(mallory), await open_socket(mallory)

    await database_sync_to_async(deactivate)(mallory)

    for socket in (first_tab, second_tab):
        await assert_signed_out(socket)
    assert not await database_sync_to_async(
        lambda: [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(mallory.pk)]
    )()
    assert not await database_sync_to_async(password_sign_in)("mallory")
    assert await database_sync_to_async(Message.objects.filter(sender=mallory).count)() == 1


def test_reactivation_lets_the_user_sign_in_again():
    user = UserFactory(username="trent", is_active=False)

    call_command("deactivate_user", "trent", "--reactivate")

    assert User.objects.get(pk=user.pk).is_active
    assert password_sign_in("trent")
