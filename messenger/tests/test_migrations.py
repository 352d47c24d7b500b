"""Migrations that rewrite data: run on rows made before them, the way an upgraded installation has them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from core.testing import table_text

BEFORE_SEALING = [("messenger", "0002_attachments")]
MARKER = "MARKER-7f3a"


def migrate(targets):
    """Migrate to `targets`; the models of every app as they are then."""
    MigrationExecutor(connection).migrate(targets)
    loader = MigrationLoader(connection)
    return loader.project_state(list(loader.applied_migrations)).apps


@pytest.mark.django_db(transaction=True)
def test_sealing_migration_seals_existing_names_topics_and_audit_rows_and_old_checkpoints_still_verify(monkeypatch):
    from archive import checkpoints
    from archive.checkpoints import archive_checkpoint_create, checkpoints_verify

    # Checkpoints made before this migration ran were made by code of that time: their audit digest was
    # version 1, over the columns the migration leaves as they were (it rewrites object_repr and
    # additional_data, which version 2 covers; version 2 code runs only after the migration).
    monkeypatch.setattr(checkpoints, "AUDITLOG_DIGEST_VERSION", 1)
    from archive.selectors import audit_access_details

    old = migrate(BEFORE_SEALING)
    User = old.get_model("accounts", "User")
    Conversation = old.get_model("messenger", "Conversation")
    Attachment = old.get_model("messenger", "Attachment")
    ContentType = old.get_model("contenttypes", "ContentType")
    LogEntry = old.get_model("auditlog", "LogEntry")
    sam = User.objects.create(username="sam")
    room = Conversation.objects.create(kind="room", name="plans", topic=f"reorganisation {MARKER}")
    file = Attachment.objects.create(
        conversation=room, uploader=sam, file="files/x", name=f"layoffs-{MARKER}.xlsx", size=5, sha256="0" * 64
    )
    file_type = ContentType.objects.get_or_create(app_label="messenger", model="attachment")[0]
    room_type = ContentType.objects.get_or_create(app_label="messenger", model="conversation")[0]
    LogEntry.objects.create(
        content_type=file_type,
        object_pk=str(file.pk),
        object_id=file.pk,
        object_repr=f"layoffs-{MARKER}.xlsx in conversation {room.pk}",
        action=0,
        changes={"name": [None, f"layoffs-{MARKER}.xlsx"], "size": [None, "5"]},
    )
    LogEntry.objects.create(
        content_type=room_type,
        object_pk=str(room.pk),
        object_id=room.pk,
        object_repr="plans",
        action=1,
        changes={"topic": ["", f"reorganisation {MARKER}"], "name": ["draft", "plans"]},
    )
    search = LogEntry.objects.create(
        content_type=file_type,
        object_pk="",
        object_repr="archive search",
        action=3,
        additional_data={"archive_access": "search", "criteria": {"words": f"layoffs {MARKER}"}, "shown": 1},
    )
    archive_checkpoint_create(reason="before the upgrade")  # seals these audit rows as they are now

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from auditlog.models import LogEntry as LogEntryNow

    from messenger.models import Attachment as AttachmentNow
    from messenger.models import Conversation as ConversationNow

    for table in ("messenger_attachment", "messenger_conversation", "auditlog_logentry"):
        assert MARKER not in table_text(table), table
    assert ConversationNow.objects.get(pk=room.pk).topic == f"reorganisation {MARKER}"
    assert AttachmentNow.objects.get(pk=file.pk).name == f"layoffs-{MARKER}.xlsx"
    room_row = LogEntryNow.objects.get(content_type_id=room_type.pk)
    assert room_row.changes["name"] == ["draft", "plans"]  # what IT may see stays readable
    assert audit_access_details(entry=LogEntryNow.objects.get(pk=search.pk))["criteria"]["words"] == (
        f"layoffs {MARKER}"
    )
    assert list(checkpoints_verify(first_positions={})) == []
    LogEntryNow.objects.filter(pk=room_row.pk).update(changes={**room_row.changes, "name": ["draft", "other"]})
    assert [problem.detail for problem in checkpoints_verify(first_positions={})] == [
        "the audit log it sealed was changed"
    ]


@pytest.mark.django_db(transaction=True)
def test_unapplying_the_sealing_migration_brings_back_the_clear_values():
    from auditlog.models import LogEntry

    from accounts.tests.factories import UserFactory
    from archive.services import archive_access_record
    from core.sealed_audit import changes_with_fields_sealed
    from messenger.models import Attachment, Conversation

    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    sam = UserFactory(username="sam")
    room = Conversation.objects.create(kind="room", name="plans", topic=f"reorganisation {MARKER}")
    file = Attachment.objects.create(
        conversation=room, uploader=sam, file="files/x", name=f"layoffs-{MARKER}.xlsx", size=5, sha256="0" * 64
    )
    archive_access_record(user=sam, action="search", details={"criteria": {"words": MARKER}})
    row = LogEntry.objects.create(content_type_id=room_type_id(), object_pk="1", action=1, changes={})
    LogEntry.objects.filter(pk=row.pk).update(
        changes=changes_with_fields_sealed({"topic": ["", MARKER], "name": ["a", "b"]}, fields={"topic"}, log_id=row.pk)
    )
    try:
        old = migrate(BEFORE_SEALING)

        assert old.get_model("messenger", "Conversation").objects.get(pk=room.pk).topic == f"reorganisation {MARKER}"
        assert old.get_model("messenger", "Attachment").objects.get(pk=file.pk).name == f"layoffs-{MARKER}.xlsx"
        rows = old.get_model("auditlog", "LogEntry").objects
        assert rows.get(pk=row.pk).changes == {"topic": ["", MARKER], "name": ["a", "b"]}
        assert rows.get(additional_data__archive_access="search").additional_data["criteria"]["words"] == MARKER
    finally:
        migrate(latest)


def room_type_id() -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get(app_label="messenger", model="conversation").pk
