"""The people admin: privileged actions leave a trace with the acting admin, and tokens stay revoked."""

import re

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.models import ApiToken, AuthenticatorDevice, ScimGroup, ScimToken
from accounts.services import api_token_create, api_token_revoke, api_token_use, scim_token_issue
from accounts.tests.factories import UserFactory
from core.testing import force_login_with_second_factor, signed_in_client, staff_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def ivy():
    roles.role_permissions_apply()
    person = UserFactory(username="ivy", is_staff=True)
    person.groups.add(roles.role_group(roles.IT_ADMINS))
    return person


@pytest.fixture
def it_admin(ivy) -> Client:
    client = Client()
    force_login_with_second_factor(client, ivy)
    return client


def act_on_users(client: Client, action: str, *users):
    return client.post(
        reverse("admin:accounts_user_changelist"), {"action": action, "_selected_action": [u.pk for u in users]}
    )


def by(actor, target, action: str):
    return LogEntry.objects.get_for_object(target).filter(actor=actor, additional_data__privileged_action=action)


def test_a_revoked_token_cannot_be_brought_back_from_its_admin_page(it_admin, alice):
    token, secret = api_token_create(user=alice, name="bot")
    api_token_revoke(token=token)
    token.refresh_from_db()

    response = it_admin.post(
        reverse("admin:accounts_apitoken_change", args=[token.pk]), {"revoked_at_0": "", "revoked_at_1": ""}
    )

    assert response.status_code in (200, 302)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_token_use(token=secret) is None


def test_it_revokes_tokens_with_an_action_and_the_audit_log_names_them(it_admin, ivy, alice):
    token, secret = api_token_create(user=alice, name="bot")

    it_admin.post(
        reverse("admin:accounts_apitoken_changelist"), {"action": "revoke_tokens", "_selected_action": [token.pk]}
    )

    assert api_token_use(token=secret) is None
    assert by(ivy, token, "api_token_revoked").count() == 1


def test_tokens_are_not_deleted_in_admin(it_admin, alice):
    token, _ = api_token_create(user=alice, name="bot")

    response = it_admin.post(reverse("admin:accounts_apitoken_delete", args=[token.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_people_are_deactivated_never_deleted_in_admin_not_even_by_a_superuser(alice):
    client = Client()
    force_login_with_second_factor(client, UserFactory(username="root", is_staff=True, is_superuser=True))

    response = client.post(reverse("admin:accounts_user_delete", args=[alice.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert type(alice).objects.filter(pk=alice.pk).exists()


def test_deactivating_in_admin_revokes_the_tokens_for_good_logged_with_the_admin(it_admin, ivy, alice):
    token, secret = api_token_create(user=alice, name="bot")

    act_on_users(it_admin, "deactivate", alice)
    act_on_users(it_admin, "reactivate", alice)

    alice.refresh_from_db()
    assert alice.is_active
    assert api_token_use(token=secret) is None
    assert by(ivy, token, "api_token_revoked").count() == 1


def test_unlock_and_sign_out_everywhere_reach_the_audit_log_with_the_admin(it_admin, ivy, alice):
    Client().force_login(alice)

    act_on_users(it_admin, "unlock_sign_in", alice)
    act_on_users(it_admin, "sign_out_everywhere", alice)

    assert by(ivy, alice, "sign_in_unlocked").count() == 1
    assert by(ivy, alice, "signed_out_everywhere").count() == 1


def test_resetting_an_employees_two_factor_reaches_the_audit_log_with_the_admin(it_admin, ivy, alice):
    AuthenticatorDevice.objects.create(user=alice, name="phone", confirmed=True)

    act_on_users(it_admin, "reset_two_factor", alice)

    assert not AuthenticatorDevice.objects.filter(user=alice).exists()
    assert by(ivy, alice, "two_factor_reset").count() == 1


# ---- SCIM tokens ---------------------------------------------------------------------------------------------


def test_it_issues_a_scim_token_in_admin_seeing_the_secret_once_and_the_provider_gets_in(it_admin, ivy):
    response = it_admin.post(reverse("admin:accounts_scimtoken_add"), {"name": "Entra ID"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = re.search(r'<code id="scim-token">([^<]+)</code>', response.content.decode())[1]
    token = ScimToken.objects.get(name="Entra ID")
    assert (token.created_by, token.token_hash) == (ivy, ScimToken.hash_of(secret))
    assert by(ivy, token, "scim_token_issued").count() == 1
    assert secret not in it_admin.get(reverse("admin:accounts_scimtoken_change", args=[token.pk])).content.decode()
    provider = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert provider.get("/scim/v2/ServiceProviderConfig").status_code == 200


def test_it_revokes_a_scim_token_with_an_action_and_the_provider_is_refused_at_once(it_admin, ivy):
    token, secret = scim_token_issue(name="Okta", actor=None)

    it_admin.post(
        reverse("admin:accounts_scimtoken_changelist"), {"action": "revoke_tokens", "_selected_action": [token.pk]}
    )

    assert by(ivy, token, "scim_token_revoked").count() == 1
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/scim/v2/Users").status_code == 401


def test_a_superuser_issues_scim_tokens_too():
    root = UserFactory(username="root", is_superuser=True, is_staff=True)

    response = signed_in_client(root).post(reverse("admin:accounts_scimtoken_add"), {"name": "Entra ID"})

    assert response.status_code == 200
    assert ScimToken.objects.filter(name="Entra ID", created_by=root).exists()


@pytest.mark.parametrize("who", ["compliance officer", "employee", "anonymous"])
def test_only_it_and_superusers_reach_scim_tokens_in_admin(who):
    token, _ = scim_token_issue(name="Entra ID", actor=None)
    if who == "compliance officer":
        client = signed_in_client(staff_in(roles.COMPLIANCE_OFFICERS, "olga"))
    elif who == "employee":
        client = signed_in_client(UserFactory(username="emma"))
    else:
        client = Client()

    pages = [
        client.get(reverse("admin:accounts_scimtoken_changelist")),
        client.post(reverse("admin:accounts_scimtoken_add"), {"name": "mine"}),
        client.post(
            reverse("admin:accounts_scimtoken_changelist"), {"action": "revoke_tokens", "_selected_action": [token.pk]}
        ),
    ]

    assert all(page.status_code in (302, 403) for page in pages)
    assert all(page.status_code == 403 or "/login/" in page["Location"] for page in pages)
    assert list(ScimToken.objects.values_list("name", "revoked_at")) == [("Entra ID", None)]


def test_scim_tokens_are_never_deleted_or_edited_in_admin(it_admin):
    token, _ = scim_token_issue(name="Entra ID", actor=None)

    deleted = it_admin.post(reverse("admin:accounts_scimtoken_delete", args=[token.pk]), {"post": "yes"})
    it_admin.post(reverse("admin:accounts_scimtoken_change", args=[token.pk]), {"name": "renamed"})

    assert deleted.status_code == 403
    assert ScimToken.objects.get(pk=token.pk).name == "Entra ID"


def test_it_sees_the_pushed_scim_groups_but_changes_them_only_in_the_identity_provider(it_admin):
    ScimGroup.objects.create(display_name="Parley IT")

    listed = it_admin.get(reverse("admin:accounts_scimgroup_changelist"))
    added = it_admin.post(reverse("admin:accounts_scimgroup_add"), {"display_name": "Mine"})

    assert listed.status_code == 200 and "Parley IT" in listed.content.decode()
    assert added.status_code == 403
    assert list(ScimGroup.objects.values_list("display_name", flat=True)) == ["Parley IT"]
