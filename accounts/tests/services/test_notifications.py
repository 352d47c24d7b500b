"""accounts/services/notifications.py: push subscriptions, the e-mail digest switch and its unsubscribe link."""

import os

import pytest

from accounts import services
from accounts.errors import PushSubscriptionInvalid, UnsubscribeLinkInvalid
from accounts.models import PushSubscription
from accounts.tests.factories import UserFactory
from core.webpush import b64url

pytestmark = pytest.mark.django_db

P256DH = b64url(b"\x04" + os.urandom(64))
AUTH = b64url(os.urandom(16))
FCM = "https://fcm.googleapis.com/fcm/send/abc123"


def save(user, endpoint=FCM, p256dh=P256DH, auth=AUTH):
    return services.push_subscription_save(user=user, endpoint=endpoint, p256dh=p256dh, auth=auth)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/x",
        "https://updates.push.services.mozilla.com/wpush/v2/x",
        "https://web.push.apple.com/x",
        "https://wns2-par02p.notify.windows.com/w/?token=x",
    ],
)
def test_the_push_services_of_the_common_browsers_are_accepted(alice, endpoint):
    assert save(alice, endpoint=endpoint).endpoint == endpoint


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://10.0.0.5/push",  # an internal address: the server would POST into the company network
        "https://metadata.google.internal/x",
        "https://fcm.googleapis.com.evil.example/x",
        "http://fcm.googleapis.com/fcm/send/x",  # not HTTPS
        "javascript:alert(1)",
    ],
)
def test_an_endpoint_anywhere_else_is_refused(alice, endpoint):
    with pytest.raises(PushSubscriptionInvalid):
        save(alice, endpoint=endpoint)
    assert not PushSubscription.objects.exists()


def test_plain_http_is_allowed_only_to_a_loopback_host_listed_on_purpose(alice, settings):
    with pytest.raises(PushSubscriptionInvalid):
        save(alice, endpoint="http://127.0.0.1:9/push")
    settings.PARLEY_PUSH_SERVICE_HOSTS = ["127.0.0.1"]

    assert save(alice, endpoint="http://127.0.0.1:9/push")


@pytest.mark.parametrize("keys", [{"p256dh": "short"}, {"auth": b64url(os.urandom(8))}, {"p256dh": "!!not base64!!"}])
def test_keys_of_the_wrong_size_are_refused(alice, keys):
    with pytest.raises(PushSubscriptionInvalid):
        save(alice, **keys)


def test_a_browser_that_subscribes_again_for_someone_else_stops_notifying_the_first_person(alice, bob):
    save(alice)
    new_auth = b64url(os.urandom(16))

    save(bob, auth=new_auth)

    assert list(PushSubscription.objects.values_list("user__username", "auth")) == [("bob", new_auth)]


def test_people_delete_only_their_own_subscriptions(alice, bob):
    save(alice)

    assert services.push_subscription_delete(user=bob, endpoint=FCM) is False
    assert services.push_subscription_delete(user=alice, endpoint=FCM) is True
    assert not PushSubscription.objects.exists()


def test_the_unsubscribe_link_turns_the_digest_off_for_its_owner_only(alice, bob):
    token = services.digest_unsubscribe_token(user=alice)

    services.email_digest_unsubscribe(token=token)

    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.email_digest, bob.email_digest) == (False, True)


def test_a_forged_or_edited_unsubscribe_link_is_refused(alice):
    token = services.digest_unsubscribe_token(user=alice)
    other_id = UserFactory().pk
    forged = f"{other_id}{token[token.index(':') :]}"

    for bad in (token[:-2], forged, "nonsense"):
        with pytest.raises(UnsubscribeLinkInvalid):
            services.email_digest_unsubscribe(token=bad)
    alice.refresh_from_db()
    assert alice.email_digest is True


def test_the_digest_switch_turns_it_off_and_on(alice):
    services.email_digest_set(user=alice, enabled=False)
    alice.refresh_from_db()
    assert alice.email_digest is False
    services.email_digest_set(user=alice, enabled=True)
    alice.refresh_from_db()
    assert alice.email_digest is True
