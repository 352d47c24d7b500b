"""An export verifies with the standalone verifier and the public key alone; tampering with it is found."""

import base64
import hashlib
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


# ---- format /2: a signed manifest, people as of the event, a date range with stubs --------------------------


def records_of(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines]


def replaced(lines: list[str], index: int, record: dict) -> list[str]:
    return [*lines[:index], json.dumps(record, ensure_ascii=False), *lines[index + 1 :]]


def problems_of(lines: list[str]) -> list[str]:
    return verify(lines, signing.public_key_hex())


def test_an_export_ends_with_a_manifest_signed_by_the_archive_key_naming_its_query_and_checkpoint(export_lines):
    _, lines = export_lines
    records = records_of(lines)

    signed = records[-1]["manifest"]
    manifest = json.loads(signed["document"])
    assert signing.signature_is_valid(
        public_key=signing.public_key_hex(), document=signed["document"].encode(), signature=signed["signature"]
    )
    assert manifest["format"] == records[0]["header"]["format"] == "parley-archive-export/2"
    assert manifest["query"] == {"conversations": None, "since": None, "until": None, "requested_by": "compliance"}
    last_checkpoint = [record["checkpoint"] for record in records if "checkpoint" in record][-1]
    assert manifest["checkpoint"] == {"id": last_checkpoint["id"], "document_hash": last_checkpoint["document_hash"]}
    assert manifest["counts"]["entries"] == sum("entry" in record for record in records)
    assert set(manifest["sha256"]) == {"export", "header", "entries", "files", "checkpoints", "people", "public_keys"}


def test_an_export_without_its_manifest_is_refused(export_lines):
    _, lines = export_lines

    assert problems_of(lines[:-1]) == ["the export carries no manifest: nothing signed says what the export holds"]


def test_a_line_added_after_the_manifest_is_found(export_lines):
    _, lines = export_lines

    assert "the manifest is not the export's last line: lines were added after it" in problems_of([*lines, lines[1]])


def test_an_edited_header_range_is_found(export_lines):
    _, lines = export_lines
    header = records_of(lines)[0]
    header["header"]["since"] = "2020-01-01T00:00:00+00:00"

    problems = problems_of(replaced(lines, 0, header))

    assert "the header's since is not the query the manifest signed (None)" in problems
    assert "the export's header are not what the manifest signed (lines added, removed or changed)" in problems


def test_an_edited_in_range_mark_is_found(export_lines):
    _, lines = export_lines
    index = next(index for index, line in enumerate(lines) if '"entry"' in line)
    record = records_of(lines)[index]
    record["in_range"] = False
    key = (record["entry"]["conversation"], record["entry"]["position"])

    problems = problems_of(replaced(lines, index, record))

    assert (
        f"conversation {key[0]} position {key[1]}: marked in_range False, but its time is inside the header's range"
        in problems
    )
    assert "the export's entries are not what the manifest signed (lines added, removed or changed)" in problems


def rewritten(lines: list[str], old: str, new: str) -> list[str]:
    """Replace text in entries and recompute every hash and link after it, as someone who knows the format would."""
    from archive.verify_export import canonical

    out, last_hash = [], {}
    for line in lines:
        record = json.loads(line)
        entry = record.get("entry") or record.get("stub")
        if entry is None:
            out.append(line)
            continue
        conversation = entry["conversation"]
        if conversation in last_hash:
            entry["prev"] = last_hash[conversation]
        if "entry" in record:
            entry["content"] = json.loads(json.dumps(entry["content"]).replace(old, new))
            entry["hash"] = hashlib.sha256(canonical(entry)).hexdigest()
        last_hash[conversation] = entry["hash"]
        out.append(json.dumps(record, ensure_ascii=False))
    return out


def test_text_rewritten_with_hashes_recomputed_and_checkpoints_stripped_is_refused(export_lines):
    _, lines = export_lines
    forged = [
        line
        for line in rewritten(lines, "quarterly numbers (final)", "nothing to see")
        if not line.startswith('{"checkpoint"')
    ]

    problems = problems_of(forged)
    without_manifest = problems_of(forged[:-1])

    assert not any("does not match its hash" in problem or "does not follow" in problem for problem in problems)
    assert "the export's entries are not what the manifest signed (lines added, removed or changed)" in problems
    assert "the export carries no checkpoint: nothing signed says where its chains end" in problems
    assert "the export carries no manifest: nothing signed says what the export holds" in without_manifest
    assert "the export carries no checkpoint: nothing signed says where its chains end" in without_manifest


