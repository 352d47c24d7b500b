"""`sync_directory` (accounts.ldap_sync) against a real slapd (accounts/tests/ldap_server.py, the company in
ldif/company.ldif): creations, updates, deactivations, the dry run, paging, batches and refusals."""

from __future__ import annotations

import io

import pytest
from channels.db import database_sync_to_async
from django.core.management import CommandError, call_command

from accounts import roles
from accounts.ldap_sync import directory_sync
from accounts.models import User
from accounts.tests import ldap_server
from accounts.tests.factories import UserFactory
from accounts.tests.ldap_server import GROUPS, person_dn, start_slapd
from core.testing import session_cookie_for, socket_to_app

pytestmark = pytest.mark.django_db

directory = ldap_server.directory  # the company's slapd, Parley configured for it


def role_names(user: User) -> set[str]:
    return {group.name for group in user.groups.all()}


def sync(*arguments: str) -> str:
    out = io.StringIO()
    call_command("sync_directory", *arguments, stdout=out)
    return out.getvalue()


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
    monkeypatch.setattr("accounts.ldap_sync.PAGE_SIZE", 2)  # the company's 5 people take 3 pages

    sync()

    assert User.objects.filter(directory_source="ldap").count() == 4


def test_managers_are_linked_across_batches_whatever_the_directory_order(directory):
    directory.add_person("zed", mail="zed@example.com", manager=person_dn("ann"))  # ann, then grace, above zed

    report = directory_sync(batch_size=1)

    assert [row.username for row in report.rows][:1] == ["grace"]
    assert User.objects.get(username="zed").manager.username == "ann"
    assert User.objects.get(username="ann").manager.username == "grace"


def test_a_dry_run_reports_what_would_change_and_writes_nothing(directory):
    sync()
    directory.replace(person_dn("ann"), "title", "Head Trader")
    directory.replace(person_dn("ivan"), "employeeType", "disabled")
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
    directory.replace(person_dn("ann"), "title", "Head Trader")
    directory.replace(person_dn("ann"), "telephoneNumber", "+1 212 555 0199")
    directory.replace(f"cn=compliance,{GROUPS}", "member", person_dn("cora"), person_dn("ann"))

    output = sync()

    ann = User.objects.get(username="ann")
    assert (ann.job_title, ann.phone) == ("Head Trader", "+1 212 555 0199")
    assert role_names(ann) == {roles.EMPLOYEES, roles.COMPLIANCE_OFFICERS}
    assert "0 created, 1 updated, 3 unchanged" in output
    assert "0 created, 0 updated, 4 unchanged" in sync()


def test_sync_deactivates_people_disabled_in_or_gone_from_the_directory_but_never_local_accounts(directory):
    sync()
    UserFactory(username="breakglass")
    directory.replace(person_dn("ivan"), "employeeType", "disabled")
    directory.delete(person_dn("cora"))

    output = sync()

    assert not User.objects.get(username="ivan").is_active
    assert not User.objects.get(username="cora").is_active
    assert User.objects.get(username="breakglass").is_active
    assert "2 were deactivated" in output
    directory.replace(person_dn("ivan"), "employeeType")  # enabled again
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
async def test_a_person_disabled_in_the_directory_loses_a_live_socket_at_the_sync(directory, settings):
    # Pushed, not polled: the session check, the only other way the socket could close, is an hour away.
    settings.PARLEY_SESSION_CHECK_SECONDS = 3600
    await database_sync_to_async(sync)()
    ann = await database_sync_to_async(User.objects.get)(username="ann")
    socket = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(ann))
    assert (await socket.connect())[0]
    directory.replace(person_dn("ann"), "employeeType", "disabled")

    await database_sync_to_async(sync)()
    while (frame := await socket.receive_json_from(timeout=5))["type"] != "signed_out":
        pass
    closed = await socket.receive_output(timeout=5)

    assert frame["reason"] == "deactivated"
    assert closed["type"] == "websocket.close"
