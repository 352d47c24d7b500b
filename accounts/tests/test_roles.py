"""Separation of duties: IT manages accounts but sees no archive; compliance reviews but manages no accounts."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.tests.factories import UserFactory
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db

ARCHIVE_PAGES = [
    "admin:archive_archiveentry_changelist",
    "admin:archive_archivecheckpoint_changelist",
    "admin:archive_legalhold_changelist",
    "admin:archive_retentionpolicy_changelist",
]


def staff_in(role: str) -> Client:
    roles.role_permissions_apply()
    person = UserFactory(is_staff=True)
    person.groups.add(roles.role_group(role))
    client = Client()
    client.force_login(person)
    return client


@pytest.fixture(autouse=True)
def something_was_said(alice):
    send(alice, room_with(alice), "confidential figures")


def test_an_it_admin_manages_accounts_but_gets_403_on_every_archive_page():
    it_admin = staff_in(roles.IT_ADMINS)

    index = it_admin.get(reverse("admin:index")).content.decode()

    assert it_admin.get(reverse("admin:accounts_user_changelist")).status_code == 200
    assert it_admin.get(reverse("admin:accounts_user_add")).status_code == 200
    assert [it_admin.get(reverse(page)).status_code for page in ARCHIVE_PAGES] == [403] * len(ARCHIVE_PAGES)
    assert "Archive entries" not in index
    assert "confidential" not in index


def test_a_compliance_officer_reviews_the_archive_but_cannot_manage_accounts(alice):
    officer = staff_in(roles.COMPLIANCE_OFFICERS)

    assert [officer.get(reverse(page)).status_code for page in ARCHIVE_PAGES] == [200] * len(ARCHIVE_PAGES)
    assert officer.get(reverse("admin:accounts_user_add")).status_code == 403
    change = officer.post(reverse("admin:accounts_user_change", args=[alice.pk]), {"username": "hijacked"})
    assert change.status_code == 403
    alice.refresh_from_db()
    assert alice.username == "alice"


def test_an_employee_has_no_admin_at_all():
    employee = staff_in(roles.EMPLOYEES)

    assert employee.get(reverse("admin:accounts_user_changelist")).status_code == 403
