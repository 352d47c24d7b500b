"""The daily export of the previous day to a directory or a real SFTP server: each day once, missed days caught up,
failed days tried again, files renamed into place whole, and an SFTP host whose key is not pinned refused."""

import hashlib
import io
import zipfile
from datetime import datetime, time, timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from accounts.tests.factories import UserFactory
from archive import signing
from archive.formats import zip_export_problems
from archive.models import ScheduledExportRun
from archive.scheduled_exports import (
    RETRY_AFTER,
    ScheduledExportMisconfigured,
    scheduled_export_step,
    scheduled_export_target,
)
from core.testing import start_sftp_server
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


def one_in_the_morning(days_from_today: int) -> datetime:
    day = timezone.localdate() + timedelta(days=days_from_today)
    return timezone.make_aware(datetime.combine(day, time(1, 0)))


@pytest.fixture
def trade():
    alice = UserFactory(username="alice")
    send(alice, room_with(alice, UserFactory(username="bob"), name="desk"), "Buy 600 ACME before the call")


@pytest.fixture
def to_directory(settings, tmp_path):
    settings.PARLEY_SCHEDULED_EXPORT_TARGET = str(tmp_path / "archiver")
    settings.PARLEY_SCHEDULED_EXPORT_FORMAT = "eml"
    return tmp_path / "archiver"


def said_in(data: bytes) -> list[str]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert zip_export_problems(io.BytesIO(data), signing.public_key_hex()) == []
    said = []
    for name in archive.namelist():
        if name.endswith(".eml"):
            day = message_from_bytes(archive.read(name), policy=default)
            said += [part.get_content().get_body(("plain",)).get_content().strip() for part in day.iter_parts()]
    return said


def test_nothing_is_exported_without_a_target(trade):
    assert scheduled_export_step(now=one_in_the_morning(1)) == []
    assert not ScheduledExportRun.objects.exists()


def test_the_previous_day_goes_to_the_directory_once_whole_and_recorded(trade, to_directory):
    today = timezone.localdate()

    (run,) = scheduled_export_step(now=one_in_the_morning(1))
    again = scheduled_export_step(now=one_in_the_morning(1) + timedelta(hours=5))

    assert again == []
    assert (run.day, run.state, run.target) == (today, "done", str(to_directory))
    assert sorted(path.name for path in to_directory.iterdir()) == [f"parley-{today}-eml.zip"]  # no .partial left
    data = (to_directory / run.file_name).read_bytes()
    assert run.size == len(data) and run.sha256 == hashlib.sha256(data).hexdigest()
    assert said_in(data) == ["Buy 600 ACME before the call"]
    logged = LogEntry.objects.get(action=LogEntry.Action.ACCESS, additional_data__via="scheduled export")
    assert logged.additional_data["day"] == today.isoformat() and logged.actor is None


def test_days_missed_while_the_worker_was_down_are_caught_up_in_order_and_none_repeated(trade, to_directory):
    today = timezone.localdate()
    scheduled_export_step(now=one_in_the_morning(1))

    caught_up = scheduled_export_step(now=one_in_the_morning(4))

    assert [run.day for run in caught_up] == [today + timedelta(days=n) for n in (1, 2, 3)]
    assert list(ScheduledExportRun.objects.order_by("day").values_list("day", flat=True)) == [
        today + timedelta(days=n) for n in range(4)
    ]
    assert said_in((to_directory / f"parley-{today + timedelta(days=2)}-eml.zip").read_bytes()) == []  # a quiet day
    assert scheduled_export_step(now=one_in_the_morning(4)) == []


