"""Background exports: queued, run by the worker with progress, sealed at rest, downloaded whole or not at all,
taken back when a worker dies, and deleted when they expire."""

import io
import json
import zipfile
from datetime import timedelta
from email import message_from_bytes

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from accounts.tests.factories import UserFactory
from archive import export_jobs
from archive.export_jobs import (
    ExportUnavailable,
    export_download,
    export_file_path,
    export_job_claim,
    export_job_request,
    export_jobs_expire,
    export_jobs_recover_lost,
    export_jobs_step,
)
from archive.formats import zip_export_problems
from archive.models import ExportJob
from archive.selectors import ArchiveSearch
from archive.signing import public_key_hex
from core.testing import table_text
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer():
    return UserFactory(username="olga")


@pytest.fixture
def trade():
    alice = UserFactory(username="alice", display_name="Alice Archer")
    bob = UserFactory(username="bob")
    room = room_with(alice, bob, name="desk")
    send(alice, room, "Buy 600 ACME before the call")
    send(bob, room, "done")
    return room


def downloaded(officer, job) -> zipfile.ZipFile:
    _, chunks = export_download(user=officer, job_id=job.pk)
    return zipfile.ZipFile(io.BytesIO(b"".join(chunks)))


def test_a_requested_export_is_queued_and_audit_logged_without_its_words_in_clear(officer, trade):
    job = export_job_request(user=officer, search=ArchiveSearch(words="acme"), export_format="eml")

    assert job.state == ExportJob.State.QUEUED
    access = LogEntry.objects.get(action=LogEntry.Action.ACCESS, actor=officer)
    assert access.additional_data["archive_access"] == "export_requested"
    assert access.additional_data["job"] == job.pk
    assert "acme" not in table_text("archive_exportjob").lower()


def test_an_unknown_format_is_refused(officer):
    with pytest.raises(ValueError, match="Unknown export format"):
        export_job_request(user=officer, search=ArchiveSearch(), export_format="pdf")


def test_the_worker_runs_the_job_to_done_and_the_officer_downloads_the_zip_it_sealed(officer, trade, monkeypatch):
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 1)
    job = export_job_request(user=officer, search=ArchiveSearch(words="acme"), export_format="eml")

    report = export_jobs_step()

    job.refresh_from_db()
    assert report.ran.pk == job.pk
    assert job.state == ExportJob.State.DONE
    assert job.entries_total == job.entries_done > 0
    assert b"ACME" not in export_file_path(job).read_bytes()  # sealed at rest
    exported = downloaded(officer, job)
    assert zip_export_problems(exported.fp, public_key_hex()) == []
    mails = [message_from_bytes(exported.read(name)).as_string() for name in exported.namelist() if ".eml" in name]
    assert any("Buy 600 ACME before the call" in mail for mail in mails)
    actions = list(
        LogEntry.objects.filter(action=LogEntry.Action.ACCESS).values_list("additional_data__archive_access", flat=True)
    )
    assert sorted(actions) == ["export", "export_download", "export_requested"]


def test_progress_is_written_while_the_export_runs(officer, trade, monkeypatch):
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 1)
    job = export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")
    seen = []
    real_zip = export_jobs.archive_export_zip

    def watching(**kwargs):
        progress = kwargs["progress"]

        def progress_and_look(count):
            progress(count)
            seen.append(ExportJob.objects.values_list("state", "entries_done", "entries_total").get(pk=job.pk))

        return real_zip(**{**kwargs, "progress": progress_and_look})

    monkeypatch.setattr(export_jobs, "archive_export_zip", watching)

    export_jobs_step()

    assert [done for _, done, _ in seen] == list(range(1, len(seen) + 1))
    assert {state for state, _, _ in seen} == {"running"}
    assert seen[0][2] == len(seen)


def test_nobody_but_the_officer_who_asked_downloads_or_sees_the_export(officer, trade):
    other_officer = UserFactory(username="pete")
    job = export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")
    export_jobs_step()

    with pytest.raises(ExportJob.DoesNotExist):
        export_download(user=other_officer, job_id=job.pk)
    assert list(export_jobs.export_jobs_of(user=other_officer)) == []


