"""Seal shared files' names and room topics, and take them (and compliance's search words) out of the audit log.

Existing values are sealed in batches into new columns, which then replace the clear ones. Audit-log rows that
hold a file name or a topic keep their original changes sealed (core.sealed_audit), so checkpoints made over
them still verify; file-access rows lose the name from object_repr; archive searches' words are sealed.
"""

import uuid

from django.db import migrations, models

import core.fields

BATCH = 1000
SEALED_IN_AUDIT_LOG = {("messenger", "attachment"): {"name"}, ("messenger", "conversation"): {"topic"}}


def _batches(rows, size=BATCH):
    """Primary-key pages of a queryset, so a large table is read a page at a time, not in one cursor."""
    last = 0
    while True:
        page = list(rows.filter(pk__gt=last).order_by("pk")[:size])
        if not page:
            return
        yield page
        last = page[-1][0]


def seal_names_and_topics(apps, schema_editor):
    from core import crypto
    from core.fields import Sealed, field_context

    Conversation = apps.get_model("messenger", "Conversation")
    Attachment = apps.get_model("messenger", "Attachment")
    for page in _batches(Conversation.objects.values_list("pk", "topic")):
        for pk, topic in page:
            uid = uuid.uuid4()
            sealed = crypto.seal_text(topic or "", context=field_context(Conversation, "topic", uid))
            Conversation.objects.filter(pk=pk).update(uid=uid, sealed_topic=Sealed(sealed))
    for page in _batches(Attachment.objects.values_list("pk", "uid", "name")):
        for pk, uid, name in page:
            sealed = crypto.seal_text(name, context=field_context(Attachment, "name", uid))
            Attachment.objects.filter(pk=pk).update(sealed_name=Sealed(sealed))


def seal_audit_log(apps, schema_editor):
    from core.sealed_audit import (
        SEARCH_WORDS_PURPOSE,
        changes_with_fields_sealed,
        is_sealed_json_value,
        sealed_json_value,
    )

    LogEntry = apps.get_model("auditlog", "LogEntry")
    ContentType = apps.get_model("contenttypes", "ContentType")
    Attachment = apps.get_model("messenger", "Attachment")
    for (app_label, model), fields in SEALED_IN_AUDIT_LOG.items():
        content_type = ContentType.objects.filter(app_label=app_label, model=model).first()
        if content_type is None:
            continue
        rows = LogEntry.objects.filter(content_type=content_type, changes__has_any_keys=sorted(fields))
        for page in _batches(rows.values_list("pk", "changes")):
            for pk, changes in page:
                sealed = changes_with_fields_sealed(changes, fields=fields, log_id=pk)
                LogEntry.objects.filter(pk=pk).update(changes=sealed)
        if model == "attachment":  # object_repr was str(attachment), which held the name
            for page in _batches(LogEntry.objects.filter(content_type=content_type).values_list("pk", "object_id")):
                ids = {object_id for _, object_id in page}
                conversations = dict(Attachment.objects.filter(pk__in=ids).values_list("pk", "conversation_id"))
                for pk, object_id in page:
                    where = f" in conversation {conversations[object_id]}" if object_id in conversations else ""
                    LogEntry.objects.filter(pk=pk).update(object_repr=f"file {object_id}{where}")
    searches = LogEntry.objects.filter(additional_data__criteria__has_key="words").exclude(
        additional_data__criteria__words=""
    )
    for page in _batches(searches.values_list("pk", "additional_data")):
        for pk, data in page:
            words = data["criteria"]["words"]
            if is_sealed_json_value(words) or not isinstance(words, str):
                continue
            data["criteria"]["words"] = sealed_json_value(words, purpose=SEARCH_WORDS_PURPOSE, log_id=pk)
            LogEntry.objects.filter(pk=pk).update(additional_data=data)


def open_names_and_topics(apps, schema_editor):
    """Backwards: the clear columns again (they were re-added empty by now)."""
    from core import crypto
    from core.fields import field_context

    Conversation = apps.get_model("messenger", "Conversation")
    Attachment = apps.get_model("messenger", "Attachment")
    for page in _batches(Conversation.objects.values_list("pk", "uid", "sealed_topic")):
        for pk, uid, sealed in page:
            topic = crypto.unseal_text(sealed.data, context=field_context(Conversation, "topic", uid))
            Conversation.objects.filter(pk=pk).update(topic=topic)
    for page in _batches(Attachment.objects.values_list("pk", "uid", "sealed_name")):
        for pk, uid, sealed in page:
            name = crypto.unseal_text(sealed.data, context=field_context(Attachment, "name", uid))
            Attachment.objects.filter(pk=pk).update(name=name)


def open_audit_log(apps, schema_editor):
    """Backwards: the audit-log rows as auditlog wrote them (object_repr stays as it is)."""
    from core.sealed_audit import SEALED_CHANGES_KEY, SEARCH_WORDS_PURPOSE, changes_as_written, opened_json_value

    LogEntry = apps.get_model("auditlog", "LogEntry")
    for page in _batches(LogEntry.objects.filter(changes__has_key=SEALED_CHANGES_KEY).values_list("pk", "changes")):
        for pk, changes in page:
            LogEntry.objects.filter(pk=pk).update(changes=changes_as_written(changes, log_id=pk))
    searches = LogEntry.objects.filter(additional_data__criteria__words__has_key="sealed")
    for page in _batches(searches.values_list("pk", "additional_data")):
        for pk, data in page:
            words = data["criteria"]["words"]
            data["criteria"]["words"] = opened_json_value(words, purpose=SEARCH_WORDS_PURPOSE, log_id=pk)
            LogEntry.objects.filter(pk=pk).update(additional_data=data)


class Migration(migrations.Migration):
    dependencies = [
        ("messenger", "0002_attachments"),
        ("auditlog", "0017_add_actor_email"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        # Nullable before it goes, so that unapplying this migration can add the clear column back to a full table.
        migrations.AlterField(
            model_name="attachment",
            name="name",
            field=models.CharField(max_length=255, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="uid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="sealed_topic",
            field=core.fields.EncryptedTextField(null=True),
        ),
        migrations.AddField(
            model_name="attachment",
            name="sealed_name",
            field=core.fields.EncryptedTextField(null=True),
        ),
        migrations.RunPython(seal_names_and_topics, open_names_and_topics),
        migrations.RunPython(seal_audit_log, open_audit_log),
        migrations.RemoveField(model_name="conversation", name="topic"),
        migrations.RemoveField(model_name="attachment", name="name"),
        migrations.RenameField(model_name="conversation", old_name="sealed_topic", new_name="topic"),
        migrations.RenameField(model_name="attachment", old_name="sealed_name", new_name="name"),
        migrations.AlterField(
            model_name="conversation",
            name="uid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        # NOT NULL without a database default: every row was sealed above. The database sees a plain binary
        # column (no default, so the schema editor fills nothing in, on PostgreSQL and SQLite alike); the model's
        # default ("", clear text) belongs to the state only, as it should.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterField(model_name="conversation", name="topic", field=models.BinaryField()),
                migrations.AlterField(model_name="attachment", name="name", field=models.BinaryField()),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="conversation",
                    name="topic",
                    field=core.fields.EncryptedTextField(blank=True, default=""),
                ),
                migrations.AlterField(
                    model_name="attachment",
                    name="name",
                    field=core.fields.EncryptedTextField(),
                ),
            ],
        ),
    ]