def test_stripped_checkpoints_are_found_by_the_manifest_too(export_lines):
    _, lines = export_lines
    stripped = [line for line in lines if not line.startswith('{"checkpoint"')]

    problems = problems_of(stripped)

    assert "the export's checkpoints are not what the manifest signed (lines added, removed or changed)" in problems
    assert any(problem.startswith("the manifest rests on checkpoint") for problem in problems)


def test_a_dropped_tail_is_found_by_the_manifest_too(export_lines):
    _, lines = export_lines
    last_entry = max(index for index, line in enumerate(lines) if '"entry"' in line)

    problems = problems_of([*lines[:last_entry], *lines[last_entry + 1 :]])

    assert "the export's entries are not what the manifest signed (lines added, removed or changed)" in problems
    assert any(problem.startswith("the export has 4 entries, the manifest signed 5") for problem in problems)


def test_an_edited_people_section_is_found(export_lines):
    _, lines = export_lines
    index = next(index for index, line in enumerate(lines) if line.startswith('{"people"'))
    record = records_of(lines)[index]
    alice = next(person for person, shown in record["people"].items() if shown["username"] == "alice")
    record["people"][alice]["username"] = "mallory"

    problems = problems_of(replaced(lines, index, record))

    assert "the export's people are not what the manifest signed (lines added, removed or changed)" in problems
    assert any(problem.startswith(f"person {alice}: the people section is not who the entry") for problem in problems)


def test_every_entry_seals_who_its_people_were_and_the_export_names_them_as_of_the_event(tmp_path):
    alice, bob = UserFactory(username="alice", display_name="Alice A"), UserFactory(username="bob")
    room = room_with(alice, bob)
    send(alice, room, "before the rename")
    alice.username, alice.display_name, alice.email = "alice.smith", "Alice Smith", "alice.smith@parley.test"
    alice.save()
    path = tmp_path / "export.jsonl"
    call_command("export_archive", str(path))
    records = records_of(path.read_text().splitlines())

    (message,) = [r["entry"] for r in records if "entry" in r and r["entry"]["event"] == "message_sent"]
    (people,) = [r["people"] for r in records if "people" in r]
    assert message["content"]["people"][str(alice.pk)] == {
        "username": "alice",
        "display_name": "Alice A",
        "email": alice_email(records, alice.pk),
    }
    assert people[str(alice.pk)]["username"] == "alice"
    assert people[str(alice.pk)]["as_of"] == message["at"]
    assert people[str(bob.pk)]["username"] == "bob"
    assert problems_of(path.read_text().splitlines()) == []

    send(alice, room, "after the rename")
    call_command("export_archive", str(path))
    records = records_of(path.read_text().splitlines())
    (people,) = [r["people"] for r in records if "people" in r]
    bodies = {
        r["entry"]["content"]["body"]: r["entry"] for r in records if "entry" in r and "body" in r["entry"]["content"]
    }
    assert bodies["before the rename"]["content"]["people"][str(alice.pk)]["username"] == "alice"
    assert bodies["after the rename"]["content"]["people"][str(alice.pk)]["username"] == "alice.smith"
    assert people[str(alice.pk)] == {
        "username": "alice.smith",
        "display_name": "Alice Smith",
        "email": "alice.smith@parley.test",
        "as_of": bodies["after the rename"]["at"],
    }
    assert problems_of(path.read_text().splitlines()) == []


def alice_email(records: list[dict], pk: int) -> str:
    (room,) = [r["entry"] for r in records if "entry" in r and r["entry"]["event"] == "room_created"]
    return room["content"]["people"][str(pk)]["email"]


def test_people_no_exported_entry_sealed_are_shown_as_their_account_at_export(tmp_path, settings):
    from datetime import timedelta

    from django.utils import timezone

    from archive.retention import apply_retention

    settings.PARLEY_RETENTION_DEFAULT_DAYS = 2200
    alice = UserFactory(username="alice")
    send(alice, room_with(alice), "long ago")
    apply_retention(now=timezone.now() + timedelta(days=2201))  # leaves only the purge record, which names no one
    path = tmp_path / "export.jsonl"
    call_command("export_archive", str(path))
    lines = path.read_text().splitlines()

    (people,) = [r["people"] for r in records_of(lines) if "people" in r]
    assert people == {
        str(alice.pk): {
            "username": "alice",
            "display_name": alice.display_name,
            "email": alice.email,
            "as_of": "export",
        }
    }
    assert problems_of(lines) == []


