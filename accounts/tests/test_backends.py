"""Passwords Parley keeps, switched off (PARLEY_LOCAL_PASSWORDS=off): refused on the login page, the admin's and
authenticate() for everyone but the break-glass accounts, who still owe their second factor if privileged."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory, override_settings

from accounts import roles
from accounts.tests.factories import TEST_PASSWORD, UserFactory, privileged

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORDS_OFF = override_settings(
    PARLEY_LOCAL_PASSWORDS="off", PARLEY_BREAK_GLASS_USERNAMES=["rescue"], PARLEY_OIDC_PROVIDER_NAME="Acme"
)


def sign_in(path: str, username: str) -> tuple[Client, object]:
    client = Client()
    response = client.post(path, {"username": username, "password": TEST_PASSWORD})
    return client, response


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@PASSWORDS_OFF
def test_with_passwords_off_a_person_is_refused_and_told_to_use_the_company_sign_in():
    UserFactory(username="dana")

    client, response = sign_in(LOGIN, "dana")

    assert not is_signed_in(client)
    assert response.status_code == 200
    assert "Passwords are switched off in Parley: use “Sign in with Acme”" in response.content.decode()


@PASSWORDS_OFF
def test_with_passwords_off_the_login_page_says_so_before_anyone_types():
    page = Client().get(LOGIN).content.decode()

    assert 'id="passwords-off"' in page
    assert "break-glass accounts only" in page


def test_with_passwords_on_the_login_page_says_nothing_about_them():
    assert 'id="passwords-off"' not in Client().get(LOGIN).content.decode()


@PASSWORDS_OFF
def test_with_passwords_off_the_break_glass_account_signs_in_with_its_password():
    UserFactory(username="rescue")

    client, response = sign_in(LOGIN, "rescue")

    assert is_signed_in(client)
    assert response.status_code == 302


@PASSWORDS_OFF
@pytest.mark.parametrize("role", [roles.IT_ADMINS, "superuser"])
def test_a_privileged_break_glass_account_still_owes_its_second_factor(role):
    rescue = privileged(role)
    rescue.username = "rescue"
    rescue.save()

    client, _ = sign_in(LOGIN, "rescue")

    assert is_signed_in(client)
    assert client.get("/").url.startswith("/accounts/two-factor/setup/")


@PASSWORDS_OFF
def test_with_passwords_off_the_admin_login_refuses_it_staff_but_not_break_glass():
    for username in ("itstaff", "rescue"):
        user = privileged(roles.IT_ADMINS)
        user.username, user.is_staff = username, True
        user.save()

    refused, response = sign_in("/admin/login/", "itstaff")
    allowed, _ = sign_in("/admin/login/", "rescue")

    assert not is_signed_in(refused)
    assert "Passwords are switched off in Parley" in response.content.decode()
    assert is_signed_in(allowed)


@PASSWORDS_OFF
def test_with_passwords_off_authenticate_refuses_without_checking_the_password():
    UserFactory(username="dana")
    request = RequestFactory().post(LOGIN)

    assert authenticate(request, username="dana", password=TEST_PASSWORD) is None


@PASSWORDS_OFF
def test_a_refused_password_counts_toward_the_lockout_like_a_wrong_one():
    """Guessing while passwords are off must not be free."""
    UserFactory(username="dana")

    sign_in(LOGIN, "dana")

    assert AccessAttempt.objects.get(username="dana").failures_since_start == 1
