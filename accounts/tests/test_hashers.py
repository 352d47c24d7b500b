"""accounts/hashers.py: Django's hasher at its strength, hashing in turn; through the whole ASGI application, a
sign-in storm queues (everyone gets in) and a socket's connect never waits behind a password being hashed."""

import asyncio
import threading
import time
import urllib.parse

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password, make_password
from django.db import connection

from accounts.hashers import QueuedPBKDF2PasswordHasher
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from core.admission import password_hashes
from core.testing import next_of_type, session_cookie_for, socket_to_app

create_user = database_sync_to_async(UserFactory)
CSRF_SECRET = "storm" * 6 + "ok"  # 32 characters: a CSRF secret a browser holds in its cookie and its form


def test_new_passwords_are_stored_as_djangos_own_pbkdf2_at_its_strength():
    stored = make_password("a new password")

    algorithm, iterations, _salt, _hash = stored.split("$")
    assert (algorithm, int(iterations)) == ("pbkdf2_sha256", PBKDF2PasswordHasher.iterations)
    assert PBKDF2PasswordHasher().verify("a new password", stored)  # plain Django reads what we store


def test_hashes_django_made_before_still_verify_through_the_queued_hasher():
    stored = PBKDF2PasswordHasher().encode("an old password", "somesalt")

    assert check_password("an old password", stored)
    assert not check_password("a wrong password", stored)


def test_each_hash_waits_for_its_turn():
    holder, release = hold_the_only_place()
    hashed: list[str] = []
    thread = threading.Thread(target=lambda: hashed.append(QueuedPBKDF2PasswordHasher().encode("pw", "salt")))
    thread.start()
    wait_for(lambda: password_hashes.waiting == 1)
    before_its_turn = list(hashed)
    release.set()
    holder.join()
    thread.join()

    assert before_its_turn == []
    assert PBKDF2PasswordHasher().verify("pw", hashed[0])


# ---- through the application ---------------------------------------------------------------------------------


def hold_the_only_place() -> tuple[threading.Thread, threading.Event]:
    """A password being hashed for as long as the test likes: a thread holding the worker's only place."""
    assert settings.PARLEY_PASSWORD_HASHES_AT_ONCE == 1
    release, holding = threading.Event(), threading.Event()

    def hold() -> None:
        with password_hashes.turn():
            holding.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    return holder, release


def wait_for(condition, *, seconds: float = 30) -> None:
    """Until another thread has got somewhere (a state change, not a duration); fail if it never does."""
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        time.sleep(0.005)
    pytest.fail("the other thread never got there")


async def until(condition, *, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    pytest.fail("the application never got there")


def sign_in_request(username: str) -> HttpCommunicator:
    """The sign-in form posted through the whole ASGI application, as a browser posts it."""
    from config.asgi import application

    body = urllib.parse.urlencode(
        {"username": username, "password": TEST_PASSWORD, "csrfmiddlewaretoken": CSRF_SECRET}
    ).encode()
    headers = [
        (b"host", b"localhost"),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"cookie", f"{settings.CSRF_COOKIE_NAME}={CSRF_SECRET}".encode()),
    ]
    return HttpCommunicator(application, "POST", "/accounts/login/", body=body, headers=headers)


def session_cookie_of(response: dict) -> str:
    for name, value in response["headers"]:
        if name.lower() == b"set-cookie" and value.startswith(settings.SESSION_COOKIE_NAME.encode() + b"="):
            return value.decode().split(";", 1)[0]
    raise AssertionError("the sign-in set no session cookie")


async def hello_for(cookie: str) -> str:
    """Open a socket with a session cookie; the username its hello frame names."""
    socket = socket_to_app(cookie=cookie)
    connected, _ = await socket.connect(timeout=10)
    assert connected
    hello = await next_of_type(socket, "hello", seconds=10)
    await socket.disconnect()
    return hello["user"]["username"]


@pytest.mark.django_db(transaction=True)
async def test_a_socket_connects_while_a_sign_in_waits_behind_a_password_being_hashed():
    signed_in_before = await create_user(username="already-in")
    await create_user(username="arriving")
    cookie = await database_sync_to_async(session_cookie_for)(signed_in_before)
    holder, release = hold_the_only_place()
    try:
        sign_in = asyncio.create_task(sign_in_request("arriving").get_response(timeout=60))
        await until(lambda: password_hashes.waiting == 1)  # the sign-in is in line for the hasher

        connected_as = await hello_for(cookie)
        sign_in_still_waiting = not sign_in.done() and password_hashes.waiting == 1
    finally:
        release.set()
        holder.join()
    response = await sign_in

    assert connected_as == "already-in"
    assert sign_in_still_waiting  # the socket got in while the sign-in waited: it did not queue behind hashing
    assert response["status"] == 302  # and the sign-in, once its turn came, went through
    assert await hello_for(session_cookie_of(response)) == "arriving"


@pytest.mark.django_db(transaction=True)
async def test_a_storm_of_sign_ins_queues_and_everyone_gets_in():
    usernames = [f"storm{index}" for index in range(6)]
    for username in usernames:
        await create_user(username=username)
    holder, release = hold_the_only_place()
    try:
        sign_ins = [asyncio.create_task(sign_in_request(username).get_response(timeout=60)) for username in usernames]
        await until(lambda: password_hashes.waiting == len(usernames))  # all in line at once, none refused
    finally:
        release.set()
        holder.join()
    responses = await asyncio.gather(*sign_ins)

    assert [response["status"] for response in responses] == [302] * len(usernames)
    assert [await hello_for(session_cookie_of(response)) for response in responses] == usernames
    assert (password_hashes.holding, password_hashes.waiting) == (0, 0)


def connections_to_this_database() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
async def test_sign_ins_waiting_their_turn_hold_no_database_connection():
    """Else a storm's waiting sign-ins hold the worker's whole pool, and the rest fail waiting for one."""
    usernames = [f"waiting{index}" for index in range(4)]
    for username in usernames:
        await create_user(username=username)
    count_connections = database_sync_to_async(connections_to_this_database)
    before = await count_connections()
    holder, release = hold_the_only_place()
    try:
        sign_ins = [asyncio.create_task(sign_in_request(username).get_response(timeout=60)) for username in usernames]
        await until(lambda: password_hashes.waiting == len(usernames))
        for _ in range(600):  # a closed connection's server process leaves pg_stat_activity a moment later
            if (while_waiting := await count_connections()) <= before:
                break
            await asyncio.sleep(0.05)
    finally:
        release.set()
        holder.join()
    responses = await asyncio.gather(*sign_ins)

    assert while_waiting <= before  # each read the user, then gave its connection back before waiting
    assert [response["status"] for response in responses] == [302] * len(usernames)
