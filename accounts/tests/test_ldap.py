"""LDAP / Active Directory against a real slapd (accounts/tests/ldap_server.py, the company in ldif/company.ldif):
signing in through the login page, attribute and group mapping, and `sync_directory`."""

from __future__ import annotations

import io
import time

import pytest
from axes.models import AccessAttempt
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from accounts import roles
from accounts.ldap import directory_sync
from accounts.models import SignIn, User
from accounts.tests import ldap_server
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from accounts.tests.ldap_server import GROUPS, PEOPLE, start_slapd
from core.testing import session_cookie_for, socket_to_app

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"

directory = ldap_server.directory  # the company's slapd, Parley configured for it


def dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def sign_in(username: str, password: str, **headers) -> Client:
    client = Client()
    client.post(LOGIN, {"username": username, "password": password}, **headers)
    return client


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def role_names(user: User) -> set[str]:
    return {group.name for group in user.groups.all()}


def sync(*arguments: str) -> str:
    out = io.StringIO()
    call_command("sync_directory", *arguments, stdout=out)
    return out.getvalue()


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
    assert (ann.directory_source, ann.directory_id) == ("ldap", dn("ann"))
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
    directory.replace(f"cn=it,{GROUPS}", "member", dn("cora"))

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


# ---- sync_directory ---------------------------------------------------------------------------------------


def test_sync_creates_everyone_enabled_with_attributes_roles_and_managers(directory):
    output = sync()

    assert set(User.objects.values_list("username", flat=True)) == {"grace", "ann", "ivan", "cora"}
    ann = User.objects.get(username="ann")
    assert (ann.department, ann.job_title, ann.phone, ann.manager.username) == (
        "Trading",
        "Trader",
        "+1 212 555 0101",
        "grace",
    )
    assert role_names(User.objects.get(username="cora")) == {roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS}
    assert "ann    created" in output
    assert "Imported: 4 created, 0 updated, 0 unchanged. 0 were deactivated" in output


def test_sync_pages_through_a_directory_bigger_than_a_page(directory, monkeypatch):
    monkeypatch.setattr("accounts.ldap.PAGE_SIZE", 2)  # the company's 5 people take 3 pages

    sync()

    assert User.objects.filter(directory_source="ldap").count() == 4


def test_managers_are_linked_across_batches_whatever_the_directory_order(directory):
    directory.add_person("zed", mail="zed@example.com", manager=dn("ann"))  # ann, then grace, above zed

    report = directory_sync(batch_size=1)

    assert [row.username for row in report.rows][:1] == ["grace"]
    assert User.objects.get(username="zed").manager.username == "ann"
    assert User.objects.get(username="ann").manager.username == "grace"


def test_a_dry_run_reports_what_would_change_and_writes_nothing(directory):
    sync()
    directory.replace(dn("ann"), "title", "Head Trader")
    directory.replace(dn("ivan"), "employeeType", "disabled")
    directory.add_person("nina", mail="nina@example.com", displayName="Nina Novak")

    output = sync("--dry-run")

    assert "title 'Trader' -> 'Head Trader'" in output
    assert "active 'yes' -> 'no'" in output
    assert "Dry run, nothing was written. Importing would give: 1 created, 2 updated, 2 unchanged." in output
    assert "1 would be deactivated" in output
    assert User.objects.get(username="ann").job_title == "Trader"
    assert User.objects.get(username="ivan").is_active
    assert not User.objects.filter(username="nina").exists()


def test_sync_updates_changed_people_and_a_second_run_changes_nothing(directory):
    sync()
    directory.replace(dn("ann"), "title", "Head Trader")
    directory.replace(dn("ann"), "telephoneNumber", "+1 212 555 0199")
    directory.replace(f"cn=compliance,{GROUPS}", "member", dn("cora"), dn("ann"))

    output = sync()

    ann = User.objects.get(username="ann")
    assert (ann.job_title, ann.phone) == ("Head Trader", "+1 212 555 0199")
    assert role_names(ann) == {roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS}
    assert "0 created, 1 updated, 3 unchanged" in output
    assert "0 created, 0 updated, 4 unchanged" in sync()


def test_sync_deactivates_people_disabled_in_or_gone_from_the_directory_but_never_local_accounts(directory):
    sync()
    UserFactory(username="breakglass")
    directory.replace(dn("ivan"), "employeeType", "disabled")
    directory.delete(dn("cora"))

    output = sync()

    assert not User.objects.get(username="ivan").is_active
    assert not User.objects.get(username="cora").is_active
    assert User.objects.get(username="breakglass").is_active
    assert "2 were deactivated" in output
    directory.replace(dn("ivan"), "employeeType")  # enabled again
    sync()
    assert User.objects.get(username="ivan").is_active


def test_a_person_the_import_refuses_is_skipped_and_the_others_are_written(directory):
    directory.add_person("noemail", displayName="No Mail")

    with pytest.raises(CommandError, match="1 people were skipped"):
        sync()

    assert not User.objects.filter(username="noemail").exists()
    assert User.objects.filter(username__in=["grace", "ann", "ivan", "cora"]).count() == 4


def test_a_directory_that_lists_nobody_deactivates_nobody(directory, settings):
    sync()
    settings.PARLEY_LDAP_USER_SEARCH_BASE = "ou=services,dc=example,dc=com"

    with pytest.raises(CommandError, match="listed nobody"):
        sync()

    assert User.objects.filter(is_active=True).count() == 4


def test_a_directory_size_limit_stops_the_sync_before_it_deactivates_anyone(directory, settings, tmp_path):
    sync()
    limited = start_slapd(tmp_path / "limited", reader_limits="size.prtotal=3")  # slapd's 500, in small
    settings.PARLEY_LDAP_SERVER_URI = limited.uri
    try:
        with pytest.raises(CommandError, match="size limit"):
            sync()
    finally:
        limited.stop()

    assert User.objects.filter(is_active=True).count() == 4


def test_an_unreachable_directory_is_a_clear_error(directory):
    directory.stop()

    with pytest.raises(CommandError, match="refused the search"):
        sync()


def test_sync_without_ldap_configured_says_so(settings):
    settings.PARLEY_LDAP_SERVER_URI = ""

    with pytest.raises(CommandError, match="PARLEY_LDAP_SERVER_URI"):
        sync()


@pytest.mark.django_db(transaction=True)
async def test_a_person_disabled_in_the_directory_loses_a_live_socket_within_a_second_of_the_sync(directory):
    await database_sync_to_async(sync)()
    ann = await database_sync_to_async(User.objects.get)(username="ann")
    socket = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(ann))
    assert (await socket.connect())[0]
    directory.replace(dn("ann"), "employeeType", "disabled")

    await database_sync_to_async(sync)()
    synced = time.monotonic()
    while (frame := await socket.receive_json_from(timeout=1))["type"] != "signed_out":
        pass
    closed = await socket.receive_output(timeout=1)

    assert frame["reason"] == "deactivated"
    assert closed["type"] == "websocket.close"
    assert time.monotonic() - synced < 1.0


def test_manage_py_check_names_a_misconfigured_directory(directory, settings):
    settings.PARLEY_LDAP_ROLE_GROUPS = "Wizards=cn=it"

    with pytest.raises(SystemCheckError, match="'Wizards' is not a Parley role"):
        call_command("check")
