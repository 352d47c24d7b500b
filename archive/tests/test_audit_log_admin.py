"""The audit log in the admin: IT reads the history of accounts, rooms and settings; compliance reads all of it.

An IT Admin tries every door the admin has (list, search, filters, date drill-down, detail, history) for legal
holds, shared files and compliance's looks into the archive, and never sees a case name, a reason, a file name
or a searched word.
"""

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.tests.factories import UserFactory
from archive.models import LegalHold
from archive.retention import legal_hold_open, retention_policy_set
from core.testing import force_login_with_second_factor
from messenger import files, services
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db

CASE, REASON, WORDS, FILE = "FINRA-2026-17", "insider-trading-tip", "acme-merger", "layoffs-Q3-names.xlsx"
SECRETS = (CASE, REASON, WORDS, FILE)
CHANGELIST = reverse("admin:auditlog_logentry_changelist")


def client_for(role: str, username: str) -> Client:
    roles.role_permissions_apply()
    person = UserFactory(username=username, is_staff=True)
    person.groups.add(roles.role_group(role))
    client = Client()
    force_login_with_second_factor(client, person)
    return client


@pytest.fixture
def it_admin() -> Client:
    return client_for(roles.IT_ADMINS, "ivy")


@pytest.fixture
def officer() -> Client:
    return client_for(roles.COMPLIANCE_OFFICERS, "olga")


@pytest.fixture
def history(officer, settings, tmp_path):
    """A hold, a retention policy, a shared file, an officer's search and an opened entry; and a room change."""
    settings.PARLEY_CLAMD_ADDRESS = ""
    settings.MEDIA_ROOT = tmp_path / "media"
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = room_with(alice, bob, name="desk")
    send(alice, room, "Buy ACME")
    files.file_share(sender=alice, conversation_id=room.pk, client_id="f1", name=FILE, content_type="", data=b"x")
    services.room_update(user=alice, conversation_id=room.pk, name="trading-desk")
    hold = legal_hold_open(by=alice, case_name=CASE, reason=REASON, users=[bob])
    retention_policy_set(name="seven years", scope="default", archive_days=2555)
    officer.get(reverse("admin:archive_archiveentry_review"), {"words": WORDS})
    entry_id = __import__("archive.models", fromlist=["ArchiveEntry"]).ArchiveEntry.objects.first().pk
    officer.get(reverse("admin:archive_archiveentry_change", args=[entry_id]))
    return {"hold": hold, "room": room}


def rows_of(model: type) -> list[LogEntry]:
    return list(LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model)).order_by("pk"))


def search_row() -> LogEntry:
    return LogEntry.objects.get(action=LogEntry.Action.ACCESS, additional_data__archive_access="search")


def detail(client: Client, row: LogEntry):
    return client.get(reverse("admin:auditlog_logentry_change", args=[row.pk]))


def test_an_it_admin_reads_no_hold_file_or_search_in_the_audit_log_list_search_filters_or_details(it_admin, history):
    hold_row = rows_of(LegalHold)[0]
    pages = [
        it_admin.get(CHANGELIST),
        it_admin.get(CHANGELIST, {"resource_type": hold_row.content_type_id}),
        it_admin.get(CHANGELIST, {"action": LogEntry.Action.ACCESS}),
        it_admin.get(CHANGELIST, {"timestamp__year": hold_row.timestamp.year}),
    ]
    searches = [it_admin.get(CHANGELIST, {"q": words}) for words in ("FINRA", "insider", "layoffs", "acme")]
    hold_detail, search_detail = detail(it_admin, hold_row), detail(it_admin, search_row())
    history_page = it_admin.get(reverse("admin:auditlog_logentry_history", args=[hold_row.pk]))

    assert all(page.status_code == 200 for page in [*pages, *searches])
    for page in [*pages, *searches, hold_detail, search_detail, history_page]:
        text = page.content.decode()
        assert not [secret for secret in SECRETS if secret in text]
    assert all(">0 results<" in page.content.decode().replace("0 results (", "0 results<") for page in searches)
    assert (hold_detail.status_code, search_detail.status_code, history_page.status_code) == (404, 404, 404)


def rows_listed(client: Client, model: type) -> int:
    """How many rows the audit-log list shows a reader, filtered to one kind of record."""
    page = client.get(CHANGELIST, {"resource_type": ContentType.objects.get_for_model(model).pk})
    assert page.status_code == 200
    return page.content.decode().count('<th class="field-created')


def test_an_it_admin_reads_the_history_of_accounts_rooms_memberships_and_authenticators(it_admin, officer, history):
    from accounts.models import AuthenticatorDevice, User
    from archive.models import ArchiveEntry, RetentionPolicy
    from messenger.models import Attachment, Conversation, Membership

    membership = Membership.objects.get(conversation=history["room"], user__username="bob")
    services.do_member_role_set(actor=User.objects.get(username="ivy"), membership=membership, role="moderator")
    room_row = [row for row in rows_of(Conversation) if "name" in (row.changes or {})][-1]

    assert "trading-desk" in detail(it_admin, room_row).content.decode()
    for model in (User, Conversation, Membership, AuthenticatorDevice):
        assert rows_listed(it_admin, model) > 0, model
    for model in (LegalHold, RetentionPolicy, Attachment, ArchiveEntry):
        assert (rows_listed(it_admin, model), rows_listed(officer, model) > 0) == (0, True), model


def test_a_compliance_officer_reads_holds_files_and_searches_with_the_words_opened(officer, history):
    listed = officer.get(CHANGELIST).content.decode().casefold()
    found = officer.get(CHANGELIST, {"q": CASE}).content.decode()
    hold_detail = detail(officer, rows_of(LegalHold)[0]).content.decode()
    search_detail = detail(officer, search_row()).content.decode()

    assert CASE.casefold() in listed and CASE in found
    assert REASON in hold_detail
    assert WORDS in search_detail
    assert "archive entry" in listed and "attachment" in listed


def test_a_superuser_reads_everything(history):
    root = Client()
    force_login_with_second_factor(root, UserFactory(username="root", is_staff=True, is_superuser=True))

    assert WORDS in detail(root, search_row()).content.decode()
    assert REASON in detail(root, rows_of(LegalHold)[0]).content.decode()
