"""Audit-log receipts, and the lock a checkpoint takes on the audit log (PostgreSQL).

- `archive_auditreceipt` gets a row for every audit-log row inserted, from an AFTER INSERT trigger whose
  function runs with its owner's rights (SECURITY DEFINER), so the application's role needs no right on the
  receipts but SELECT. Rows that exist already get their receipts here.
- `parley_audit_log_hold_for_checkpoint()` locks `auditlog_logentry` against inserts until the calling
  transaction ends (archive.checkpoints explains why). LOCK TABLE in that mode needs UPDATE, DELETE or TRUNCATE
  on the table, which the application's role should not have; the function has its owner's.
"""

from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION parley_audit_receipt() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO archive_auditreceipt (log_id, written_at) VALUES (NEW.id, now());
    RETURN NULL;
END
$$;

CREATE TRIGGER auditlog_receipt
    AFTER INSERT ON auditlog_logentry
    FOR EACH ROW EXECUTE FUNCTION parley_audit_receipt();

CREATE OR REPLACE FUNCTION parley_audit_log_hold_for_checkpoint() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    LOCK TABLE auditlog_logentry IN SHARE ROW EXCLUSIVE MODE;
END
$$;
-- Holding off every audit write is not for anyone to call: the application role gets EXECUTE from
-- archive.db_roles (DEFINER_FUNCTIONS), as for the purge and re-seal functions.
REVOKE ALL ON FUNCTION parley_audit_log_hold_for_checkpoint() FROM PUBLIC;

INSERT INTO archive_auditreceipt (log_id, written_at)
    SELECT id, timestamp FROM auditlog_logentry ON CONFLICT DO NOTHING;
"""

DROP = """
DROP TRIGGER IF EXISTS auditlog_receipt ON auditlog_logentry;
DROP FUNCTION IF EXISTS parley_audit_receipt();
DROP FUNCTION IF EXISTS parley_audit_log_hold_for_checkpoint();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0005_owner_only_doors"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditReceipt",
            fields=[
                ("log_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("written_at", models.DateTimeField()),
            ],
            options={"ordering": ["log_id"]},
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
