"""messenger/api/notifications.py: /push, /me/push-subscriptions and /me/email-digest."""

import json
import os

import pytest
from django.test import Client

from accounts.models import PushSubscription
from core.webpush import application_server_key, b64url
from messenger.tests.api import post

pytestmark = pytest.mark.django_db

SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/abc123",
    "expirationTime": None,
    "keys": {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": b64url(os.urandom(16))},
}


def test_the_page_learns_the_key_browsers_subscribe_with(as_alice, settings):
    answer = as_alice.get("/api/v1/push").json()

    assert answer == {
        "enabled": True,
        "application_server_key": application_server_key(settings.PARLEY_VAPID_PRIVATE_KEY),
    }
    assert len(answer["application_server_key"]) == 87  # base64url of a 65-byte uncompressed P-256 point


def test_a_browser_subscribes_and_unsubscribes(as_alice, alice):
    created = post(as_alice, "/api/v1/me/push-subscriptions", SUBSCRIPTION)
    again = post(as_alice, "/api/v1/me/push-subscriptions", SUBSCRIPTION)
    stored = list(PushSubscription.objects.values_list("user", "endpoint"))
    removed = as_alice.delete("/api/v1/me/push-subscriptions?" + f"endpoint={SUBSCRIPTION['endpoint']}")

    assert (created.status_code, again.status_code, removed.status_code) == (201, 201, 204)
    assert stored == [(alice.pk, SUBSCRIPTION["endpoint"])]
    assert not PushSubscription.objects.exists()


def test_an_endpoint_outside_the_push_services_is_refused_with_a_clear_error(as_alice):
    answer = post(as_alice, "/api/v1/me/push-subscriptions", {**SUBSCRIPTION, "endpoint": "https://10.1.2.3/x"})

    assert answer.status_code == 400
    assert answer.json()["code"] == "push_subscription_invalid"
    assert not PushSubscription.objects.exists()


def test_subscribing_needs_a_session_with_its_csrf_token(alice):
    anonymous = post(Client(), "/api/v1/me/push-subscriptions", SUBSCRIPTION)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    without_token = post(browser, "/api/v1/me/push-subscriptions", SUBSCRIPTION)
    browser.get("/")  # the page sets the CSRF cookie, as in the browser
    with_token = post(
        browser, "/api/v1/me/push-subscriptions", SUBSCRIPTION, HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value
    )

    assert (anonymous.status_code, without_token.status_code, with_token.status_code) == (401, 403, 201)


def test_the_email_digest_is_switched_off_and_on(as_alice, alice):
    off = as_alice.put("/api/v1/me/email-digest", json.dumps({"enabled": False}), content_type="application/json")
    alice.refresh_from_db()
    assert (off.json(), alice.email_digest) == ({"enabled": False}, False)
    on = as_alice.put("/api/v1/me/email-digest", json.dumps({"enabled": True}), content_type="application/json")
    assert on.json() == {"enabled": True}
