"""On PostgreSQL, refuse UPDATE and DELETE of archive entries in the database itself.

Two transaction-local settings open narrow doors: `parley.archive_purge = 'on'` lets the retention purge
delete, and `parley.archive_rekey = 'on'` lets key rotation rewrite the sealed payload and nothing else.
TRUNCATE is not trapped (Django's test flush uses it); the application's role should not own the table in
production (docs/compliance.md).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION parley_archive_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('parley.archive_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND current_setting('parley.archive_rekey', true) = 'on'
       AND (to_jsonb(NEW) - 'payload') = (to_jsonb(OLD) - 'payload') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'archive entries are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER archive_entry_append_only
    BEFORE UPDATE OR DELETE ON archive_archiveentry
    FOR EACH ROW EXECUTE FUNCTION parley_archive_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS archive_entry_append_only ON archive_archiveentry;
DROP FUNCTION IF EXISTS parley_archive_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


def start_chains_of_existing_conversations(apps, schema_editor):
    Conversation = apps.get_model("messenger", "Conversation")
    ArchiveChain = apps.get_model("archive", "ArchiveChain")
    ArchiveChain.objects.bulk_create(
        [ArchiveChain(conversation_id=pk) for pk in Conversation.objects.values_list("pk", flat=True)],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial"), ("messenger", "0001_initial")]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger),
        migrations.RunPython(start_chains_of_existing_conversations, migrations.RunPython.noop),
    ]
