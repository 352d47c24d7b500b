"""OpenID Connect Back-Channel Logout 1.0 against the real test provider (oidc_provider/, django-oauth-toolkit in
its own process): people sign in through it for real, and Parley checks each Logout Token against the keys the
live provider publishes (its JWKS endpoint), as in production.

django-oauth-toolkit does not send back-channel Logout Tokens itself, so each test makes the token the provider
would send, signed with the provider's own private key (made at its start, oidc_provider/settings.py), and POSTs
it to Parley as the provider would."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
import requests
from asgiref.sync import sync_to_async
from auditlog.models import LogEntry
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.test import Client

from accounts.models import DirectorySource, LogoutTokenSeen, SignIn, User
from accounts.oidc import BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_MAX_AGE
from accounts.tests.factories import UserFactory
from accounts.tests.oidc_provider import CLIENT_ID
from accounts.tests.test_oidc import browser, sign_in_with_the_provider
from core.testing import closes_with, open_socket_for

pytestmark = pytest.mark.django_db

URL = "/accounts/oidc/backchannel-logout/"


def provider_key_id(provider) -> str:
    """The `kid` the provider publishes its key under (what it puts in the header of what it signs)."""
    (key,) = requests.get(f"{provider.issuer}/.well-known/jwks.json", timeout=10).json()["keys"]
    return key["kid"]


def logout_token(provider, *, key: str | None = None, drop: tuple[str, ...] = (), **claims) -> str:
    """A Logout Token as the provider would send it for `claims` (sub, sid, ...), signed with its own key unless
    `key` says otherwise; `drop` leaves claims out."""
    now = int(time.time())
    payload = {
        "iss": provider.issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        **claims,
    }
    payload = {name: value for name, value in payload.items() if name not in drop}
    headers = {"kid": provider_key_id(provider), "typ": "logout+jwt"}
    return jwt.encode(payload, key or provider.signing_key(), algorithm="RS256", headers=headers)


def provider_sends(token: str):
    """The provider's POST, server to server: no cookie, no CSRF token."""
    return Client(enforce_csrf_checks=True).post(URL, {"logout_token": token})


def signed_in(username: str) -> tuple[Client, User]:
    client = browser()
    assert sign_in_with_the_provider(client, username).status_code == 302
    return client, User.objects.get(username=username)


