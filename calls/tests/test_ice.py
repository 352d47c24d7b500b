"""ICE servers: none by default; with TURN configured, TURN REST API credentials coturn accepts."""

import base64
import hashlib
import hmac

import pytest

from calls.ice import ice_servers_for
from calls.tests.factories import UserFactory
from core.testing import signed_in_client


def test_no_stun_or_turn_server_is_offered_by_default(settings):
    settings.PARLEY_TURN_URLS = []

    assert ice_servers_for(user_id=7) == []


def test_turn_credentials_follow_the_turn_rest_api_convention(settings):
    settings.PARLEY_TURN_URLS = ["turn:turn.example.internal:3478?transport=udp", "turns:turn.example.internal:5349"]
    settings.PARLEY_TURN_SHARED_SECRET = "north-wind"
    settings.PARLEY_TURN_CREDENTIAL_SECONDS = 3600

    (server,) = ice_servers_for(user_id=7, now=1_800_000_000)

    assert server["urls"] == settings.PARLEY_TURN_URLS
    assert server["username"] == "1800003600:7"
    # What coturn computes with use-auth-secret / static-auth-secret=north-wind.
    expected = base64.b64encode(hmac.new(b"north-wind", b"1800003600:7", hashlib.sha1).digest()).decode()
    assert server["credential"] == expected


@pytest.mark.django_db
def test_the_api_gives_a_signed_in_user_their_own_credentials_and_refuses_anonymous(client, settings):
    settings.PARLEY_TURN_URLS = ["turn:turn.example.internal:3478"]
    settings.PARLEY_TURN_SHARED_SECRET = "north-wind"
    alice = UserFactory()

    answer = signed_in_client(alice).get("/api/v1/calls/ice-servers")

    assert answer.status_code == 200
    assert answer.json()["ice_servers"][0]["username"].endswith(f":{alice.pk}")
    assert client.get("/api/v1/calls/ice-servers").status_code == 401
