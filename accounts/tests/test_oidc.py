"""OpenID Connect sign-in against a real provider (django-oauth-toolkit in its own process, oidc_provider/):
Parley runs in this process (Django's test client), the provider's pages are walked over HTTP as a browser would,
and Parley's callback exchanges the code at the provider's token endpoint and checks the ID token against its
published keys for real. The browser walk of the same flow is test_browser_oidc.py."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest
import requests
from axes.models import AccessAttempt
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.test import Client, override_settings

from accounts import roles
from accounts.directory import DirectoryConfigError
from accounts.models import DirectorySource, SignIn, User
from accounts.oidc import SignInRefused, oidc_person_from_claims
from accounts.tests.factories import UserFactory
from accounts.tests.oidc_provider import PASSWORD

pytestmark = pytest.mark.django_db

AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"


def browser() -> Client:
    # Parley as the provider knows it: the registered redirect URI is on 127.0.0.1.
    return Client(HTTP_HOST="127.0.0.1", HTTP_USER_AGENT=AGENT)


def provider_approves(authorize_url: str, username: str) -> str:
    """Sign in at the provider and consent, as a person would; the URL it sends the browser back to."""
    person = requests.Session()
    login = person.get(authorize_url, timeout=10)
    assert "Acme identity" in login.text, login.text[:500]
    consent = person.post(
        login.url,
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": person.cookies["provider_csrftoken"],
            "next": html.unescape(re.search(r'name="next" value="([^"]*)"', login.text)[1]),
        },
        timeout=10,
    )
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
    assert "redirect_uri" in fields, consent.text[:1000]
    fields = {name: html.unescape(value) for name, value in fields.items()}
    back = person.post(consent.url, data={**fields, "allow": "Authorize"}, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text[:500]
    return back.headers["Location"]


def sign_in_with_the_provider(client: Client, username: str):
    """The whole round trip: Parley's button, the provider, and Parley's callback; Parley's last answer."""
    start = client.get("/accounts/oidc/start/")
    assert start.status_code == 302
    back = urlsplit(provider_approves(start.url, username))
    return client.get(f"{back.path}?{back.query}")


def is_signed_in_as(client: Client, username: str) -> bool:
    return client.session.get("_auth_user_id") == str(User.objects.get(username=username).pk)


def test_a_first_company_sign_in_creates_the_account_with_its_role_and_records_it(sso):
    client = browser()

    answer = sign_in_with_the_provider(client, "ivan")

    assert answer.status_code == 302 and answer.url == "/"
    ivan = User.objects.get(username="ivan")
    assert is_signed_in_as(client, "ivan")
    assert (ivan.email, ivan.display_name, ivan.directory_source) == ("ivan@acme.test", "Ivan Ito", "oidc")
    assert ivan.directory_id  # the provider's `sub`
    assert set(ivan.groups.values_list("name", flat=True)) == {roles.EMPLOYEES, roles.IT_ADMINS}
    record = SignIn.objects.get(user=ivan)
    assert (record.ip_address, record.user_agent, record.session_key) == (
        "127.0.0.1",
        AGENT,
        client.session.session_key,
    )


def test_a_privileged_person_signed_in_by_the_provider_still_owes_parleys_second_factor(sso):
    client = browser()
    sign_in_with_the_provider(client, "ivan")

    assert client.get("/").url.startswith("/accounts/two-factor/setup/")


def test_an_employee_signs_in_as_an_employee_only_and_reaches_the_app(sso):
    client = browser()
    sign_in_with_the_provider(client, "olivia")

    assert set(User.objects.get(username="olivia").groups.values_list("name", flat=True)) == {roles.EMPLOYEES}
    assert client.get("/").status_code == 200


def test_an_existing_local_account_joins_single_sign_on_and_the_next_sign_in_finds_it_by_sub(sso):
    olivia = UserFactory(username="olivia", email="old@acme.test")

    sign_in_with_the_provider(browser(), "olivia")
    olivia.refresh_from_db()
    sub = olivia.directory_id
    User.objects.filter(pk=olivia.pk).update(username="olivia.ortiz")  # renamed in Parley meanwhile
    again = browser()
    sign_in_with_the_provider(again, "olivia")

    assert (olivia.email, olivia.directory_source) == ("olivia@acme.test", DirectorySource.OIDC)
    assert is_signed_in_as(again, "olivia.ortiz")
    assert User.objects.get(username="olivia.ortiz").directory_id == sub
    assert not User.objects.filter(username="olivia").exists()


