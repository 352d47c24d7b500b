"""Separation of duties: IT manages accounts but sees no archive; compliance reviews but manages no accounts."""

import pytest
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.models import AuthenticatorDevice
from accounts.tests.factories import TEST_PASSWORD, UserFactory
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


@pytest.mark.parametrize("role", [roles.COMPLIANCE_OFFICERS, roles.IT_ADMINS])
def test_an_it_admin_cannot_give_a_colleague_a_privileged_role_nor_staff_or_superuser_status(alice, role):
    client, _ = it_admin_with_account()
    group = roles.role_group(role)

    response = client.post(
        reverse("admin:accounts_user_change", args=[alice.pk]),
        user_form(alice, is_superuser="on", is_staff="on", groups=[group.pk]),
    )

    assert response.status_code == 200  # the form again, with the reason; never a 500
    assert f"Only a superuser may grant or take away the {role} group." in response.content.decode()
    alice.refresh_from_db()
    assert (alice.is_superuser, alice.is_staff) == (False, False)
    assert list(alice.groups.values_list("name", flat=True)) == []


def test_an_it_admin_cannot_take_a_privileged_role_away_from_an_officer():
    client, _ = it_admin_with_account()
    officer = UserFactory(username="olga", is_staff=True)
    officer.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))

    response = client.post(reverse("admin:accounts_user_change", args=[officer.pk]), user_form(officer, groups=[]))

    assert "Only a superuser may grant or take away the Compliance Officers group." in response.content.decode()
    assert list(officer.groups.values_list("name", flat=True)) == [roles.COMPLIANCE_OFFICERS]


def test_an_it_admin_cannot_grant_a_group_that_carries_permissions(alice):
    client, _ = it_admin_with_account()
    auditors = Group.objects.create(name="Auditors")
    auditors.permissions.add(*roles.role_group(roles.COMPLIANCE_OFFICERS).permissions.all())

    response = client.post(
        reverse("admin:accounts_user_change", args=[alice.pk]), user_form(alice, groups=[auditors.pk])
    )

    assert "Only a superuser may grant or take away the Auditors group." in response.content.decode()
    assert not alice.groups.exists()


def test_an_it_admin_cannot_point_an_officers_email_elsewhere():
    client, _ = it_admin_with_account()
    officer = UserFactory(username="olga", email="olga@parley.test", is_staff=True)
    officer.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))

    response = client.post(
        reverse("admin:accounts_user_change", args=[officer.pk]), user_form(officer, email="ivy@parley.test")
    )

    assert "Only a superuser may change the email of a privileged account." in response.content.decode()
    officer.refresh_from_db()
    assert officer.email == "olga@parley.test"


def test_an_it_admin_still_manages_ordinary_groups_and_the_audit_log_names_them(alice):
    client, ivy = it_admin_with_account()
    employees = roles.role_group(roles.EMPLOYEES)

    response = client.post(
        reverse("admin:accounts_user_change", args=[alice.pk]),
        user_form(alice, groups=[employees.pk], job_title="Lead"),
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    assert (list(alice.groups.values_list("name", flat=True)), alice.job_title) == ([roles.EMPLOYEES], "Lead")
    assert LogEntry.objects.get_for_object(alice).filter(actor=ivy, changes__has_key="groups").exists()


def test_a_superuser_grants_and_takes_away_a_privileged_role_and_the_audit_log_names_them(alice):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    force_login_with_second_factor(client, root)
    compliance = roles.role_group(roles.COMPLIANCE_OFFICERS)

    granted = client.post(
        reverse("admin:accounts_user_change", args=[alice.pk]), user_form(alice, is_staff="on", groups=[compliance.pk])
    )
    alice.refresh_from_db()
    taken = client.post(
        reverse("admin:accounts_user_change", args=[alice.pk]), user_form(alice, is_staff="", groups=[])
    )

    assert (granted.status_code, taken.status_code) == (302, 302)
    alice.refresh_from_db()
    assert (alice.is_staff, alice.groups.exists()) == (False, False)
    by_root = LogEntry.objects.get_for_object(alice).filter(actor=root)
    group_changes = [entry.changes["groups"]["operation"] for entry in by_root.filter(changes__has_key="groups")]
    assert sorted(group_changes) == ["add", "delete"]
    assert by_root.filter(changes__has_key="is_staff").count() == 2


def officer_with_phone(username: str = "olga"):
    officer = UserFactory(username=username, is_staff=True)
    officer.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))
    AuthenticatorDevice.objects.create(user=officer, name="Authenticator app", confirmed=True)
    return officer


