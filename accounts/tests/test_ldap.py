"""LDAP / Active Directory sign-in against a real slapd (accounts/tests/ldap_server.py, the company in
ldif/company.ldif), through the login page: passwords, lockout, records, attribute and group mapping."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from accounts import roles
from accounts.models import SignIn, User
from accounts.tests import ldap_server
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from accounts.tests.ldap_server import GROUPS, person_dn

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"

directory = ldap_server.directory  # the company's slapd, Parley configured for it


def sign_in(username: str, password: str, **headers) -> Client:
    client = Client()
    client.post(LOGIN, {"username": username, "password": password}, **headers)
    return client


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def role_names(user: User) -> set[str]:
    return {group.name for group in user.groups.all()}


# ---- sign-in ----------------------------------------------------------------------------------------------


def test_the_directory_password_signs_in_and_creates_the_account_from_the_entry(directory):
    assert is_signed_in(sign_in("ann", "ann-secret"))

    ann = User.objects.get(username="ann")
    assert (ann.email, ann.display_name, ann.department, ann.job_title, ann.phone) == (
        "ann@example.com",
        "Ann Archer",
        "Trading",
        "Trader",
        "+1 212 555 0101",
    )
    assert (ann.directory_source, ann.directory_id) == ("ldap", person_dn("ann"))
    assert role_names(ann) == {roles.EMPLOYEES}
    assert not ann.has_usable_password()  # the password stays in the directory


def test_a_wrong_password_is_refused_and_counts_toward_the_lockout(directory):
    client = sign_in("ann", "wrong")
    assert not is_signed_in(client)
    assert not User.objects.filter(username="ann").exists()
    for _ in range(4):
        sign_in("ann", "wrong")

    locked = Client().post(LOGIN, {"username": "ann", "password": "ann-secret"})

    assert locked.status_code == 429
    assert AccessAttempt.objects.filter(username="ann").exists()
    assert not User.objects.filter(username="ann").exists()  # refused before the directory was asked


def test_a_directory_sign_in_is_recorded_with_time_address_and_agent(directory):
    sign_in("ann", "ann-secret", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="Firefox/140")

    record = SignIn.objects.get(user__username="ann")
    assert (record.ip_address, record.user_agent) == ("10.1.2.3", "Firefox/140")
    assert record.signed_in_at is not None


def test_group_membership_gives_the_mapped_roles_at_sign_in(directory):
    sign_in("ivan", "ivan-secret")
    sign_in("cora", "cora-secret")

    assert role_names(User.objects.get(username="ivan")) == {roles.EMPLOYEES, roles.IT_ADMINS}
    assert role_names(User.objects.get(username="cora")) == {roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS}


def test_leaving_a_role_group_takes_the_role_away_at_the_next_sign_in_and_keeps_other_groups(directory):
    sign_in("ivan", "ivan-secret")
    ivan = User.objects.get(username="ivan")
    ivan.groups.add(Group.objects.create(name="Desk 4"))  # made by IT in the admin, not a role
    directory.replace(f"cn=it,{GROUPS}", "member", person_dn("cora"))

    sign_in("ivan", "ivan-secret")

    assert role_names(ivan) == {roles.EMPLOYEES, "Desk 4"}


def test_a_person_disabled_in_the_directory_cannot_sign_in_even_with_the_right_password(directory):
    assert not is_signed_in(sign_in("dave", "dave-secret"))
    assert not User.objects.filter(username="dave").exists()


def test_a_local_account_a_directory_entry_takes_over_loses_its_local_password(directory):
    UserFactory(username="ann")  # made before the directory was connected

    assert is_signed_in(sign_in("ann", "ann-secret"))
    assert not is_signed_in(sign_in("ann", TEST_PASSWORD))
    assert not User.objects.get(username="ann").has_usable_password()


def test_a_local_account_the_directory_does_not_know_still_signs_in(directory):
    UserFactory(username="breakglass")

    assert is_signed_in(sign_in("breakglass", TEST_PASSWORD))


def test_a_misconfigured_directory_refuses_directory_sign_ins_without_an_error_page(directory, settings):
    settings.PARLEY_LDAP_ROLE_GROUPS = "Wizards=cn=it"
    UserFactory(username="breakglass")

    response = Client().post(LOGIN, {"username": "ann", "password": "ann-secret"})

    assert response.status_code == 200  # the form again, with its error
    assert is_signed_in(sign_in("breakglass", TEST_PASSWORD))


def test_permissions_come_from_parleys_groups_even_with_the_directory_misconfigured(directory, settings):
    sign_in("cora", "cora-secret")
    roles.role_permissions_apply()
    settings.PARLEY_LDAP_GROUP_TYPE = "posixGroup"
    cora = User.objects.get(username="cora")  # fresh: Django caches permissions on the instance

    assert cora.has_perm("accounts.view_user")
    assert not cora.has_perm("accounts.change_user")


def test_an_unreachable_directory_refuses_directory_sign_ins_without_an_error_page(directory):
    directory.stop()

    response = Client().post(LOGIN, {"username": "ann", "password": "ann-secret"})

    assert response.status_code == 200


def test_a_directory_that_does_not_answer_is_asked_once_then_skipped_for_a_while(directory, monkeypatch):
    """A sign-in while the directory is away pays its timeout once; the next ones (the break-glass
    administrator's here) skip it until DIRECTORY_DOWN_SECONDS have passed, then it is asked again."""
    from django_auth_ldap.backend import ldap_error

    from accounts import ldap as parley_ldap
    from core.testing import MovableClock

    clock = MovableClock()
    monkeypatch.setattr(parley_ldap, "clock", clock)
    monkeypatch.setattr(parley_ldap, "_unreachable_until", 0.0)
    asked = []
    ldap_error.connect(lambda sender, **kwargs: asked.append(kwargs["exception"]), weak=False, dispatch_uid="asked")
    UserFactory(username="breakglass")
    directory.stop()
    try:
        first = sign_in("breakglass", TEST_PASSWORD)
        again = sign_in("breakglass", TEST_PASSWORD)
        directory_person = sign_in("ann", "ann-secret")
        asked_while_away = len(asked)
        clock.advance(parley_ldap.DIRECTORY_DOWN_SECONDS)
        later = sign_in("breakglass", TEST_PASSWORD)
    finally:
        ldap_error.disconnect(dispatch_uid="asked")

    assert [is_signed_in(client) for client in (first, again, directory_person, later)] == [True, True, False, True]
    assert asked_while_away == 1  # the first sign-in found it away; the next two did not ask
    assert len(asked) == 2  # asked again once the time was up
    assert all(isinstance(error, parley_ldap.UNREACHABLE) for error in asked)


def test_manage_py_check_names_a_misconfigured_directory(directory, settings):
    settings.PARLEY_LDAP_ROLE_GROUPS = "Wizards=cn=it"

    with pytest.raises(SystemCheckError, match="'Wizards' is not a Parley role"):
        call_command("check")