def test_a_taken_over_account_keeps_what_the_claims_do_not_carry(sso):
    boss = UserFactory(username="boss")
    UserFactory(username="olivia", department="Rates", job_title="Trader", manager=boss)

    sign_in_with_the_provider(browser(), "olivia")

    olivia = User.objects.get(username="olivia")
    assert (olivia.department, olivia.job_title, olivia.manager) == ("Rates", "Trader", boss)
    assert olivia.display_name == "Olivia Ortiz"  # the provider sends a name: it wins


def test_a_switched_off_account_is_refused_and_stays_off(sso):
    UserFactory(username="olivia", is_active=False)
    client = browser()

    answer = sign_in_with_the_provider(client, "olivia")

    assert answer.status_code == 403
    assert "Your Parley account is switched off" in answer.content.decode()
    assert "_auth_user_id" not in client.session
    assert not User.objects.get(username="olivia").is_active


@pytest.mark.parametrize("kind", ["superuser", "break-glass", "linked to another sub"])
def test_the_provider_cannot_take_over_an_account_it_does_not_own(sso, kind):
    existing = UserFactory(username="olivia", is_superuser=kind == "superuser")
    if kind == "linked to another sub":
        User.objects.filter(pk=existing.pk).update(directory_source=DirectorySource.OIDC, directory_id="someone-else")
    client = browser()

    with override_settings(PARLEY_BREAK_GLASS_USERNAMES=["olivia"] if kind == "break-glass" else []):
        answer = sign_in_with_the_provider(client, "olivia")

    assert answer.status_code == 403
    assert "_auth_user_id" not in client.session
    assert User.objects.get(pk=existing.pk).email == existing.email


def test_an_id_token_from_another_issuer_is_refused(sso):
    client = browser()
    with override_settings(PARLEY_OIDC_ISSUER="https://elsewhere.example/o"):
        answer = sign_in_with_the_provider(client, "olivia")

    assert answer.status_code == 400
    assert "could not be verified" in answer.content.decode()
    assert not User.objects.filter(username="olivia").exists()


def test_an_id_token_meant_for_another_client_is_refused(sso, monkeypatch):
    """The provider signed it, for someone else: the library checks the signature, Parley the audience."""
    from mozilla_django_oidc.auth import OIDCAuthenticationBackend

    from accounts.oidc import ParleyOIDCBackend

    signed = {"iss": sso.issuer, "aud": ["another-app"], "sub": "x"}
    monkeypatch.setattr(OIDCAuthenticationBackend, "verify_token", lambda self, token, **kwargs: signed)

    with pytest.raises(SuspiciousOperation, match="another client"):
        ParleyOIDCBackend().verify_token("token", nonce="n")


def test_company_sign_in_works_with_local_passwords_off(sso):
    client = browser()
    with override_settings(PARLEY_LOCAL_PASSWORDS="off"):
        sign_in_with_the_provider(client, "olivia")

    assert is_signed_in_as(client, "olivia")


def test_a_callback_used_twice_signs_in_once(sso):
    start = browser()
    started = start.get("/accounts/oidc/start/")
    back = urlsplit(provider_approves(started.url, "olivia"))
    callback = f"{back.path}?{back.query}"
    start.get(callback)
    start.logout()

    replay = start.get(callback)

    assert replay.status_code == 400
    assert "expired or was used already" in replay.content.decode()
    assert "_auth_user_id" not in start.session


def test_a_username_locked_out_by_wrong_passwords_here_is_refused_by_the_company_sign_in_too(sso):
    AccessAttempt.objects.create(
        username="olivia", ip_address="127.0.0.1", user_agent=AGENT, failures_since_start=settings.AXES_FAILURE_LIMIT
    )
    client = browser()

    answer = sign_in_with_the_provider(client, "olivia")

    assert answer.status_code == 429
    assert "_auth_user_id" not in client.session
    assert not SignIn.objects.exists()


def test_an_address_locked_out_for_spraying_cannot_even_start_the_callback(sso):
    AccessAttempt.objects.create(
        username="anyone",
        ip_address="127.0.0.1",
        user_agent=AGENT,
        failures_since_start=settings.PARLEY_LOGIN_ADDRESS_FAILURE_LIMIT,
    )

    answer = browser().get("/accounts/oidc/callback/?code=x&state=y")

    assert answer.status_code == 429


