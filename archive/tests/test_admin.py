"""Compliance review in the admin: entries are readable and nothing can change them, even for superusers."""

import html
import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from archive.models import ArchiveEntry, LegalHold
from archive.selectors import audit_access_details
from core.testing import force_login_with_second_factor, table_text
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    force_login_with_second_factor(client, UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def entry():
    alice = UserFactory(username="alice")
    send(alice, room_with(alice), "confidential figures")
    return ArchiveEntry.objects.get(event_type="message_sent")


def test_an_entry_shows_its_opened_content(superuser_client, entry):
    response = superuser_client.get(reverse("admin:archive_archiveentry_change", args=[entry.pk]))

    assert response.status_code == 200
    assert "confidential figures" in response.content.decode()


def test_entries_cannot_be_added_changed_or_deleted_in_the_admin(superuser_client, entry):
    add = superuser_client.get(reverse("admin:archive_archiveentry_add"))
    delete = superuser_client.post(reverse("admin:archive_archiveentry_delete", args=[entry.pk]), {"post": "yes"})
    change = superuser_client.post(
        reverse("admin:archive_archiveentry_change", args=[entry.pk]), {"event_type": "purge"}
    )

    assert add.status_code == 403
    assert delete.status_code == 403
    assert change.status_code == 403
    assert ArchiveEntry.objects.get(pk=entry.pk).event_type == "message_sent"


def test_the_entry_list_renders(superuser_client, entry):
    response = superuser_client.get(reverse("admin:archive_archiveentry_changelist"))

    assert response.status_code == 200


def test_a_hold_opened_in_the_admin_records_who_opened_it_and_can_be_released_not_deleted(superuser_client):
    bob = UserFactory(username="bob")

    superuser_client.post(
        reverse("admin:archive_legalhold_add"),
        {"case_name": "FINRA 2026-17", "reason": "exam", "users": [bob.pk]},
    )
    hold = LegalHold.objects.get()
    superuser_client.post(
        reverse("admin:archive_legalhold_changelist"),
        {"action": "release_holds", "_selected_action": [hold.pk]},
    )
    delete = superuser_client.get(reverse("admin:archive_legalhold_delete", args=[hold.pk]))

    hold.refresh_from_db()
    assert hold.opened_by.username == "root"
    assert list(hold.users.all()) == [bob]
    assert hold.released_at is not None
    assert delete.status_code == 403


def test_a_retention_policy_below_the_floor_is_refused_in_the_admin(superuser_client, settings):
    settings.PARLEY_RETENTION_FLOOR_DAYS = 0  # the code's floor holds whatever the setting says

    response = superuser_client.post(
        reverse("admin:archive_retentionpolicy_add"), {"name": "short", "scope": "default", "archive_days": 30}
    )

    assert response.status_code == 200
    assert "At least 2190 days" in response.content.decode()  # the default: six years (FINRA 4511(b))


def test_a_reviewer_downloads_a_shared_file_from_its_entry_and_the_access_is_logged(superuser_client, settings):
    from auditlog.models import LogEntry

    from messenger.files import file_share

    settings.PARLEY_CLAMD_ADDRESS = ""
    sender = UserFactory(username="sam")
    room = room_with(sender)
    message = file_share(
        sender=sender, conversation_id=room.pk, client_id="c1", name="deal.xlsx", content_type="", data=b"figures"
    )
    entry = ArchiveEntry.objects.get(message_id=message.pk)

    page = superuser_client.get(reverse("admin:archive_archiveentry_change", args=[entry.pk])).content.decode()
    download = superuser_client.get(reverse("admin:archive_archiveentry_file", args=[entry.pk]))

    assert "Download deal.xlsx" in page
    assert download.status_code == 200
    assert download.content == b"figures"
    assert download["Content-Disposition"].startswith("attachment")
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(message.attachment.pk)).count() == 1


def test_an_it_admin_cannot_download_files_from_the_archive(settings):
    from accounts import roles
    from messenger.files import file_share

    settings.PARLEY_CLAMD_ADDRESS = ""
    roles.role_permissions_apply()
    ivy = UserFactory(username="ivy", is_staff=True)
    ivy.groups.add(roles.role_group(roles.IT_ADMINS))
    client = Client()
    force_login_with_second_factor(client, ivy)
    room = room_with(UserFactory(username="sam"))
    message = file_share(
        sender=room.created_by, conversation_id=room.pk, client_id="c1", name="a.txt", content_type="", data=b"x"
    )
    entry = ArchiveEntry.objects.get(message_id=message.pk)

    assert client.get(reverse("admin:archive_archiveentry_file", args=[entry.pk])).status_code == 403


