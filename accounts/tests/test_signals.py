"""Deactivation takes effect at once whichever way it is done: sessions end, sockets close, messages stay."""

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client

from accounts.models import SignIn, User
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


# ---- a new password closes the other sessions and their sockets ----------------------------------------------

NEW_PASSWORD = "a-much-longer-passphrase-42"


def signed_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cookie_of(client: Client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def socket_with(cookie: str):
    socket = socket_to_app(cookie=cookie)
    assert (await socket.connect())[0]
    return socket


async def assert_closed_for(socket, reason: str) -> None:
    while (frame := await socket.receive_json_from(timeout=3))["type"] != "signed_out":
        pass
    assert frame["reason"] == reason
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}


async def assert_still_open(socket) -> None:
    await socket.send_json_to({"type": "ping", "ref": "still-there"})
    while (frame := await socket.receive_json_from(timeout=3)).get("ref") != "still-there":
        assert frame["type"] != "signed_out"
    assert frame["type"] == "pong"


async def test_changing_the_password_closes_the_sockets_of_other_sessions_and_keeps_this_sessions():
    dana = await database_sync_to_async(UserFactory)(username="dana")
    elsewhere = await database_sync_to_async(signed_in_client)(dana)
    here = await database_sync_to_async(signed_in_client)(dana)
    elsewhere_socket = await socket_with(cookie_of(elsewhere))
    here_socket = await socket_with(cookie_of(here))

    response = await database_sync_to_async(here.post)(
        "/accounts/password_change/",
        {"old_password": TEST_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    await assert_closed_for(elsewhere_socket, "password_changed")
    await assert_still_open(here_socket)
    assert (await database_sync_to_async(elsewhere.get)("/")).status_code == 302
    assert (await database_sync_to_async(here.get)("/")).status_code == 200
    await here_socket.disconnect()


def reset_password_by_email_link(user) -> None:
    """The "forgot your password" flow from an anonymous browser: ask, follow the mailed link, set a new one."""
    import re

    from django.core import mail

    browser = Client()
    browser.post("/accounts/password_reset/", {"email": user.email})
    (link,) = re.findall(r"https?://[^/\s]+(/accounts/reset/\S+/)", mail.outbox[-1].body)
    set_password_page = browser.get(link, follow=True).redirect_chain[-1][0]
    response = browser.post(set_password_page, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content[:500]


def set_password_in_admin(user) -> None:
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    force_login_with_second_factor(client, root)
    response = client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:500]


def set_password_in_code(user) -> None:
    user.set_password(NEW_PASSWORD)
    user.save()


@pytest.mark.parametrize("set_password", [reset_password_by_email_link, set_password_in_admin, set_password_in_code])
async def test_a_password_set_without_a_session_of_the_user_closes_every_socket_and_session(set_password):
    dana = await database_sync_to_async(UserFactory)(username="dana")
    browser = await database_sync_to_async(signed_in_client)(dana)
    first_tab, second_tab = await socket_with(cookie_of(browser)), await socket_with(cookie_of(browser))

    await database_sync_to_async(set_password)(dana)

    for socket in (first_tab, second_tab):
        await assert_closed_for(socket, "password_changed")
    assert (await database_sync_to_async(browser.get)("/")).status_code == 302
    assert not await database_sync_to_async(SignIn.objects.filter(user=dana, ended_at__isnull=True).exists)()


def test_saving_a_user_without_a_new_password_ends_no_session():
    dana = UserFactory(username="dana")
    browser = signed_in_client(dana)

    dana.display_name = "Dana S."
    dana.save()

    assert browser.get("/").status_code == 200
    assert SignIn.objects.filter(user=dana, ended_at__isnull=True).count() == 1
