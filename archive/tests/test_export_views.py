"""The desk's exports: a search queued as an export, "My exports" with progress, and a download for the officer
who asked alone; every other role is turned away at every door, and nothing answers 500."""

import io
import json
import zipfile

import pytest
from auditlog.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.tests.factories import UserFactory
from archive import signing
from archive.export_jobs import export_file_path, export_jobs_step
from archive.formats import zip_export_problems
from archive.models import ArchiveEntry, ExportJob
from archive.selectors import audit_access_details
from archive.verify_export import verify
from core.testing import force_login_with_second_factor, table_text
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


def signed_in(username: str, *, group: str | None = None, staff: bool = True) -> Client:
    roles.role_permissions_apply()
    person = UserFactory(username=username, is_staff=staff)
    if group:
        person.groups.add(roles.role_group(group))
    client = Client()
    force_login_with_second_factor(client, person)
    return client


@pytest.fixture
def olga() -> Client:
    return signed_in("olga", group=roles.COMPLIANCE_OFFICERS)


@pytest.fixture
def desk():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = room_with(alice, bob, name="desk")
    send(alice, room, "Buy 500 ACME before the call")
    send(bob, room_with(bob, name="notes"), "nothing about shares")
    return room


def archive_accesses(action: str):
    return LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__archive_access=action)


def queued(client: Client, **search) -> ExportJob:
    response = client.post(reverse("admin:archive_archiveentry_export"), search)
    assert response.status_code == 302 and response["Location"] == reverse("admin:archive_archiveentry_exports")
    return ExportJob.objects.latest("pk")


def download(client: Client, job: ExportJob):
    return client.get(reverse("admin:archive_archiveentry_export_download", args=[job.pk]))


def test_an_export_is_queued_shown_as_mine_and_its_words_stored_sealed(olga, desk):
    job = queued(olga, words="acme", format="eml")

    page = olga.get(reverse("admin:archive_archiveentry_exports"))
    text = page.content.decode()
    assert page.status_code == 200
    assert f'id="export-{job.pk}"' in text and "queued" in text
    assert 'src="/static/js/export-progress.js"' in text
    assert reverse("admin:archive_archiveentry_export_status", args=[job.pk]) in text
    (logged,) = archive_accesses("export_requested")
    assert audit_access_details(entry=logged)["criteria"]["words"] == "acme"
    assert "acme" not in (table_text("auditlog_logentry") + table_text("archive_exportjob")).casefold()


def test_the_status_says_how_far_the_export_is_and_the_download_is_the_zip(olga, desk):
    job = queued(olga, words="acme", format="eml")
    status = olga.get(reverse("admin:archive_archiveentry_export_status", args=[job.pk]))
    assert status.json() == {"id": job.pk, "state": "queued", "done": 0, "total": None, "size": None, "error": ""}

    export_jobs_step()

    status = olga.get(reverse("admin:archive_archiveentry_export_status", args=[job.pk])).json()
    assert status["state"] == "done" and status["done"] == status["total"] > 0
    response = download(olga, job)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    data = io.BytesIO(b"".join(response.streaming_content))
    assert len(data.getvalue()) == int(response["Content-Length"])
    assert zip_export_problems(data, signing.public_key_hex()) == []
    emails = [name for name in zipfile.ZipFile(data).namelist() if name.endswith(".eml")]
    assert emails == [f"eml/{desk.pk}/{timezone.now().date().isoformat()}.eml"]  # the matching conversation only
    (logged,) = archive_accesses("export_download")
    assert logged.actor.username == "olga" and logged.additional_data["job"] == job.pk
    assert 'class="download"' in olga.get(reverse("admin:archive_archiveentry_exports")).content.decode()


