"""An export verifies with the standalone verifier and the public key alone; tampering with it is found."""

import base64
import json
import subprocess
import sys

import pytest
from django.core.management import call_command

from accounts.tests.factories import UserFactory
from archive import signing
from archive.verify_export import verify
from core.testing import BASE_DIR
from messenger import services
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def export_lines(tmp_path):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = room_with(alice, bob)
    message = send(alice, room, "quarterly numbers")
    services.message_edit(editor=alice, message_id=message.pk, body="quarterly numbers (final)")
    send(bob, room_with(bob), "notes to self")
    path = tmp_path / "export.jsonl"
    call_command("export_archive", str(path), "--requested-by", "compliance")
    return path, path.read_text().splitlines()


def test_an_export_verifies_with_the_standalone_script_and_the_public_key(export_lines):
    path, lines = export_lines

    result = subprocess.run(
        [sys.executable, str(BASE_DIR / "archive" / "verify_export.py"), str(path), signing.public_key_hex()],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "export intact" in result.stdout
    records = [json.loads(line) for line in lines]
    assert records[0]["header"]["requested_by"] == "compliance"
    bodies = [r["entry"]["content"].get("body") for r in records if "entry" in r]
    assert "quarterly numbers" in bodies


def test_an_edited_export_line_is_found(export_lines):
    _, lines = export_lines
    tampered = [line.replace("quarterly numbers (final)", "nothing to see") for line in lines]

    assert any("does not match its hash" in problem for problem in verify(tampered, signing.public_key_hex()))


def test_a_dropped_export_line_is_found(export_lines):
    _, lines = export_lines
    entry_lines = [index for index, line in enumerate(lines) if '"entry"' in line]
    without_second = lines[: entry_lines[1]] + lines[entry_lines[1] + 1 :]

    assert any("does not follow" in problem for problem in verify(without_second, signing.public_key_hex()))


def test_the_wrong_public_key_fails_every_checkpoint(export_lines):
    _, lines = export_lines
    other_key = "ab" * 32

    assert any("signature is not valid" in problem for problem in verify(lines, other_key))


@pytest.fixture
def export_with_a_file(tmp_path, settings):
    from messenger.files import file_share

    settings.PARLEY_CLAMD_ADDRESS = ""  # the scan itself is tested against a real clamd in messenger/tests
    settings.MEDIA_ROOT = tmp_path / "media"
    alice = UserFactory(username="alice")
    file_share(
        sender=alice,
        conversation_id=room_with(alice).pk,
        client_id="c1",
        name="deal.xlsx",
        content_type="",
        data=b"figures",
    )
    path = tmp_path / "export.jsonl"
    call_command("export_archive", str(path))
    return path.read_text().splitlines()


def file_lines(lines: list[str]) -> list[int]:
    return [index for index, line in enumerate(lines) if line.startswith('{"file"')]


def test_an_export_carries_each_shared_file_and_the_verifier_checks_it(export_with_a_file):
    lines = export_with_a_file
    (index,) = file_lines(lines)

    assert base64.b64decode(json.loads(lines[index])["file"]["data"]) == b"figures"
    assert verify(lines, signing.public_key_hex()) == []


def test_a_swapped_or_missing_file_is_found(export_with_a_file):
    lines = export_with_a_file
    (index,) = file_lines(lines)
    record = json.loads(lines[index])
    record["file"]["data"] = base64.b64encode(b"other figures").decode()
    swapped = [*lines[:index], json.dumps(record), *lines[index + 1 :]]
    missing = [*lines[:index], *lines[index + 1 :]]

    assert any("not the one that was shared" in problem for problem in verify(swapped, signing.public_key_hex()))
    assert any("not in the export" in problem for problem in verify(missing, signing.public_key_hex()))


def test_a_file_missing_from_storage_refuses_the_export_by_its_position_leaving_no_file_and_sealing_nothing(
    tmp_path, settings
):
    from django.core.management.base import CommandError

    from archive.models import ArchiveCheckpoint, ArchiveEntry, EventType
    from messenger.files import file_share

    settings.PARLEY_CLAMD_ADDRESS = ""
    settings.MEDIA_ROOT = tmp_path / "media"
    alice = UserFactory(username="alice")
    room = room_with(alice)
    message = file_share(
        sender=alice, conversation_id=room.pk, client_id="c1", name="deal.xlsx", content_type="", data=b"figures"
    )
    message.attachment.file.storage.delete(message.attachment.file.name)  # lost from the disk
    position = ArchiveEntry.objects.get(conversation_id=room.pk, event_type=EventType.FILE_SHARED).position
    checkpoints_before = ArchiveCheckpoint.objects.count()
    path = tmp_path / "export.jsonl"

    with pytest.raises(CommandError) as refused:
        call_command("export_archive", str(path))

    assert f"Conversation {room.pk} position {position}" in str(refused.value)
    assert list(tmp_path.glob("*.jsonl*")) == [] and list(tmp_path.glob(".export*")) == []
    assert ArchiveCheckpoint.objects.count() == checkpoints_before


def test_an_export_from_the_command_line_is_in_the_audit_log(export_lines):
    from auditlog.models import LogEntry

    path, _ = export_lines

    (record,) = LogEntry.objects.filter(additional_data__archive_access="export")
    assert record.actor is None
    assert record.additional_data["via"] == "command line"
    assert record.additional_data["requested_by"] == "compliance"
    assert record.additional_data["output"] == str(path)
    assert record.additional_data["entries"] > 0


def test_an_export_after_several_retention_runs_verifies_and_a_dropped_purge_record_is_found(tmp_path, settings):
    from datetime import timedelta

    from django.utils import timezone

    from archive.retention import apply_retention

    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    later = timezone.now() + timedelta(days=2201)
    alice = UserFactory(username="alice")
    room = room_with(alice)
    for body in ("a", "b", "c"):
        send(alice, room, body)
        apply_retention(now=later)  # each run cuts after the purge records the earlier runs left
    send(alice, room, "still here")
    path = tmp_path / "export.jsonl"
    call_command("export_archive", str(path), "--requested-by", "compliance")
    lines = path.read_text().splitlines()
    purge_lines = [index for index, line in enumerate(lines) if '"event": "purge"' in line]
    without_second_purge = lines[: purge_lines[1]] + lines[purge_lines[1] + 1 :]

    assert len(purge_lines) == 3
    assert verify(lines, signing.public_key_hex()) == []
    assert any("does not follow" in problem for problem in verify(without_second_purge, signing.public_key_hex()))


def test_an_export_whose_last_entries_were_dropped_is_found(export_lines):
    _, lines = export_lines
    entries = [(index, json.loads(line)["entry"]) for index, line in enumerate(lines) if '"entry"' in line]
    longest = max(
        {entry["conversation"] for _, entry in entries}, key=lambda c: sum(e["conversation"] == c for _, e in entries)
    )
    tail = [index for index, entry in entries if entry["conversation"] == longest][-1]
    ends_at = json.loads(lines[tail])["entry"]["position"] - 1

    problems = verify([*lines[:tail], *lines[tail + 1 :]], signing.public_key_hex())

    assert any(
        problem.startswith(f"conversation {longest}: the export ends at position {ends_at}, before position")
        for problem in problems
    )


def test_an_export_without_any_checkpoint_is_refused(export_lines):
    _, lines = export_lines
    stripped = [line for line in lines if not line.startswith('{"checkpoint"')]

    assert "the export carries no checkpoint: nothing signed says where its chains end" in verify(
        stripped, signing.public_key_hex()
    )
