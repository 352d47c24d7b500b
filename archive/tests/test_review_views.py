"""The review screen and the transcript, for compliance only: names, readable events, marks, the custody footer."""

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.urls import reverse

from accounts import roles
from accounts.tests.factories import UserFactory
from archive.models import ArchiveCheckpoint
from core.testing import force_login_with_second_factor
from messenger import services
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


def signed_in(*, group: str | None = None, staff: bool = True) -> Client:
    roles.role_permissions_apply()
    person = UserFactory(is_staff=staff)
    if group:
        person.groups.add(roles.role_group(group))
    client = Client()
    force_login_with_second_factor(client, person)
    return client


@pytest.fixture
def desk():
    alice = UserFactory(username="alice", display_name="Alice Archer")
    bob = UserFactory(username="bob", display_name="Bob Baker")
    room = room_with(alice, bob, name="desk")
    message = send(alice, room, "Buy 500 ACME before the call")
    services.message_edit(editor=alice, message_id=message.pk, body="Buy 600 ACME before the call")
    services.reaction_add(user=bob, message_id=message.pk, emoji="👍")
    return room


@pytest.mark.parametrize(
    ("group", "staff"), [(roles.IT_ADMINS, True), (None, False), (None, True)], ids=["it-admin", "employee", "staff"]
)
def test_only_compliance_reaches_the_review_and_the_transcript_and_others_see_no_entry(desk, group, staff):
    client = signed_in(group=group, staff=staff)

    review = client.get(reverse("admin:archive_archiveentry_review"), {"words": "acme"})
    page = client.get(reverse("admin:archive_archiveentry_transcript"), {"conversation": desk.pk})
    index = client.get(reverse("admin:index"))

    assert review.status_code in (302, 403) and page.status_code in (302, 403)  # 302: not staff, to the sign-in
    if staff:
        assert review.status_code == page.status_code == 403
        assert reverse("admin:archive_archiveentry_changelist") not in index.content.decode()
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_the_review_shows_names_readable_events_and_marked_words(desk):
    client = signed_in(group=roles.COMPLIANCE_OFFICERS)

    page = client.get(reverse("admin:archive_archiveentry_review"), {"conversations": "desk"})
    text = page.content.decode()

    assert page.status_code == 200
    assert "Alice Archer (alice)" in text and "Bob Baker (bob)" in text
    assert '<td class="event">reaction added' in text and '<td class="event">edited' in text
    assert 'before: <del><span class="said">Buy 500 ACME' in text and 'after: <ins><span class="said">Buy 600' in text
    assert "<details><summary>details</summary>" in text
    marked = client.get(reverse("admin:archive_archiveentry_review"), {"words": "acme"}).content.decode()
    assert "Buy 600 <mark>ACME</mark>" in marked


def test_a_transcript_is_printable_downloadable_with_its_custody_footer_and_audit_logged(desk):
    client = signed_in(group=roles.COMPLIANCE_OFFICERS)
    url = reverse("admin:archive_archiveentry_transcript")

    page = client.get(url, {"conversation": desk.pk})
    download = client.get(url, {"conversation": desk.pk, "download": "1"})
    checkpoint = ArchiveCheckpoint.objects.get()

    text = page.content.decode()
    assert page.status_code == 200 and "@media print" in text
    assert "Alice Archer (alice)" in text and "edited" in text
    assert checkpoint.document_hash in text and checkpoint.public_key in text
    assert download["Content-Disposition"].startswith("attachment")
    body = download.content.decode()
    assert body.startswith("<!DOCTYPE html>") and checkpoint.document_hash in body and "Chain of custody" in body
    accesses = LogEntry.objects.filter(action=LogEntry.Action.ACCESS)
    assert sorted(accesses.values_list("additional_data__archive_access", flat=True)) == [
        "transcript",
        "transcript_download",
    ]
    assert {row["checkpoint"] for row in accesses.values_list("additional_data", flat=True)} == {checkpoint.pk}


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"conversation": "x"},
        {"conversation": "99999999"},
        {"conversation": "1", "since": "2026-02-02", "until": "2026-01-01"},
        {"conversation": str(2**70)},
    ],
)
def test_a_bad_transcript_request_is_a_clear_400(query):
    client = signed_in(group=roles.COMPLIANCE_OFFICERS)

    page = client.get(reverse("admin:archive_archiveentry_transcript"), query)

    assert page.status_code == 400
    assert "errornote" in page.content.decode()


def test_an_entry_page_reads_who_where_and_what_in_words(desk):
    from archive.models import ArchiveEntry

    client = signed_in(group=roles.COMPLIANCE_OFFICERS)
    edit = ArchiveEntry.objects.get(event_type="message_edited")

    text = client.get(reverse("admin:archive_archiveentry_change", args=[edit.pk])).content.decode()

    assert 'Alice Archer (alice)</strong> in #desk: <span class="event">edited</span>' in text
    assert "before: <del>Buy 500 ACME before the call</del>" in text


def test_a_shared_file_shows_as_its_name_linking_to_the_audit_logged_download(desk, settings):
    from archive.models import ArchiveEntry
    from messenger.files import file_share

    settings.PARLEY_CLAMD_ADDRESS = ""  # the scanner is not what this tests
    alice = desk.created_by
    file_share(sender=alice, conversation_id=desk.pk, client_id="f1", name="deal.xlsx", content_type="", data=b"1")
    shared = ArchiveEntry.objects.get(event_type="file_shared")
    client = signed_in(group=roles.COMPLIANCE_OFFICERS)

    text = client.get(reverse("admin:archive_archiveentry_review"), {"words": "deal"}).content.decode()

    link = reverse("admin:archive_archiveentry_file", args=[shared.pk])
    assert f'<a class="file" href="{link}">deal.xlsx</a>' in text
    assert '<td class="event">file shared' in text