# ---- search, review and export, every look audit-logged ------------------------------------------------------


@pytest.fixture
def officer_client(client):
    from accounts import roles

    roles.role_permissions_apply()
    officer = UserFactory(username="olga", is_staff=True)
    officer.groups.add(roles.role_group(roles.COMPLIANCE_OFFICERS))
    force_login_with_second_factor(client, officer)
    return client


@pytest.fixture
def desk():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = room_with(alice, bob, name="desk")
    send(alice, room, "Buy 500 ACME before the call")
    send(bob, room_with(bob, name="notes"), "nothing about shares")
    return room


def archive_accesses(action: str):
    from auditlog.models import LogEntry

    return LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__archive_access=action)


def test_an_officer_searches_by_person_and_words_and_the_search_is_audit_logged(officer_client, desk):
    page = officer_client.get(reverse("admin:archive_archiveentry_review"), {"people": "alice", "words": "acme"})

    text = page.content.decode()
    assert page.status_code == 200
    assert "Buy 500 <mark>ACME</mark> before the call" in text and "#desk" in text
    assert "nothing about shares" not in text
    today = timezone.localdate().isoformat()
    assert f'href="?conversations={desk.pk}&amp;since={today}&amp;until={today}"' in text  # the day in context
    (logged,) = archive_accesses("search")
    assert logged.actor.username == "olga"
    assert audit_access_details(entry=logged)["criteria"]["words"] == "acme"
    assert logged.additional_data["shown"] == 1


def test_an_officer_pages_through_every_hit_by_next_page_links_each_page_audit_logged(
    officer_client, desk, monkeypatch
):
    monkeypatch.setattr("archive.admin.REVIEW_PAGE", 2)
    alice = User.objects.get(username="alice")
    for index in range(3):
        send(alice, desk, f"ACME order {index}")
    review = reverse("admin:archive_archiveentry_review")

    first = officer_client.get(review, {"words": "acme"})
    next_link = re.search(r'id="review-next-page" href="\?([^"]+)"', first.content.decode()).group(1)
    second = officer_client.get(f"{review}?{html.unescape(next_link)}")
    shown = [re.findall(r"ACME</mark> (?:before the call|order \d)", page.content.decode()) for page in (first, second)]

    assert shown == [
        ["ACME</mark> before the call", "ACME</mark> order 0"],
        ["ACME</mark> order 1", "ACME</mark> order 2"],
    ]
    assert 'id="review-next-page"' not in second.content.decode() and second.status_code == 200
    assert [row.additional_data["shown"] for row in archive_accesses("search").order_by("pk")] == [2, 2]
    assert Client().get(f"{review}?{html.unescape(next_link)}").status_code == 302  # anonymous: to the sign-in


def test_a_forged_page_link_or_a_query_that_cannot_be_read_is_refused_clearly(officer_client, desk):
    review = reverse("admin:archive_archiveentry_review")

    forged = officer_client.get(review, {"words": "acme", "after": "not-a-cursor"})
    unclosed = officer_client.get(review, {"words": '"buy 500'})
    only_not = officer_client.get(review, {"words": "NOT acme"})

    assert forged.status_code == 400 and "This page link is not valid; search again." in forged.content.decode()
    assert unclosed.status_code == 200 and "A quoted phrase is not closed." in unclosed.content.decode()
    assert "needs at least one word to look for" in only_not.content.decode()
    assert not archive_accesses("search").exists()


def test_the_words_an_officer_searched_and_exported_for_are_stored_sealed(officer_client, desk):
    officer_client.get(reverse("admin:archive_archiveentry_review"), {"words": "acme"})
    officer_client.post(reverse("admin:archive_archiveentry_export"), {"words": "acme"})

    assert archive_accesses("search").exists() and archive_accesses("export").exists()
    assert "acme" not in table_text("auditlog_logentry").casefold()
    assert {audit_access_details(entry=row)["criteria"]["words"] for row in archive_accesses("export")} == {"acme"}


def test_search_words_copied_into_another_row_do_not_open(officer_client, desk):
    from auditlog.models import LogEntry

    officer_client.get(reverse("admin:archive_archiveentry_review"), {"words": "acme"})
    officer_client.get(reverse("admin:archive_archiveentry_review"), {"words": "bonds"})
    first, second = archive_accesses("search").order_by("pk")
    LogEntry.objects.filter(pk=second.pk).update(additional_data=first.additional_data)

    copied = audit_access_details(entry=LogEntry.objects.get(pk=second.pk))["criteria"]["words"]
    assert "acme" not in copied and "do not open" in copied