def test_a_failed_day_is_tried_again_later_and_later_days_wait_for_it(trade, to_directory):
    to_directory.parent.mkdir(exist_ok=True)
    to_directory.write_text("a file where the directory should be")
    today = timezone.localdate()

    (failed,) = scheduled_export_step(now=one_in_the_morning(1))
    assert (failed.day, failed.state) == (today, "failed") and "FileExistsError" in failed.error
    assert scheduled_export_step(now=one_in_the_morning(2)) == []  # not before RETRY_AFTER, and nothing after it

    to_directory.unlink()
    ScheduledExportRun.objects.filter(pk=failed.pk).update(finished_at=failed.finished_at - RETRY_AFTER)
    runs = scheduled_export_step(now=one_in_the_morning(2))

    assert [(run.day, run.state) for run in runs] == [(today, "done"), (today + timedelta(days=1), "done")]
    assert ScheduledExportRun.objects.get(day=today).attempts == 2


def test_a_misconfigured_target_is_refused_with_a_reason(settings, tmp_path):
    for target, reason in [
        ("relative/dir", "absolute"),
        ("ftp://host/dir", "a directory or sftp://"),
        ("sftp://user:secret@host/dir", "password"),
        ("sftp://host/dir", "with a user"),
        ("sftp://user@host:22/dir", "PARLEY_SCHEDULED_EXPORT_SSH_KEY"),
    ]:
        settings.PARLEY_SCHEDULED_EXPORT_TARGET = target
        with pytest.raises(ScheduledExportMisconfigured, match=reason):
            scheduled_export_target()
    settings.PARLEY_SCHEDULED_EXPORT_TARGET = str(tmp_path)
    settings.PARLEY_SCHEDULED_EXPORT_FORMAT = "pdf"
    with pytest.raises(ScheduledExportMisconfigured, match="PARLEY_SCHEDULED_EXPORT_FORMAT"):
        scheduled_export_target()


# ---- a real OpenSSH server ----------------------------------------------------------------------------------


@pytest.fixture
def sftp_server(tmp_path):
    server = start_sftp_server(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def to_sftp(settings, sftp_server):
    settings.PARLEY_SCHEDULED_EXPORT_TARGET = sftp_server.url
    settings.PARLEY_SCHEDULED_EXPORT_FORMAT = "eml"
    settings.PARLEY_SCHEDULED_EXPORT_SSH_KEY = str(sftp_server.client_key)
    settings.PARLEY_SCHEDULED_EXPORT_KNOWN_HOSTS = str(sftp_server.known_hosts)
    return sftp_server


def test_the_previous_day_goes_to_the_sftp_server_whole_under_its_name(trade, to_sftp):
    today = timezone.localdate()

    (run,) = scheduled_export_step(now=one_in_the_morning(1))

    assert run.state == "done", run.error + to_sftp.log()
    assert run.target == to_sftp.url
    assert sorted(path.name for path in to_sftp.root.iterdir()) == [f"parley-{today}-eml.zip"]
    data = (to_sftp.root / run.file_name).read_bytes()
    assert run.sha256 == hashlib.sha256(data).hexdigest()
    assert said_in(data) == ["Buy 600 ACME before the call"]


def test_an_sftp_server_whose_host_key_is_not_pinned_is_refused_and_nothing_is_sent(trade, to_sftp, tmp_path):
    other_host = to_sftp.known_hosts.read_text().replace("127.0.0.1", "127.0.0.2")  # pinned for another host only
    to_sftp.known_hosts.write_text(other_host)

    (run,) = scheduled_export_step(now=one_in_the_morning(1))

    assert run.state == "failed"
    assert "not found in known_hosts" in run.error
    assert list(to_sftp.root.iterdir()) == []


def test_an_sftp_server_presenting_another_key_than_the_pinned_one_is_refused(trade, to_sftp, tmp_path):
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "impostor")], check=True)
    impostor = (tmp_path / "impostor.pub").read_text().split()
    to_sftp.known_hosts.write_text(f"[127.0.0.1]:{to_sftp.port} {impostor[0]} {impostor[1]}\n")

    (run,) = scheduled_export_step(now=one_in_the_morning(1))

    assert run.state == "failed"
    assert "BadHostKeyException" in run.error
    assert list(to_sftp.root.iterdir()) == []
