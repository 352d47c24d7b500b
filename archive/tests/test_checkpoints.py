"""Checkpoints seal chain heads with Ed25519; a forged, altered or untrusted one fails verification."""

import json
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from accounts.tests.factories import UserFactory
from archive import signing
from archive.checkpoints import archive_checkpoint_create
from archive.models import ArchiveCheckpoint
from archive.verification import archive_verify
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def room():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    room = room_with(alice, bob)
    send(alice, room, "one")
    return room


def checkpoint_problems(report):
    return [problem.detail for problem in report.problems if problem.kind == "checkpoint"]


def test_a_checkpoint_seals_the_heads_that_moved_and_verifies(room):
    first = archive_checkpoint_create(reason="hourly")
    unchanged = archive_checkpoint_create(reason="hourly")
    send(room.memberships.first().user, room, "two")
    moved = archive_checkpoint_create(reason="export")

    heads = [json.loads(c.document)["heads"] for c in (first, unchanged, moved)]
    assert heads[0] == [[room.pk, 2, heads[0][0][2]]]
    assert heads[1] == []
    assert [head[:2] for head in heads[2]] == [[room.pk, 3]]
    assert json.loads(moved.document)["prev"] == unchanged.document_hash
    report = archive_verify()
    assert report.is_intact, report.problems
    assert report.checkpoints_checked == 3


def test_the_public_key_command_prints_the_key_checkpoints_are_signed_with(room, capsys):
    checkpoint = archive_checkpoint_create(reason="manual")

    call_command("archive_public_key")

    assert capsys.readouterr().out.strip() == checkpoint.public_key == signing.public_key_hex()


def test_a_forged_checkpoint_inserted_by_sql_is_found(room):
    archive_checkpoint_create(reason="hourly")
    genuine = ArchiveCheckpoint.objects.get()
    forged_document = genuine.document.replace('"hourly"', '"export"')
    ArchiveCheckpoint.objects.create(
        created_at=genuine.created_at,
        reason="export",
        document=forged_document,
        document_hash="f" * 64,
        public_key=genuine.public_key,
        signature=genuine.signature,
    )

    problems = checkpoint_problems(archive_verify())

    assert problems == [f"checkpoint {genuine.pk + 1}: its document does not match its hash"]


def test_a_checkpoint_signed_with_an_untrusted_key_is_found(room, settings):
    archive_checkpoint_create(reason="hourly")
    settings.PARLEY_ARCHIVE_SIGNING_KEY = "A" * 43  # the server's key changed and the old one is not listed

    problems = checkpoint_problems(archive_verify())

    assert problems == [f"checkpoint {ArchiveCheckpoint.objects.get().pk}: signed by a key that is not trusted"]


def test_checkpoints_signed_with_an_earlier_key_verify_only_while_its_public_half_is_listed(room, settings):
    """Key rotation (README: PARLEY_ARCHIVE_PREVIOUS_PUBLIC_KEYS): old checkpoints stay verifiable, on trust."""
    old = archive_checkpoint_create(reason="hourly")
    old_public_key = signing.public_key_hex()
    settings.PARLEY_ARCHIVE_SIGNING_KEY = "A" * 43  # the key is rotated
    send(room.memberships.first().user, room, "after the rotation")
    new = archive_checkpoint_create(reason="hourly")

    settings.PARLEY_ARCHIVE_PREVIOUS_PUBLIC_KEYS = [f" {old_public_key.upper()} "]
    listed = archive_verify()
    settings.PARLEY_ARCHIVE_PREVIOUS_PUBLIC_KEYS = []
    unlisted = archive_verify()

    assert (old.public_key, new.public_key) == (old_public_key, signing.public_key_hex())
    assert old.public_key != new.public_key
    assert listed.is_intact
    assert checkpoint_problems(listed) == []
    assert checkpoint_problems(unlisted) == [f"checkpoint {old.pk}: signed by a key that is not trusted"]


def test_a_re_signed_rewrite_after_a_checkpoint_is_found(room):
    """Someone rewrites the chain consistently (recomputing every hash) after it was sealed."""
    from django.db import connection

    archive_checkpoint_create(reason="hourly")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE archive_archiveentry DISABLE TRIGGER archive_entry_append_only")
        cursor.execute("UPDATE archive_archiveentry SET entry_hash = %s WHERE position = 2", ["0" * 64])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE archive_archiveentry ENABLE TRIGGER archive_entry_append_only")

    problems = checkpoint_problems(archive_verify())

    assert any(f"sealed conversation {room.pk} at position 2" in problem for problem in problems)