def is_signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def session_cookie(client: Client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.mark.django_db(transaction=True)
async def test_a_logout_token_for_a_person_signs_them_out_everywhere_and_closes_their_sockets(sso):
    (laptop, olivia), (phone, _) = [await sync_to_async(signed_in)("olivia") for _ in range(2)]
    socket = await open_socket_for(session_cookie(laptop))

    answer = await sync_to_async(provider_sends)(logout_token(sso, sub=olivia.directory_id))

    assert (answer.status_code, answer["Cache-Control"]) == (200, "no-store")
    assert await closes_with(socket, "signed_out_by_provider")
    assert not await sync_to_async(is_signed_in)(laptop)
    assert not await sync_to_async(is_signed_in)(phone)
    entry = await sync_to_async(LogEntry.objects.get)(additional_data__privileged_action="signed_out_by_provider")
    assert (entry.object_pk, entry.actor_id, entry.additional_data["sessions_ended"]) == (str(olivia.pk), None, 2)
    reasons = SignIn.objects.filter(user=olivia).values_list("end_reason", flat=True)
    assert await sync_to_async(list)(reasons) == ["signed_out_by_provider"] * 2


@pytest.mark.parametrize("with_sub", [True, False], ids=["sid and sub", "sid only"])
def test_a_logout_token_naming_a_provider_session_ends_that_session_only(sso, with_sub):
    laptop, olivia = signed_in("olivia")
    phone, _ = signed_in("olivia")
    laptop_sid = SignIn.objects.get(session_key=laptop.session.session_key).provider_session_id
    assert laptop_sid  # the sid of the ID token, recorded at sign-in

    claims = {"sub": olivia.directory_id} if with_sub else {}
    answer = provider_sends(logout_token(sso, sid=laptop_sid, **claims))

    assert answer.status_code == 200
    assert not is_signed_in(laptop)
    assert is_signed_in(phone)


def test_an_account_another_directory_keeps_is_signed_out_by_the_sub_it_signed_in_with(sso):
    """SCIM (or LDAP) keeps the account and its link; the provider only vouched for the person at sign-in."""
    UserFactory(username="olivia", directory_source=DirectorySource.SCIM, directory_id="scim-olivia")
    client, olivia = signed_in("olivia")
    sub = SignIn.objects.get(user=olivia).provider_subject
    assert sub and olivia.directory_id == "scim-olivia"

    assert provider_sends(logout_token(sso, sub=sub)).status_code == 200
    assert not is_signed_in(client)


def test_a_logout_token_for_someone_parley_does_not_know_is_accepted_and_changes_nothing(sso):
    client, _ = signed_in("olivia")

    answers = [provider_sends(logout_token(sso, **claims)) for claims in ({"sub": "nobody"}, {"sid": "no-such"})]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert is_signed_in(client)
    assert not LogEntry.objects.filter(additional_data__privileged_action="signed_out_by_provider").exists()


def test_the_same_logout_token_twice_is_a_replay_and_refused(sso):
    _, olivia = signed_in("olivia")
    token = logout_token(sso, sub=olivia.directory_id)
    assert provider_sends(token).status_code == 200
    client, _ = signed_in("olivia")  # signed in again after that sign-out

    replay = provider_sends(token)

    assert replay.status_code == 400
    assert replay.json() == {
        "error": "invalid_request",
        "error_description": "This logout token was received already (its jti is a replay).",
    }
    assert is_signed_in(client)


def another_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


REFUSED = {
    "another issuer": ({"iss": "https://elsewhere.example/o"}, "issuer"),
    "another audience": ({"aud": ["another-app"]}, "another client"),
    "a nonce": ({"nonce": "abc"}, "nonce"),
    "no events": ({"drop": ("events",)}, "events"),
    "another event": ({"events": {"http://schemas.openid.net/event/other": {}}}, "events"),
    "no iat": ({"drop": ("iat",)}, "iat"),
    "an old iat": ({"iat": int(time.time()) - LOGOUT_TOKEN_MAX_AGE - 60}, "iat"),
    "an iat in the future": ({"iat": int(time.time()) + 3600}, "iat"),
    "expired": ({"exp": int(time.time()) - 60}, "expired"),
    "no jti": ({"drop": ("jti",)}, "jti"),
    "neither sub nor sid": ({"drop": ("sub",)}, "neither a subject"),
    "another key": ({"key": "another"}, "verification failed"),
}


@pytest.mark.parametrize(("change", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_a_logout_token_the_spec_refuses_is_a_400_with_the_reason_and_signs_no_one_out(sso, change, reason):
    client, olivia = signed_in("olivia")
    change = dict(change)
    if change.get("key") == "another":
        change["key"] = another_key()

    answer = provider_sends(logout_token(sso, **{"sub": olivia.directory_id, **change}))

    assert (answer.status_code, answer["Cache-Control"], answer.json()["error"]) == (400, "no-store", "invalid_request")
    assert reason in answer.json()["error_description"]
    assert is_signed_in(client)


@pytest.mark.parametrize(
    "body",
    [{}, {"logout_token": "not-a-jwt"}, {"logout_token": "e30.e30.e30"}, {"logout_token": "a" * 5000}],
    ids=["no token", "not a JWT", "no signature or kid", "junk"],
)
def test_a_malformed_request_is_a_400_with_the_reason_never_a_server_error(sso, body):
    client, _ = signed_in("olivia")

    answer = Client().post(URL, body)

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request" and answer.json()["error_description"]
    assert is_signed_in(client)


def test_a_json_body_instead_of_a_form_is_a_400(sso):
    answer = Client().post(URL, {"logout_token": "x"}, content_type="application/json")

    assert answer.status_code == 400
    assert "no logout_token" in answer.json()["error_description"]


def test_unreachable_provider_keys_are_a_503_not_a_server_error(sso, settings):
    _, olivia = signed_in("olivia")
    token = logout_token(sso, sub=olivia.directory_id)
    settings.OIDC_OP_JWKS_ENDPOINT = "http://127.0.0.1:9/jwks/"

    answer = provider_sends(token)

    assert (answer.status_code, answer.json()["error"]) == (503, "temporarily_unavailable")
    assert not LogoutTokenSeen.objects.exists()  # the provider may send it again
    # A token its claims refuse is refused without asking for the keys: junk costs the provider nothing.
    assert provider_sends(logout_token(sso, sub=olivia.directory_id, drop=("events",))).status_code == 400


def test_without_single_sign_on_there_is_no_logout_endpoint():
    assert Client().post(URL, {"logout_token": "x"}).status_code == 404
