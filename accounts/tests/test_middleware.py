"""accounts/middleware.py: what a session that has entered only the password may reach, and that /scim/v2/ sees
no session at all."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuthenticatorDevice
from accounts.services import scim_token_issue
from accounts.tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def password_only() -> Client:
    """A session of someone who has an authenticator and has entered only their password."""
    dana = UserFactory(username="dana")
    AuthenticatorDevice.objects.create(user=dana, name="phone", confirmed=True)
    client = Client()
    client.post("/accounts/login/", {"username": "dana", "password": TEST_PASSWORD})
    return client


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "two_factor_setup"),
        ("post", "two_factor_setup"),
        ("post", "two_factor_remove"),
        ("post", "backup_codes_renew"),
        ("get", "account_security"),
        ("get", "app"),
        ("get", "admin:index"),
    ],
)
def test_a_session_owing_its_code_is_sent_to_the_code_page_from_everywhere_else(password_only, method, name):
    response = getattr(password_only, method)(reverse(name))

    assert response.status_code == 302
    assert response.url.startswith(reverse("two_factor_verify") + "?next=")


def test_a_session_owing_its_code_reaches_the_code_page_health_and_sign_out(password_only):
    assert password_only.get(reverse("two_factor_verify")).status_code == 200
    assert password_only.get(reverse("healthz")).status_code == 200
    assert password_only.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in password_only.session


def test_the_api_answers_a_session_owing_its_code_with_403(password_only):
    response = password_only.get("/api/v1/me")

    assert response.status_code == 403
    assert response.json()["code"] == "two_factor_required"


def test_a_session_owing_enrolment_reaches_the_set_up_page_but_not_the_code_page():
    UserFactory(username="erin", two_factor_required=True)
    client = Client()
    client.post("/accounts/login/", {"username": "erin", "password": TEST_PASSWORD})

    assert client.get(reverse("two_factor_setup")).status_code == 200
    assert client.get(reverse("two_factor_verify")).url.startswith(reverse("two_factor_setup"))


def test_a_session_owing_its_second_factor_meets_scim_as_a_stranger_401_not_a_redirect(password_only):
    scim_token_issue(name="Entra ID", actor=None)

    response = password_only.get("/scim/v2/Users")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/scim+json"