def test_a_changed_audit_log_row_after_a_checkpoint_is_found(room):
    from auditlog.models import LogEntry

    from archive.retention import legal_hold_open

    legal_hold_open(by=room.memberships.first().user, case_name="Audit me", reason="r")
    archive_checkpoint_create(reason="hourly")
    LogEntry.objects.filter(object_repr__contains="Audit me").update(changes={"case_name": ["x", "y"]})

    problems = checkpoint_problems(archive_verify())

    assert problems == [f"checkpoint {ArchiveCheckpoint.objects.get().pk}: the audit log it sealed was changed"]


@pytest.mark.parametrize(
    "edit",
    [
        {"additional_data": {"archive_access": "export", "conversation_ids": [1]}},  # which conversations left
        {"remote_addr": "10.9.9.9"},  # from where
        {"object_repr": "something else"},
    ],
)
def test_a_changed_search_or_export_record_after_a_checkpoint_is_found(room, edit):
    """Every column of an audit row is sealed (version 2): before, an edited export list still verified."""
    from auditlog.models import LogEntry

    from archive.services import archive_access_record

    officer = room.memberships.first().user
    archive_access_record(
        user=officer, action="export", details={"criteria": {"words": "merger"}, "conversation_ids": [room.pk]}
    )
    archive_checkpoint_create(reason="hourly")
    LogEntry.objects.filter(additional_data__archive_access="export").update(**edit)

    problems = checkpoint_problems(archive_verify())

    assert problems == [f"checkpoint {ArchiveCheckpoint.objects.get().pk}: the audit log it sealed was changed"]


def test_checkpoints_sealed_with_the_first_audit_digest_still_verify(room, monkeypatch):
    from archive import checkpoints
    from archive.retention import legal_hold_open

    legal_hold_open(by=room.memberships.first().user, case_name="Older", reason="r")
    monkeypatch.setattr(checkpoints, "AUDITLOG_DIGEST_VERSION", 1)
    older = archive_checkpoint_create(reason="hourly")
    monkeypatch.undo()
    legal_hold_open(by=room.memberships.first().user, case_name="Newer", reason="r")
    newer = archive_checkpoint_create(reason="hourly")

    assert [json.loads(c.document)["auditlog"]["digest_version"] for c in (older, newer)] == [1, 2]
    assert checkpoint_problems(archive_verify()) == []


def in_a_thread(work) -> threading.Thread:
    """Start `work` in a thread of its own (with its own database connection, closed at the end)."""

    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def audit_row(action: str):
    """One audit-log row, as a compliance officer's search writes it."""
    from auditlog.models import LogEntry

    from archive.services import archive_access_record

    archive_access_record(user=None, action=action, details={})
    return LogEntry.objects.order_by("-pk").first()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_audit_row_that_commits_after_a_later_one_is_sealed_by_the_checkpoint_that_waits_for_it(room):
    """Ids are handed out at insert, not commit: the checkpoint waits for the row in flight instead of sealing
    its successor without it (which made every later verification fail)."""
    inserted, may_commit = threading.Event(), threading.Event()
    found = {}

    def slow_writer():
        with transaction.atomic():
            found["slow"] = audit_row("search").pk
            inserted.set()
            may_commit.wait(10)

    def sealer():
        found["checkpoint"] = archive_checkpoint_create(reason="hourly")

    writer = in_a_thread(slow_writer)
    try:
        assert inserted.wait(10)
        quick = audit_row("entry_view")  # id N+1, committed first
        checkpointing = in_a_thread(sealer)
        checkpointing.join(0.5)
        assert checkpointing.is_alive(), "the checkpoint did not wait for the audit row in flight"
    finally:
        may_commit.set()
        writer.join(10)
    checkpointing.join(10)

    audit = json.loads(found["checkpoint"].document)["auditlog"]
    assert audit["last_id"] == quick.pk == found["slow"] + 1
    report = archive_verify()
    assert report.is_intact, report.problems


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_leaves_a_chain_a_writer_holds_to_the_next_one_instead_of_deadlocking(room):
    """A writer holding a chain row and about to write an audit row must not wait for a checkpoint that waits
    for that chain row (PostgreSQL would abort one of them as a deadlock)."""
    alice = room.memberships.get(user__username="alice").user
    chain_held, may_go = threading.Event(), threading.Event()
    found = {}

    def writer():
        with transaction.atomic():
            send(alice, room, "while sealing")  # holds the room's chain row until commit
            chain_held.set()
            may_go.wait(10)
            audit_row("search")

    def sealer():
        found["checkpoint"] = archive_checkpoint_create(reason="hourly")

    writing = in_a_thread(writer)
    try:
        assert chain_held.wait(10)
        checkpointing = in_a_thread(sealer)
        checkpointing.join(5)
        assert not checkpointing.is_alive(), "the checkpoint waited for the chain row the writer holds"
    finally:
        may_go.set()
        writing.join(10)
    checkpointing.join(10)

    assert json.loads(found["checkpoint"].document)["heads"] == []  # the room's chain was left for the next
    assert [head[:2] for head in json.loads(archive_checkpoint_create(reason="hourly").document)["heads"]] == [
        [room.pk, 3]
    ]
    report = archive_verify()
    assert report.is_intact, report.problems