@pytest.fixture
def three_periods(tmp_path):
    """One room talked in three periods (told apart by the moments between them), a second room only in the
    first. Returns the room and the moments that bound the middle period."""
    from django.utils import timezone

    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = room_with(alice, bob)
    other = room_with(alice)
    send(alice, room, "day one")
    send(alice, other, "elsewhere, day one")
    middle_starts = timezone.now()
    send(bob, room, "day two")
    send(alice, room, "day two again")
    middle_ends = timezone.now()
    day_three = send(alice, room, "day three")
    services.message_edit(editor=alice, message_id=day_three.pk, body="day three, edited")
    return room, middle_starts, middle_ends


def test_a_range_export_holds_no_content_outside_the_range_yet_verifies(three_periods, tmp_path):
    room, since, until = three_periods
    path = tmp_path / "range.jsonl"

    call_command("export_archive", str(path), "--since", since.isoformat(), "--until", until.isoformat())

    lines = path.read_text().splitlines()
    records = records_of(lines)
    entries = [r for r in records if "entry" in r]
    stubs = [r["stub"] for r in records if "stub" in r]
    assert [r["entry"]["content"]["body"] for r in entries] == ["day two", "day two again"]
    assert all(r["in_range"] for r in entries)
    assert {r["entry"]["conversation"] for r in entries} == {room.pk}  # the other room said nothing that day
    assert "day one" not in path.read_text() and "day three" not in path.read_text()
    assert [stub["position"] for stub in stubs] == [5, 6]  # day three and its edit: place and hashes only
    assert set(stubs[0]) == {"conversation", "position", "prev", "hash"}
    assert entries[0]["entry"]["position"] == 3 and entries[0]["entry"]["prev"] != "0" * 64
    assert problems_of(lines) == []


def test_a_range_export_whose_stubs_were_dropped_ends_before_its_sealed_head(three_periods, tmp_path):
    room, since, until = three_periods
    path = tmp_path / "range.jsonl"
    call_command("export_archive", str(path), "--since", since.isoformat(), "--until", until.isoformat())
    lines = [line for line in path.read_text().splitlines() if not line.startswith('{"stub"')]

    problems = problems_of(lines)

    assert any(
        problem.startswith(f"conversation {room.pk}: the export ends at position 4, before") for problem in problems
    )


def test_a_whole_export_whose_first_entries_were_dropped_does_not_pass_as_a_range(export_lines):
    _, lines = export_lines
    first = next(index for index, line in enumerate(lines) if '"entry"' in line)
    conversation = json.loads(lines[first])["entry"]["conversation"]

    problems = problems_of([*lines[:first], *lines[first + 1 :]])

    assert any(
        problem.startswith(f"conversation {conversation}: starts at position 2, neither at 1") for problem in problems
    )


def test_the_admin_export_of_a_date_range_verifies_and_its_manifest_signs_the_dates(client, three_periods):
    import io
    import zipfile

    from django.urls import reverse

    from archive.export_jobs import export_jobs_step
    from archive.models import ExportJob
    from core.testing import force_login_with_second_factor

    force_login_with_second_factor(client, UserFactory(username="root", is_staff=True, is_superuser=True))
    _, since, _ = three_periods
    day = since.astimezone(timezone_of_server()).date().isoformat()

    client.post(reverse("admin:archive_archiveentry_export"), {"since": day, "until": day})
    export_jobs_step()  # what the worker does with the queued export
    job = ExportJob.objects.get()
    response = client.get(reverse("admin:archive_archiveentry_export_download", args=[job.pk]))

    exported = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    lines = exported.read("export.jsonl").decode().splitlines()
    manifest = json.loads(records_of(lines)[-1]["manifest"]["document"])
    assert manifest["query"]["requested_by"] == "root"
    assert manifest["query"]["since"].startswith(day) and manifest["query"]["until"].startswith(day)
    assert problems_of(lines) == []


def timezone_of_server():
    from django.utils import timezone

    return timezone.get_current_timezone()
