"""Separation of duties: IT manages accounts but sees no archive; compliance reviews but manages no accounts."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.tests.factories import UserFactory
from core.testing import force_login_with_second_factor
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db

ARCHIVE_PAGES = [
    "admin:archive_archiveentry_changelist",
    "admin:archive_archiveentry_review",
    "admin:archive_archivecheckpoint_changelist",
    "admin:archive_legalhold_changelist",
    "admin:archive_retentionpolicy_changelist",
]


def staff_in(role: str) -> Client:
    roles.role_permissions_apply()
    person = UserFactory(is_staff=True)
    person.groups.add(roles.role_group(role))
    client = Client()
    force_login_with_second_factor(client, person)
    return client


@pytest.fixture(autouse=True)
def something_was_said(alice):
    room = room_with(alice)
    send(alice, room, "confidential figures")
    return room


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


def test_an_it_admin_finds_no_message_text_on_any_admin_page_or_through_the_app(something_was_said):
    it_admin = staff_in(roles.IT_ADMINS)
    room = something_was_said
    admin_pages = [reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist") for m in admin.site._registry]
    admin_pages.append(reverse("admin:messenger_conversation_change", args=[room.pk]))
    app_calls = [
        "/api/v1/conversations",
        f"/api/v1/conversations/{room.pk}",
        f"/api/v1/conversations/{room.pk}/messages",
    ]

    answers = {path: it_admin.get(path) for path in [*admin_pages, *app_calls]}

    assert all(answer.status_code in (200, 403, 404, 405) for answer in answers.values()), {
        path: answer.status_code for path, answer in answers.items()
    }
    assert [path for path, answer in answers.items() if "confidential figures" in answer.content.decode()] == []
    assert answers[f"/api/v1/conversations/{room.pk}/messages"].status_code == 404
    assert answers[reverse("admin:archive_archiveentry_changelist")].status_code == 403


def it_admin_with_account() -> tuple[Client, object]:
    roles.role_permissions_apply()
    person = UserFactory(username="ivy", is_staff=True)
    person.groups.add(roles.role_group(roles.IT_ADMINS))
    client = Client()
    force_login_with_second_factor(client, person)
    return client, person


def user_form(user, **changes) -> dict:
    """The user change form as the admin page would post it, with `changes`."""
    data = {
        "username": user.username,
        "email": user.email,
        "display_name": user.display_name,
        "department": user.department,
        "job_title": user.job_title,
        "is_active": "on",
        "is_staff": "on" if user.is_staff else "",
        "groups": [group.pk for group in user.groups.all()],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_an_it_admin_cannot_make_themselves_superuser_or_a_compliance_officer():
    client, ivy = it_admin_with_account()
    compliance = roles.role_group(roles.COMPLIANCE_OFFICERS)

    client.post(
        reverse("admin:accounts_user_change", args=[ivy.pk]),
        user_form(ivy, is_superuser="on", groups=[compliance.pk]),
    )

    ivy.refresh_from_db()
    assert not ivy.is_superuser
    assert list(ivy.groups.values_list("name", flat=True)) == [roles.IT_ADMINS]


def test_an_it_admin_gives_someone_else_a_role_but_never_superuser_status(alice):
    client, _ = it_admin_with_account()
    compliance = roles.role_group(roles.COMPLIANCE_OFFICERS)

    response = client.post(
        reverse("admin:accounts_user_change", args=[alice.pk]),
        user_form(alice, is_superuser="on", groups=[compliance.pk]),
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_superuser
    assert list(alice.groups.values_list("name", flat=True)) == [roles.COMPLIANCE_OFFICERS]


def test_an_it_admin_can_neither_change_nor_deactivate_a_superuser():
    client, _ = it_admin_with_account()
    root = UserFactory(username="root", is_staff=True, is_superuser=True)

    change = client.post(reverse("admin:accounts_user_change", args=[root.pk]), user_form(root, is_active=""))
    client.post(reverse("admin:accounts_user_changelist"), {"action": "deactivate", "_selected_action": [root.pk]})

    assert change.status_code == 403
    root.refresh_from_db()
    assert root.is_active


def test_a_compliance_officer_cannot_deactivate_anyone_with_an_admin_action(alice):
    officer = staff_in(roles.COMPLIANCE_OFFICERS)

    officer.post(reverse("admin:accounts_user_changelist"), {"action": "deactivate", "_selected_action": [alice.pk]})

    alice.refresh_from_db()
    assert alice.is_active