def test_a_search_for_someone_unknown_says_so_and_looks_at_nothing(officer_client, desk):
    page = officer_client.get(reverse("admin:archive_archiveentry_review"), {"people": "mallory"})

    assert page.status_code == 200
    assert "No user named mallory." in page.content.decode()
    assert not archive_accesses("search").exists()


def test_opening_an_entry_is_audit_logged(officer_client, entry):
    officer_client.get(reverse("admin:archive_archiveentry_change", args=[entry.pk]))

    (logged,) = archive_accesses("entry_view")
    assert (logged.object_pk, logged.actor.username) == (str(entry.pk), "olga")


def test_an_export_of_a_search_verifies_and_holds_only_the_matching_conversations(officer_client, desk):
    from archive import signing
    from archive.verify_export import verify

    response = officer_client.post(reverse("admin:archive_archiveentry_export"), {"words": "acme"})

    lines = b"".join(response.streaming_content).decode().splitlines()
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="parley-archive-')
    assert verify(lines, signing.public_key_hex()) == []
    records = [json.loads(line) for line in lines]
    assert records[0]["header"]["requested_by"] == "olga"
    assert {record["entry"]["conversation"] for record in records if "entry" in record} == {desk.pk}
    (logged,) = archive_accesses("export")
    assert logged.additional_data["conversation_ids"] == [desk.pk]


def test_an_export_in_another_format_is_a_zip_whose_manifest_verifies(officer_client, desk):
    import io
    import zipfile

    from archive import signing
    from archive.formats import zip_export_problems

    response = officer_client.post(reverse("admin:archive_archiveentry_export"), {"words": "acme", "format": "eml"})

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    data = io.BytesIO(b"".join(response.streaming_content))
    assert zip_export_problems(data, signing.public_key_hex()) == []
    emails = [name for name in zipfile.ZipFile(data).namelist() if name.endswith(".eml")]
    assert emails == [f"eml/{desk.pk}/{timezone.now().date().isoformat()}.eml"]  # the matching conversation only
    (logged,) = archive_accesses("export")
    assert logged.additional_data["format"] == "eml"


def test_an_unknown_export_format_is_refused_with_a_message(officer_client, desk):
    response = officer_client.post(
        reverse("admin:archive_archiveentry_export"), {"words": "acme", "format": "pdf"}, follow=True
    )

    assert response.status_code == 200
    assert "Unknown export format" in response.content.decode()
    assert not archive_accesses("export").exists()


def test_an_export_is_a_post_and_it_admins_can_neither_search_nor_export(officer_client, desk):
    from accounts import roles

    assert officer_client.get(reverse("admin:archive_archiveentry_export")).status_code == 405
    it_admin = Client()
    ivy = UserFactory(username="ivy", is_staff=True)
    ivy.groups.add(roles.role_group(roles.IT_ADMINS))
    force_login_with_second_factor(it_admin, ivy)
    assert it_admin.post(reverse("admin:archive_archiveentry_export"), {"words": "acme"}).status_code == 403
    assert it_admin.get(reverse("admin:archive_archiveentry_review"), {"words": "acme"}).status_code == 403
    assert not archive_accesses("export").exists()


def test_an_export_with_an_entry_that_does_not_open_is_refused_with_a_reason(officer_client, desk):
    from archive.tests.tampering import swap_payload_of

    first, second = ArchiveEntry.objects.filter(event_type="message_sent").order_by("pk")[:2]
    swap_payload_of(second.pk, with_payload_of=first.pk)

    response = officer_client.post(
        reverse("admin:archive_archiveentry_export"), {"words": "", "people": ""}, follow=True
    )

    assert response.status_code == 200
    assert "does not open: run verify_archive. Nothing was exported." in response.content.decode()
    assert "csrfmiddlewaretoken" not in response.redirect_chain[0][0]
    assert not archive_accesses("export").exists()


def test_a_conversation_number_no_conversation_can_have_is_refused_clearly(officer_client, desk):
    page = officer_client.get(reverse("admin:archive_archiveentry_review"), {"conversations": "9" * 30})

    assert page.status_code == 200
    assert f"No conversation {'9' * 30}." in page.content.decode()