def test_a_download_of_a_file_with_a_changed_chunk_is_refused(officer, trade):
    job = export_job_request(user=officer, search=ArchiveSearch(), export_format="eml")
    export_jobs_step()
    path = export_file_path(job)
    stored = bytearray(path.read_bytes())
    stored[len(stored) // 2] ^= 1
    path.write_bytes(bytes(stored))

    with pytest.raises(ExportUnavailable, match="does not open") as refused:
        export_download(user=officer, job_id=job.pk)
    assert refused.value.status == 409


def test_a_download_of_a_truncated_file_is_refused(officer, trade):
    job = export_job_request(user=officer, search=ArchiveSearch(), export_format="eml")
    export_jobs_step()
    path = export_file_path(job)
    path.write_bytes(path.read_bytes()[:-40])

    with pytest.raises(ExportUnavailable, match="truncated"):
        export_download(user=officer, job_id=job.pk)


def test_a_download_of_another_exports_file_is_refused(officer, trade):
    first = export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")
    second = export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")
    export_jobs_step()
    export_jobs_step()
    export_file_path(second).write_bytes(export_file_path(first).read_bytes())

    with pytest.raises(ExportUnavailable, match="does not open"):
        export_download(user=officer, job_id=second.pk)


def test_a_queued_job_cannot_be_downloaded_yet(officer):
    job = export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")

    with pytest.raises(ExportUnavailable, match="queued") as refused:
        export_download(user=officer, job_id=job.pk)
    assert refused.value.status == 409


def test_a_job_lost_with_its_worker_is_queued_again_then_failed_not_left_running(officer, trade):
    job = export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")
    claimed = export_job_claim()  # and the worker dies here
    assert claimed.pk == job.pk
    later = timezone.now() + export_jobs.STALE_AFTER + timedelta(seconds=1)

    assert export_jobs_recover_lost(now=later) == (1, 0)
    job.refresh_from_db()
    assert job.state == ExportJob.State.QUEUED

    export_job_claim()  # dies again
    assert export_jobs_recover_lost(now=later + export_jobs.STALE_AFTER * 2) == (0, 1)
    job.refresh_from_db()
    assert job.state == ExportJob.State.FAILED
    assert "stopped while running" in job.error


def test_a_running_job_with_a_recent_heartbeat_is_left_alone(officer):
    export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")
    export_job_claim()

    assert export_jobs_recover_lost() == (0, 0)
    assert ExportJob.objects.get().state == ExportJob.State.RUNNING


def test_an_export_that_cannot_be_made_fails_with_the_reason(officer, trade):
    from archive.models import ArchiveEntry
    from archive.tests.tampering import swap_payload_of

    first, second = ArchiveEntry.objects.filter(event_type="message_sent").order_by("pk")[:2]
    swap_payload_of(second.pk, with_payload_of=first.pk)
    job = export_job_request(user=officer, search=ArchiveSearch(), export_format="eml")

    export_jobs_step()

    job.refresh_from_db()
    assert job.state == ExportJob.State.FAILED
    assert "does not open" in job.error
    assert list(export_file_path(job).parent.iterdir()) == []  # nothing partial left behind


def test_exports_older_than_the_keep_days_are_deleted_and_say_so(officer, trade, settings):
    settings.PARLEY_EXPORT_KEEP_DAYS = 7
    job = export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")
    export_jobs_step()
    job.refresh_from_db()

    assert export_jobs_expire(now=job.finished_at + timedelta(days=6)) == 0
    assert export_jobs_expire(now=job.finished_at + timedelta(days=7, seconds=1)) == 1

    job.refresh_from_db()
    assert job.state == ExportJob.State.EXPIRED
    assert not export_file_path(job).exists()
    with pytest.raises(ExportUnavailable, match="expired") as refused:
        export_download(user=officer, job_id=job.pk)
    assert refused.value.status == 410
    assert json.loads(job.criteria)["words"] == ""


@pytest.mark.django_db(transaction=True)
def test_a_long_running_export_keeps_its_heartbeat_going_so_it_is_not_taken_for_lost(officer, trade, monkeypatch):
    monkeypatch.setattr(export_jobs, "HEARTBEAT_SECONDS", 0.05)
    job = export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")
    beats = []
    real_zip = export_jobs.archive_export_zip

    def slow(**kwargs):
        started = ExportJob.objects.get(pk=job.pk).heartbeat_at
        __import__("time").sleep(0.5)  # an export busy before its first entry: no progress written
        beats.append(ExportJob.objects.get(pk=job.pk).heartbeat_at - started)
        return real_zip(**kwargs)

    monkeypatch.setattr(export_jobs, "archive_export_zip", slow)

    export_jobs_step()

    assert beats[0] > timedelta(seconds=0.2)
    assert ExportJob.objects.get(pk=job.pk).state == ExportJob.State.DONE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_job_another_worker_holds_is_skipped_not_waited_for(officer):
    import threading

    from django.db import connection, transaction

    first = export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")
    second = export_job_request(user=officer, search=ArchiveSearch(), export_format="csv")
    holding, release = threading.Event(), threading.Event()

    def another_worker_claiming_the_first() -> None:
        try:
            with transaction.atomic():
                ExportJob.objects.select_for_update().get(pk=first.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=another_worker_claiming_the_first)
    other.start()
    assert holding.wait(10)
    try:
        claimed = export_job_claim()  # returns at once: SKIP LOCKED, no wait for the other transaction
    finally:
        release.set()
        other.join()

    assert claimed.pk == second.pk
    assert ExportJob.objects.get(pk=first.pk).state == ExportJob.State.QUEUED