@pytest.mark.postgres
def test_audit_rows_deleted_after_the_last_checkpoint_are_found_then_named_by_the_next(room):
    """Every audit row inserted leaves a receipt (a trigger's, not the application's): a row deleted before any
    checkpoint sealed it is found by its receipt."""
    archive_checkpoint_create(reason="hourly")
    kept, deleted, last = audit_row("search"), audit_row("entry_view"), audit_row("export")
    with connection.cursor() as cursor:  # as the audit table's owner can
        cursor.execute("DELETE FROM auditlog_logentry WHERE id IN (%s, %s)", [deleted.pk, last.pk])

    assert checkpoint_problems(archive_verify()) == []
    assert [str(problem) for problem in archive_verify().problems] == [
        f"audit_log: audit-log rows {deleted.pk}, {last.pk} were deleted after the last checkpoint (their receipts "
        "remain)"
    ]

    checkpoint = archive_checkpoint_create(reason="hourly")

    audit = json.loads(checkpoint.document)["auditlog"]
    assert (audit["receipts"], audit["rows"], audit["missing"]) == (3, 1, [deleted.pk, last.pk])
    assert audit["last_id"] == last.pk  # the deleted tail is inside the window
    assert checkpoint_problems(archive_verify()) == [
        f"checkpoint {checkpoint.pk}: audit-log rows {deleted.pk}, {last.pk} were deleted before it sealed them "
        "(their receipts remain)"
    ]
    assert kept.pk < deleted.pk


def test_checkpoints_sealed_before_receipts_were_counted_still_verify(room, monkeypatch):
    from archive import checkpoints

    monkeypatch.setattr(checkpoints, "auditlog_receipts", lambda **window: {})
    older = archive_checkpoint_create(reason="hourly")
    monkeypatch.undo()
    audit_row("search")
    newer = archive_checkpoint_create(reason="hourly")

    assert "receipts" not in json.loads(older.document)["auditlog"]
    assert "receipts" in json.loads(newer.document)["auditlog"]
    assert checkpoint_problems(archive_verify()) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_checkpoints_at_once_take_turns_and_the_second_follows_the_first(room):
    sealed_first, may_commit = threading.Event(), threading.Event()
    found = {}

    def first():
        with transaction.atomic():  # the first checkpoint, not yet committed
            found["first"] = archive_checkpoint_create(reason="hourly")
            sealed_first.set()
            may_commit.wait(10)

    def second():
        found["second"] = archive_checkpoint_create(reason="export")

    sealing = in_a_thread(first)
    try:
        assert sealed_first.wait(10)
        racing = in_a_thread(second)
        racing.join(0.5)
        assert racing.is_alive(), "the second checkpoint did not wait for the first"
    finally:
        may_commit.set()
        sealing.join(10)
    racing.join(10)

    assert json.loads(found["second"].document)["prev"] == found["first"].document_hash
    assert checkpoint_problems(archive_verify()) == []
