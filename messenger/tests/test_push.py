"""messenger/push.py: Web Push to people with no Parley tab open, against a real push endpoint on loopback."""

from __future__ import annotations

import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client

from accounts import presence
from accounts.models import PushSubscription
from accounts.services import push_subscription_save
from accounts.tests.factories import UserFactory
from core.webpush import application_server_key
from messenger import push
from messenger.services import direct_open, membership_mute
from messenger.tests.api import post
from messenger.tests.factories import room_with, send
from messenger.tests.push_service import Browser, loopback_push_service, vapid_claims

pytestmark = pytest.mark.django_db


@pytest.fixture
def push_service(settings):
    settings.PARLEY_PUSH_SERVICE_HOSTS = ["127.0.0.1"]
    with loopback_push_service() as service:
        yield service


@pytest.fixture
def alice():
    return UserFactory(username="alice", display_name="Alice Archer")


@pytest.fixture
def bob():
    return UserFactory(username="bob", display_name="Bob Bauer")


def subscribed(user, push_service, name: str | None = None) -> Browser:
    browser = push_service.browser(name or f"{user.username}-{uuid.uuid4().hex[:6]}")
    push_subscription_save(user=user, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth)
    return browser


def direct_chat(alice, bob):
    return direct_open(user=alice, other_username=bob.username)


def test_a_direct_message_reaches_someone_with_no_tab_open_encrypted_signed_and_without_its_words(
    alice, bob, push_service
):
    browser = subscribed(bob, push_service)
    conversation = direct_chat(alice, bob)
    message = send(alice, conversation, "The merger closes on Friday")

    accepted = push.message_push(message_id=message.pk)

    assert accepted == 1
    [received] = push_service.received
    assert received.path == browser.endpoint.removeprefix(push_service.origin)
    assert received.headers["Content-Encoding"] == "aes128gcm"
    assert int(received.headers["TTL"]) == push.PUSH_TTL_SECONDS
    assert b"merger" not in received.body  # encrypted on the wire
    payload = browser.decrypt(received.body)
    assert payload["title"] == "Parley"
    assert payload["body"] == "New message from Alice Archer"
    assert "merger" not in str(payload)
    assert payload["url"] == f"/#/c/{conversation.pk}"
    claims = vapid_claims(
        received.headers["Authorization"], public_key=application_server_key(settings.PARLEY_VAPID_PRIVATE_KEY)
    )
    assert claims["aud"] == push_service.origin
    assert claims["sub"].startswith("mailto:")
    assert claims["exp"] > time.time()


def test_with_previews_allowed_the_push_carries_the_start_of_the_message(alice, bob, push_service, settings):
    settings.PARLEY_NOTIFICATION_PREVIEWS = True
    browser = subscribed(bob, push_service)
    conversation = direct_chat(alice, bob)
    message = send(alice, conversation, "Lunch   at\nnoon? " + "x" * 300)

    push.message_push(message_id=message.pk)

    payload = browser.decrypt(push_service.received[0].body)
    assert payload["title"] == "Alice Archer"
    assert payload["body"].startswith("Lunch at noon? xxx")
    assert len(payload["body"]) == push.PREVIEW_LENGTH and payload["body"].endswith("…")


def test_someone_with_a_parley_tab_open_gets_no_push_and_every_browser_of_someone_away_gets_one(
    alice, bob, push_service
):
    carol = UserFactory(username="carol")
    bob_laptop, bob_phone = subscribed(bob, push_service), subscribed(bob, push_service)
    subscribed(carol, push_service)
    room = room_with(alice, bob, carol)
    connection_id = uuid.uuid4().hex
    async_to_sync(presence.connection_opened)(user_id=carol.pk, connection_id=connection_id, choice="auto")
    try:
        message = send(alice, room, "@bob and @carol, look")
        accepted = push.message_push(message_id=message.pk)
    finally:
        async_to_sync(presence.connection_closed)(user_id=carol.pk, connection_id=connection_id)

    assert accepted == 2
    assert sorted(push.path for push in push_service.received) == sorted(
        browser.endpoint.removeprefix(push_service.origin) for browser in (bob_laptop, bob_phone)
    )


