"""Who opens the admin: staff, and IT Admins and Compliance Officers by their role alone (a directory gives
roles, not staff status); an employee never, a deactivated role holder never, and each page still by the role's
permissions."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.directory import DirectoryPerson, directory_people_apply
from accounts.models import DirectorySource, User
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from core.testing import force_login_with_second_factor

pytestmark = pytest.mark.django_db

ADMIN = "/admin/"
ADMIN_LOGIN = "/admin/login/"


def from_the_directory(username: str, *role_names: str) -> User:
    """An account the directory made, with `role_names` besides Employees, and no staff status."""
    roles.role_permissions_apply()
    person = DirectoryPerson(
        username=username,
        directory_id=f"cn={username}",
        email=f"{username}@example.com",
        roles=frozenset({roles.EMPLOYEES, *role_names}),
    )
    directory_people_apply(people=[person], source=DirectorySource.LDAP)
    user = User.objects.get(username=username)
    assert not user.is_staff
    return user


def signed_in(user: User) -> Client:
    client = Client()
    force_login_with_second_factor(client, user)
    return client


def test_a_compliance_officer_from_the_directory_opens_the_archive_in_the_admin_but_changes_no_account():
    officer = signed_in(from_the_directory("olga", roles.COMPLIANCE_OFFICERS))

    assert officer.get(ADMIN).status_code == 200
    assert officer.get(reverse("admin:archive_archiveentry_changelist")).status_code == 200
    assert officer.get(reverse("admin:accounts_user_add")).status_code == 403
    assert officer.get(reverse("admin:messenger_conversation_changelist")).status_code == 403


def test_an_it_admin_from_the_directory_opens_the_accounts_in_the_admin_but_not_the_archive():
    it_admin = signed_in(from_the_directory("ivy", roles.IT_ADMINS))

    assert it_admin.get(ADMIN).status_code == 200
    assert it_admin.get(reverse("admin:accounts_user_changelist")).status_code == 200
    assert it_admin.get(reverse("admin:archive_archiveentry_changelist")).status_code == 403


def test_an_employee_is_sent_to_the_admin_sign_in_and_cannot_pass_it(client):
    employee = from_the_directory("eve")
    employee.set_password(TEST_PASSWORD)
    employee.save()
    client.force_login(employee)

    assert client.get(ADMIN)["Location"].startswith(ADMIN_LOGIN)
    refused = Client().post(ADMIN_LOGIN, {"username": "eve", "password": TEST_PASSWORD})
    assert refused.status_code == 200
    assert "correct username and password for a staff account" in refused.content.decode()


def test_a_role_holder_passes_the_admin_sign_in_and_is_asked_for_the_second_factor():
    officer = from_the_directory("olga", roles.COMPLIANCE_OFFICERS)
    officer.set_password(TEST_PASSWORD)
    officer.save()
    client = Client()

    signed = client.post(ADMIN_LOGIN, {"username": "olga", "password": TEST_PASSWORD, "next": ADMIN})

    assert signed.status_code == 302
    # A privileged account holding only its password: no admin page before its second factor is set up.
    assert client.get(ADMIN)["Location"].startswith("/accounts/two-factor/setup/")


def test_a_deactivated_role_holder_opens_nothing():
    officer = from_the_directory("olga", roles.COMPLIANCE_OFFICERS)
    client = signed_in(officer)
    User.objects.filter(pk=officer.pk).update(is_active=False)

    assert client.get(ADMIN).status_code == 302


def test_the_chat_shows_the_admin_link_to_role_holders_and_staff_only():
    pages = {
        "officer": signed_in(from_the_directory("olga", roles.COMPLIANCE_OFFICERS)).get("/"),
        "staff": signed_in(UserFactory(username="sam", is_staff=True)).get("/"),
        "employee": signed_in(from_the_directory("eve")).get("/"),
    }

    shown = {who: 'id="open-admin"' in page.content.decode() for who, page in pages.items()}
    assert shown == {"officer": True, "staff": True, "employee": False}
