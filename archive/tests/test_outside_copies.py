"""Checkpoints are also kept outside the database, once and for good, and `verify_archive --checkpoints` finds
with them what someone able to write the database can otherwise cut, rewind or delete unseen."""

import hashlib
import json
import logging
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from prometheus_client import REGISTRY

from accounts.tests.factories import UserFactory
from archive import signing
from archive.checkpoints import archive_checkpoint_create
from archive.models import ArchiveCheckpoint, ArchiveEntry
from archive.outside import checkpoint_copy_write, copy_paths
from archive.tests.tampering import ARCHIVE_TABLES, tamper
from archive.verification import archive_verify
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def room():
    """A room with a creation entry and five messages: positions 1..6."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = room_with(alice, bob)
    for index in range(5):
        send(alice if index % 2 else bob, room, f"message {index}")
    return room


@pytest.fixture
def outside_dir(settings) -> Path:
    return Path(settings.PARLEY_CHECKPOINT_DIR)


@pytest.fixture
def sealed(django_capture_on_commit_callbacks):
    """Seal a checkpoint and run what its commit runs (the outside copy), as a committed checkpoint would."""

    def seal(reason: str = "hourly") -> ArchiveCheckpoint:
        with django_capture_on_commit_callbacks(execute=True):
            return archive_checkpoint_create(reason=reason)

    return seal


def copies(directory: Path) -> dict[int, dict]:
    return {checkpoint_id: json.loads(path.read_text())["checkpoint"] for checkpoint_id, path in copy_paths(directory)}


def failures() -> float:
    return REGISTRY.get_sample_value("parley_checkpoint_copy_failures_total")


# ---- writing the copies -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_committed_checkpoint_is_copied_outside_and_the_copy_verifies_on_its_own(room, outside_dir):
    checkpoint = archive_checkpoint_create(reason="hourly")

    [(checkpoint_id, path)] = copy_paths(outside_dir)
    record = json.loads(path.read_text())["checkpoint"]
    assert checkpoint_id == record["id"] == checkpoint.pk
    assert path.name == f"checkpoint-{checkpoint.pk:012d}-{checkpoint.document_hash}.json"
    # What an auditor does with the file and the public key alone:
    assert hashlib.sha256(record["document"].encode()).hexdigest() == record["document_hash"]
    assert record["public_key"] == signing.public_key_hex()
    assert signing.signature_is_valid(
        public_key=record["public_key"], document=record["document"].encode(), signature=record["signature"]
    )
    assert [head[:2] for head in json.loads(record["document"])["heads"]] == [[room.pk, 6]]
    assert path.stat().st_mode & 0o222 == 0  # created read-only


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_checkpoint_leaves_no_copy_outside(room, outside_dir):
    with pytest.raises(RuntimeError), transaction.atomic():
        archive_checkpoint_create(reason="export")
        raise RuntimeError("the export failed after sealing")

    assert ArchiveCheckpoint.objects.count() == 0
    assert copy_paths(outside_dir) == []


def test_a_copy_is_written_once_and_never_overwritten(room, outside_dir, sealed, caplog):
    checkpoint = sealed()
    [(_, path)] = copy_paths(outside_dir)
    original = path.read_bytes()

    assert checkpoint_copy_write(checkpoint)  # again (copy-missing after a crash, say): the same bytes, kept
    assert path.read_bytes() == original

    before = failures()
    checkpoint.signature = "00" * 64  # a different copy under the same name
    assert not checkpoint_copy_write(checkpoint)

    assert path.read_bytes() == original
    assert failures() == before + 1
    assert "CHECKPOINT NOT COPIED OUTSIDE" in caplog.text


def test_a_failed_outside_write_is_logged_counted_and_written_later_by_copy_missing(
    room, settings, tmp_path, sealed, caplog, capsys
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the mount should be")
    settings.PARLEY_CHECKPOINT_DIR = blocker / "checkpoints"
    before = failures()

    with caplog.at_level(logging.ERROR, logger="archive.outside"):
        checkpoint = sealed()

    assert ArchiveCheckpoint.objects.get() == checkpoint  # the checkpoint stands
    assert failures() == before + 1
    assert f"CHECKPOINT NOT COPIED OUTSIDE: checkpoint {checkpoint.pk}" in caplog.text
    with pytest.raises(CommandError, match="1 checkpoint"):
        call_command("archive_checkpoint", "--copy-missing")

    settings.PARLEY_CHECKPOINT_DIR = tmp_path / "checkpoints"  # the mount is back
    call_command("archive_checkpoint", "--copy-missing")

    assert "wrote 1 missing outside copies" in capsys.readouterr().out
    assert list(copies(tmp_path / "checkpoints")) == [checkpoint.pk]


def test_each_checkpoint_is_mailed_to_the_designated_third_party_when_configured(room, settings, sealed, mailoutbox):
    sealed()
    assert mailoutbox == []

    settings.PARLEY_CHECKPOINT_MAIL_TO = ["archive-custodian@thirdparty.example"]
    checkpoint = sealed()

    [mail] = mailoutbox
    assert mail.to == ["archive-custodian@thirdparty.example"]
    assert f"checkpoint {checkpoint.pk}" in mail.subject
    [(name, content, mimetype)] = mail.attachments
    assert mimetype == "application/json"
    assert name == f"checkpoint-{checkpoint.pk:012d}-{checkpoint.document_hash}.json"
    assert json.loads(content)["checkpoint"]["signature"] == checkpoint.signature


# ---- checking the database against them ---------------------------------------------------------------------


def test_a_cut_tail_a_rewound_head_and_deleted_checkpoints_pass_without_the_copies_and_are_named_with_them(
    room, outside_dir, sealed, capsys
):
    """The issue's attack, as a superuser (or the tables' owner) would do it: raw SQL, triggers off."""
    alice = room.memberships.get(user__username="alice").user
    sealed()  # seals positions 1..6
    cut = [send(alice, room, "approve the trade?"), send(alice, room, "done")]  # positions 7, 8
    second, third = sealed(), sealed()
    kept = ArchiveEntry.objects.get(conversation_id=room.pk, position=6)

    tamper(
        f"DELETE FROM archive_archiveentry WHERE conversation_id = {room.pk} AND position > 6",
        f"DELETE FROM messenger_message WHERE id IN ({cut[0].pk}, {cut[1].pk})",
        f"UPDATE archive_archivechain SET position = 6, sealed_position = 6, head_hash = '{kept.entry_hash}' "
        f"WHERE conversation_id = {room.pk}",
        f"DELETE FROM archive_archivecheckpoint WHERE id >= {second.pk}",
        tables=ARCHIVE_TABLES,
    )

    call_command("verify_archive", "--no-progress")
    assert capsys.readouterr().out.splitlines()[-1] == "archive intact"  # what the database alone can show

    with pytest.raises(CommandError, match="archive verification failed: 4 problem"):
        call_command("verify_archive", "--no-progress", "--checkpoints", str(outside_dir))
    output = capsys.readouterr().out
    assert f"checkpoint {second.pk}: deleted from the database (its outside copy checkpoint-" in output
    assert f"checkpoint {third.pk}: deleted from the database" in output
    assert (
        f"checkpoint at conversation {room.pk}, position 8: checkpoint {second.pk}: sealed conversation {room.pk} "
        "at position 8, which no longer matches" in output
    )
    assert (
        f"rewound at conversation {room.pk}, position 8: checkpoint {second.pk}: sealed conversation {room.pk} at "
        "position 8; its chain head was moved back to position 6" in output
    )


def test_a_tail_cut_by_retention_is_vouched_for_and_not_reported(room, outside_dir, sealed, settings):
    """The outside copies do not turn a lawful purge into an alarm: the purge record vouches for the cut."""
    from datetime import timedelta

    from django.utils import timezone

    from archive.retention import apply_retention

    sealed()
    apply_retention(now=timezone.now() + timedelta(days=settings.PARLEY_RETENTION_DEFAULT_DAYS + 1))
    sealed()

    report = archive_verify(checkpoint_dir=outside_dir)

    assert report.is_intact, report.problems
    assert report.purged == [(room.pk, 1, 6)]


def test_a_checkpoint_whose_row_was_rewritten_differs_from_its_outside_copy(room, outside_dir, sealed):
    checkpoint = sealed()
    tamper(
        "UPDATE archive_archivecheckpoint SET reason = 'rewritten', document = %s WHERE id = %s",
        params=[checkpoint.document.replace("hourly", "export"), checkpoint.pk],
        tables=ARCHIVE_TABLES,
    )

    details = [problem.detail for problem in archive_verify(checkpoint_dir=outside_dir).problems]

    assert details == [
        f"checkpoint {checkpoint.pk}: its document does not match its hash",
        f"checkpoint {checkpoint.pk}: the database's checkpoint differs from its outside copy",
    ]


def test_checkpoints_not_yet_copied_outside_are_a_warning_not_a_failure(room, outside_dir, sealed, capsys):
    sealed()
    send(room.memberships.first().user, room, "later")
    unsent = [archive_checkpoint_create(reason="hourly"), archive_checkpoint_create(reason="hourly")]  # no commit

    call_command("verify_archive", "--no-progress", "--checkpoints", str(outside_dir))

    lines = capsys.readouterr().out.splitlines()
    assert (
        f"warning: checkpoints {unsent[0].pk}..{unsent[1].pk} (2) are not copied outside: nothing outside the "
        "database vouches for what they sealed yet (run `manage.py archive_checkpoint --copy-missing`)"
    ) in lines
    assert lines[-1] == "archive intact (1 warning(s) above)"


def test_a_damaged_or_forged_outside_copy_is_reported(room, outside_dir, sealed):
    first = sealed()
    send(room.memberships.first().user, room, "later")
    second = sealed()
    [(_, first_path), (_, second_path)] = copy_paths(outside_dir)
    forged = json.loads(second_path.read_text())
    forged["checkpoint"]["document"] = forged["checkpoint"]["document"].replace('"hourly"', '"export"')
    second_path.chmod(0o644)
    second_path.write_text(json.dumps(forged))
    first_path.chmod(0o644)
    first_path.write_text("{not json")

    details = [problem.detail for problem in archive_verify(checkpoint_dir=outside_dir).problems]

    assert details == [
        f"checkpoint {first.pk}: its outside copy is damaged: {first_path.name} is not a readable checkpoint copy "
        "(JSONDecodeError)",
        f"checkpoint {second.pk}: its outside copy: its document does not match its hash",
    ]


def test_verify_archive_refuses_a_checkpoint_directory_that_does_not_exist(room, tmp_path):
    with pytest.raises(CommandError, match="no such directory"):
        call_command("verify_archive", "--no-progress", "--checkpoints", str(tmp_path / "missing"))