def test_failed_callbacks_count_toward_the_address_limit_and_then_lock_it(sso):
    client = browser()
    with override_settings(PARLEY_LOGIN_ADDRESS_FAILURE_LIMIT=3):
        answers = [client.get(f"/accounts/oidc/callback/?code=x&state=forged-{n}").status_code for n in range(4)]

    assert answers == [400, 400, 429, 429]
    assert AccessAttempt.objects.get(username="(company sign-in)").failures_since_start == 3


def test_a_person_who_cancels_at_the_provider_is_told_so_and_it_does_not_count(sso):
    answer = browser().get(
        "/accounts/oidc/callback/?error=access_denied&error_description=Call+0800+HELPDESK+now&state=s"
    )

    assert answer.status_code == 400
    assert "did not complete (access_denied)" in answer.content.decode()
    assert "HELPDESK" not in answer.content.decode()  # free text from a link is not shown
    assert not AccessAttempt.objects.exists()


def test_an_unreachable_provider_is_a_clear_error_not_a_server_error(sso):
    client = browser()
    started = client.get("/accounts/oidc/start/")
    state = dict(part.split("=", 1) for part in urlsplit(started.url).query.split("&"))["state"]
    with override_settings(OIDC_OP_TOKEN_ENDPOINT="http://127.0.0.1:9/token/"):
        answer = client.get(f"/accounts/oidc/callback/?code=x&state={state}")

    assert answer.status_code == 502
    assert "did not answer as expected" in answer.content.decode()


def test_a_password_sign_in_with_a_code_in_its_url_is_a_plain_wrong_password_not_a_token_exchange(sso):
    UserFactory(username="dana")
    client = browser()

    answer = client.post("/accounts/login/?code=stolen&state=x", {"username": "dana", "password": "wrong"})

    assert answer.status_code == 200
    assert "didn't match" in answer.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_company_session_of_an_account_switched_off_behind_djangos_back_signs_no_one_in(sso):
    client = browser()
    sign_in_with_the_provider(client, "olivia")
    User.objects.filter(username="olivia").update(is_active=False)  # no signals: the session is not ended

    assert client.get("/").status_code == 302


def test_the_login_page_offers_the_company_sign_in_when_configured(sso):
    page = browser().get("/accounts/login/?next=/rooms/").content.decode()

    assert 'href="/accounts/oidc/start/?next=/rooms/"' in page
    assert "Sign in with Acme" in page


def test_without_single_sign_on_there_is_no_button_and_no_way_in():
    client = Client()

    assert "Sign in with" not in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/oidc/start/").status_code == 404
    assert client.get("/accounts/oidc/callback/?code=x&state=y").status_code == 404


# ---- claims to a person, without the provider ------------------------------------------------------------


def claims(**overrides) -> dict:
    return {"sub": "abc-123", "preferred_username": "nia", "email": "nia@acme.test", "name": "Nia N"} | overrides


@override_settings(PARLEY_OIDC_ROLES_CLAIM="realm_access.roles", PARLEY_OIDC_ROLE_VALUES="Compliance Officers=audit")
def test_roles_can_come_from_a_nested_claim_as_keycloak_sends_them():
    person = oidc_person_from_claims(claims(realm_access={"roles": ["AUDIT", "offline_access"]}))

    assert person.roles == {roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS}
    assert (person.username, person.directory_id, person.display_name) == ("nia", "abc-123", "Nia N")


@override_settings(PARLEY_OIDC_USERNAME_CLAIM="upn", PARLEY_OIDC_ROLE_VALUES="IT Admins=it")
def test_a_single_role_string_and_another_username_claim_are_understood():
    person = oidc_person_from_claims(claims(upn="nia@acme.test", roles="it"))

    assert person.username == "nia@acme.test"
    assert person.roles == {roles.EMPLOYEES, roles.IT_ADMINS}


@pytest.mark.parametrize("missing", ["sub", "preferred_username", "email"])
def test_claims_without_a_subject_username_or_email_are_refused(missing):
    with pytest.raises(SignInRefused):
        oidc_person_from_claims({key: value for key, value in claims().items() if key != missing})


@override_settings(PARLEY_OIDC_ROLE_VALUES="Wizards=it")
def test_a_role_mapping_naming_no_parley_role_is_refused():
    with pytest.raises(DirectoryConfigError):
        oidc_person_from_claims(claims())


@override_settings(PARLEY_OIDC_ROLE_VALUES="Wizards=it")
def test_a_bad_role_mapping_is_reported_by_the_system_check_at_start():
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError, match="PARLEY_OIDC_ROLE_VALUES: 'Wizards' is not a Parley role"):
        call_command("check")