def test_a_room_message_pushes_only_the_people_it_mentions_never_the_sender(alice, bob, push_service):
    carol = UserFactory(username="carol")
    for person in (alice, bob, carol):
        subscribed(person, push_service, name=person.username)
    room = room_with(alice, bob, carol)

    push.message_push(message_id=send(alice, room, "morning all").pk)
    push.message_push(message_id=send(alice, room, "@carol can you check? cc @alice").pk)

    assert [push.path for push in push_service.received] == ["/push/carol"]


def test_a_muted_direct_chat_and_a_busy_person_are_not_pushed(alice, bob, push_service):
    carol = UserFactory(username="carol", presence_choice="busy")
    subscribed(bob, push_service)
    subscribed(carol, push_service)
    muted = direct_chat(alice, bob)
    membership_mute(user=bob, conversation_id=muted.pk, is_muted=True)
    busy = direct_chat(alice, carol)

    for conversation in (muted, busy):
        push.message_push(message_id=send(alice, conversation, "hi").pk)

    assert push_service.received == []


def test_a_subscription_the_push_service_no_longer_knows_is_deleted_and_one_that_failed_is_kept(
    alice, bob, push_service
):
    gone = subscribed(bob, push_service, name="gone")
    failing = subscribed(bob, push_service, name="failing")
    push_service.status_for.update(gone=410, failing=500)
    conversation = direct_chat(alice, bob)

    accepted = push.message_push(message_id=send(alice, conversation).pk)

    assert accepted == 0
    assert len(push_service.received) == 2
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [failing.endpoint]
    assert gone.endpoint not in str(list(PushSubscription.objects.all()))


def test_an_unreachable_push_service_costs_nothing_but_that_push(alice, bob, settings):
    settings.PARLEY_PUSH_SERVICE_HOSTS = ["127.0.0.1"]
    with loopback_push_service() as service:
        browser = service.browser("closed")
    push_subscription_save(user=bob, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth)
    conversation = direct_chat(alice, bob)

    assert push.message_push(message_id=send(alice, conversation).pk) == 0
    assert PushSubscription.objects.filter(user=bob).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_sent_message_is_pushed_after_commit_by_the_background_thread(alice, bob, push_service):
    browser = subscribed(bob, push_service)
    conversation = direct_chat(alice, bob)

    send(alice, conversation, "are you there?")

    [received] = push_service.wait_for(1)
    assert browser.decrypt(received.body)["body"] == "New message from Alice Archer"


def test_without_a_vapid_key_nothing_is_queued(settings):
    settings.PARLEY_VAPID_PRIVATE_KEY = ""

    assert push.message_push_after_commit(1) is None


def test_a_browser_whose_session_signed_out_gets_no_more_pushes(alice, bob, push_service):
    browser, other_browser = push_service.browser("signed-out"), push_service.browser("still-in")
    sessions = []
    for subscribing in (browser, other_browser):
        session = Client()
        session.force_login(bob)
        subscription = {
            "endpoint": subscribing.endpoint,
            "keys": {"p256dh": subscribing.p256dh, "auth": subscribing.auth},
        }
        assert post(session, "/api/v1/me/push-subscriptions", subscription).status_code == 201
        sessions.append(session)
    sessions[0].post("/accounts/logout/")
    conversation = direct_chat(alice, bob)

    push.message_push(message_id=send(alice, conversation).pk)

    assert [received.path for received in push_service.received] == ["/push/still-in"]


def test_draining_waits_for_every_push_queued_before_it():
    from messenger.push import _pushes, pushes_drain

    queued = _pushes.submit(time.sleep, 0.3)

    pushes_drain()

    assert queued.done()