def test_the_default_export_is_the_verifiable_json_lines_in_a_zip(olga, desk):
    job = queued(olga, words="acme")
    export_jobs_step()

    archive = zipfile.ZipFile(io.BytesIO(b"".join(download(olga, job).streaming_content)))

    lines = archive.read("export.jsonl").decode().splitlines()
    assert verify(lines, signing.public_key_hex()) == []
    records = [json.loads(line) for line in lines]
    assert records[0]["header"]["requested_by"] == "olga"
    assert {record["entry"]["conversation"] for record in records if "entry" in record} == {desk.pk}
    (logged,) = archive_accesses("export")
    assert logged.additional_data["conversation_ids"] == [desk.pk]


def test_an_unknown_export_format_is_refused_with_a_message_and_nothing_queued(olga, desk):
    response = olga.post(reverse("admin:archive_archiveentry_export"), {"words": "acme", "format": "pdf"}, follow=True)

    assert response.status_code == 200
    assert "Unknown export format" in response.content.decode()
    assert not ExportJob.objects.exists()


def test_an_export_that_cannot_be_made_shows_why_in_my_exports(olga, desk):
    from archive.tests.tampering import swap_payload_of

    first, second = ArchiveEntry.objects.filter(event_type="message_sent").order_by("pk")[:2]
    swap_payload_of(second.pk, with_payload_of=first.pk)
    job = queued(olga, format="csv")

    export_jobs_step()

    text = olga.get(reverse("admin:archive_archiveentry_exports")).content.decode()
    assert "does not open: run verify_archive. Nothing was exported." in text
    assert download(olga, job).status_code == 409


def test_a_tampered_export_file_is_refused_with_a_reason_not_a_500(olga, desk):
    job = queued(olga, format="csv")
    export_jobs_step()
    path = export_file_path(job)
    path.write_bytes(path.read_bytes()[:-1])

    response = download(olga, job)

    assert response.status_code == 409
    assert "it was not sent" in response.content.decode()
    assert not archive_accesses("export_download").exists()


def test_another_compliance_officer_cannot_see_or_download_my_export(olga, desk):
    job = queued(olga, format="csv")
    export_jobs_step()
    pete = signed_in("pete", group=roles.COMPLIANCE_OFFICERS)

    assert download(pete, job).status_code == 404
    assert pete.get(reverse("admin:archive_archiveentry_export_status", args=[job.pk])).status_code == 404
    assert f'id="export-{job.pk}"' not in pete.get(reverse("admin:archive_archiveentry_exports")).content.decode()
    assert not archive_accesses("export_download").exists()


@pytest.mark.parametrize(
    ("group", "staff"), [(roles.IT_ADMINS, True), (None, False), (None, True)], ids=["it-admin", "employee", "staff"]
)
def test_no_other_role_reaches_any_export_door(olga, desk, group, staff):
    job = queued(olga, format="csv")
    export_jobs_step()
    other = signed_in("someone", group=group, staff=staff)

    responses = [
        other.post(reverse("admin:archive_archiveentry_export"), {"words": "acme", "format": "eml"}),
        other.get(reverse("admin:archive_archiveentry_exports")),
        other.get(reverse("admin:archive_archiveentry_export_status", args=[job.pk])),
        download(other, job),
    ]

    expected = {403} if staff else {302}  # 302: not staff, to the sign-in
    assert {response.status_code for response in responses} == expected
    assert ExportJob.objects.count() == 1
    assert not archive_accesses("export_download").exists()


def test_anonymous_reaches_no_export_door(olga, desk):
    job = queued(olga, format="csv")
    export_jobs_step()
    anonymous = Client()

    for response in (
        anonymous.get(reverse("admin:archive_archiveentry_exports")),
        anonymous.get(reverse("admin:archive_archiveentry_export_status", args=[job.pk])),
        download(anonymous, job),
    ):
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_export_is_a_post(olga):
    assert olga.get(reverse("admin:archive_archiveentry_export")).status_code == 405


def test_a_missing_export_is_not_found(olga):
    assert download(olga, ExportJob(pk=999)).status_code == 404