NEW_PASSWORD = "a-Fresh-passphrase-42"


def set_password(client: Client, user):
    """Post admin's "set password" form for `user`, with NEW_PASSWORD."""
    return client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


def test_an_it_admin_cannot_set_an_officers_password_nor_reset_their_two_factor():
    client, _ = it_admin_with_account()
    officer = officer_with_phone()

    page = client.get(reverse("admin:auth_user_password_change", args=[officer.pk]), follow=True)
    posted = set_password(client, officer)
    reset = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_two_factor", "_selected_action": [officer.pk]},
        follow=True,
    )

    refusal = "Only a superuser may reset the {} of olga: it is a privileged account"
    assert refusal.format("password") in page.content.decode()
    assert posted.status_code == 302
    assert refusal.format("two-factor sign-in") in reset.content.decode()
    officer.refresh_from_db()
    assert officer.check_password(TEST_PASSWORD)
    assert AuthenticatorDevice.objects.filter(user=officer, confirmed=True).exists()


def test_an_it_admin_cannot_reset_another_it_admin_either():
    client, _ = it_admin_with_account()
    other = UserFactory(username="otto", is_staff=True)
    other.groups.add(roles.role_group(roles.IT_ADMINS))

    set_password(client, other)

    other.refresh_from_db()
    assert other.check_password(TEST_PASSWORD)


def test_an_it_admin_sets_an_employees_password_and_the_audit_log_names_them(alice):
    client, ivy = it_admin_with_account()

    response = set_password(client, alice)

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert (
        LogEntry.objects.get_for_object(alice)
        .filter(actor=ivy, additional_data__privileged_action="password_set")
        .exists()
    )


def test_a_superuser_resets_an_officers_password_and_two_factor():
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    force_login_with_second_factor(client, root)
    officer = officer_with_phone()

    set_password(client, officer)
    client.post(
        reverse("admin:accounts_user_changelist"), {"action": "reset_two_factor", "_selected_action": [officer.pk]}
    )

    officer.refresh_from_db()
    assert officer.check_password(NEW_PASSWORD)
    assert not AuthenticatorDevice.objects.filter(user=officer).exists()
    assert (
        LogEntry.objects.get_for_object(officer)
        .filter(actor=root, additional_data__privileged_action="two_factor_reset")
        .exists()
    )


def test_the_api_changes_no_role_or_status_of_anyone(alice):
    client = Client()
    client.force_login(alice)

    response = client.patch(
        "/api/v1/me",
        {"is_staff": True, "is_superuser": True, "groups": [roles.COMPLIANCE_OFFICERS], "job_title": "Boss"},
        content_type="application/json",
    )

    assert response.status_code == 200
    alice.refresh_from_db()
    assert (alice.is_staff, alice.is_superuser, alice.groups.exists(), alice.job_title) == (False, False, False, "Boss")


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


def test_an_it_admin_still_changes_their_own_email():
    client, ivy = it_admin_with_account()

    response = client.post(reverse("admin:accounts_user_change", args=[ivy.pk]), user_form(ivy, email="ivy@new.test"))

    assert response.status_code == 302
    ivy.refresh_from_db()
    assert ivy.email == "ivy@new.test"
