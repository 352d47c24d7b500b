import io

import pytest
from django.core.management import call_command

from accounts.models import User
from accounts.tests import ldap_server
from archive.models import ArchiveCheckpoint

pytestmark = pytest.mark.django_db(transaction=True)  # the worker closes stale connections between jobs

directory = ldap_server.directory  # the company's slapd, Parley configured for it


def test_the_background_worker_seals_a_checkpoint_and_applies_retention(alice, bob, settings, capsys):
    from archive.selectors import entries_in_chain_order
    from archive.tests.factories import old_room
    from messenger.models import Message

    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    expired = old_room(alice, bob, days=2201)
    kept = old_room(alice, bob, days=2199)

    call_command("run_archive_jobs", "--once")

    output = capsys.readouterr().out
    assert ArchiveCheckpoint.objects.filter(reason="hourly").count() == 1
    assert "retention: purged 4 entries" in output  # room_created + 3 messages
    assert [entry.event_type for entry in entries_in_chain_order(conversation_ids=[expired.pk])] == ["purge"]
    assert not Message.objects.filter(conversation=expired).exists()
    assert Message.objects.filter(conversation=kept).count() == 3


def test_a_retention_below_the_floor_is_refused_by_the_worker_and_checkpoints_go_on(capsys):
    from archive.models import RetentionPolicy

    RetentionPolicy.objects.create(name="ruinous", scope="default", archive_days=0)  # behind the services' back

    call_command("run_archive_jobs", "--once")

    captured = capsys.readouterr()
    assert ArchiveCheckpoint.objects.filter(reason="hourly").count() == 1
    assert "retention refused: Retention policy 'ruinous' keeps 0 days" in captured.err
    assert "retention: purged" not in captured.out


def test_the_background_worker_checks_new_messages_against_the_lexicons(capsys):
    from accounts.tests.factories import UserFactory
    from archive.models import Lexicon, SupervisionItem
    from messenger.tests.factories import room_with, send

    Lexicon.objects.create(name="promises", words="guarantee", risk="high")
    alice = UserFactory(username="alice")
    message = send(alice, room_with(alice), "I guarantee it")

    call_command("run_archive_jobs", "--once")

    assert SupervisionItem.objects.get().message_id == message.pk
    assert "flagged 1" in capsys.readouterr().out


def test_the_background_worker_runs_a_queued_export(capsys):
    from accounts.tests.factories import UserFactory
    from archive.export_jobs import export_job_request
    from archive.models import ExportJob
    from archive.selectors import ArchiveSearch
    from messenger.tests.factories import room_with, send

    alice = UserFactory(username="alice")
    send(alice, room_with(alice), "hello")
    job = export_job_request(user=UserFactory(username="olga"), search=ArchiveSearch(), export_format="jsonl")

    call_command("run_archive_jobs", "--once")

    job.refresh_from_db()
    assert job.state == ExportJob.State.DONE
    assert f"export {job.pk}: done" in capsys.readouterr().out


def test_the_background_worker_sends_the_previous_day_to_the_scheduled_target(capsys, settings, tmp_path):
    from django.utils import timezone

    settings.PARLEY_SCHEDULED_EXPORT_TARGET = str(tmp_path / "archiver")

    call_command("run_archive_jobs", "--once")

    yesterday = timezone.localdate() - timezone.timedelta(days=1)
    assert f"scheduled export of {yesterday}: done" in capsys.readouterr().out
    assert (tmp_path / "archiver" / f"parley-{yesterday}-eml.zip").exists()


def test_a_misconfigured_scheduled_export_is_reported_and_the_worker_goes_on(capsys, settings):
    settings.PARLEY_SCHEDULED_EXPORT_TARGET = "relative/dir"

    call_command("run_archive_jobs", "--once")

    captured = capsys.readouterr()
    assert "scheduled export refused: PARLEY_SCHEDULED_EXPORT_TARGET='relative/dir'" in captured.err
    assert ArchiveCheckpoint.objects.filter(reason="hourly").count() == 1


def test_with_ldap_configured_the_worker_syncs_the_directory(directory, capsys):
    call_command("run_archive_jobs", "--once")

    assert "directory sync: Imported: 4 created" in capsys.readouterr().out
    assert User.objects.filter(directory_source="ldap", is_active=True).count() == 4


def test_without_ldap_the_worker_leaves_accounts_alone(capsys):
    call_command("run_archive_jobs", "--once")

    assert "directory sync" not in capsys.readouterr().out


# ---- the worker running: exports in their own lane, failures survived, SIGTERM-style stop ---------------------


def test_a_long_export_holds_up_no_checkpoint_and_a_failing_job_is_tried_again(monkeypatch):
    """While an export runs (held here until released), the other lane goes on sealing checkpoints; supervision
    failing once (the database away, say) is logged and runs again when next due."""
    import threading
    import time

    from archive.management.commands import run_archive_jobs

    export_running, release_export, supervision_runs = threading.Event(), threading.Event(), []
    export_jobs_step, supervision_step = run_archive_jobs.export_jobs_step, run_archive_jobs.supervision_step

    def a_long_export():
        export_running.set()
        assert release_export.wait(timeout=60)
        return export_jobs_step()

    def failing_the_first_time():
        supervision_runs.append(threading.current_thread().name)
        if len(supervision_runs) == 1:
            raise RuntimeError("the database went away")
        return supervision_step()

    monkeypatch.setattr(run_archive_jobs, "export_jobs_step", a_long_export)
    monkeypatch.setattr(run_archive_jobs, "supervision_step", failing_the_first_time)
    errors = io.StringIO()
    worker = run_archive_jobs.Command(stdout=io.StringIO(), stderr=errors)
    running = threading.Thread(
        target=call_command, args=(worker, "--checkpoint-every", "1", "--supervise-every", "1"), daemon=True
    )
    running.start()
    try:
        assert export_running.wait(timeout=30)
        given_up_at = time.monotonic() + 30  # a deadline for "never", not a speed: each job is due every second
        while ArchiveCheckpoint.objects.filter(reason="hourly").count() < 2 or len(supervision_runs) < 2:
            assert running.is_alive(), errors.getvalue()
            assert time.monotonic() < given_up_at, "the other jobs stood still while the export ran"
            worker.stopping.wait(0.1)
        assert not release_export.is_set()  # all of it while the export was still running
    finally:
        release_export.set()
        worker.stopping.set()
        running.join(timeout=30)

    assert not running.is_alive()
    assert "supervision failed; trying again in 1 s" in errors.getvalue()


def test_once_a_failing_job_is_the_exit_status_after_the_others_ran(monkeypatch):
    from django.core.management.base import CommandError

    from archive.management.commands import run_archive_jobs

    def broken():
        raise RuntimeError("the database went away")

    monkeypatch.setattr(run_archive_jobs, "supervision_step", broken)

    with pytest.raises(CommandError, match="supervision failed"):
        call_command("run_archive_jobs", "--once")

    assert ArchiveCheckpoint.objects.filter(reason="hourly").count() == 1  # the jobs after it ran
