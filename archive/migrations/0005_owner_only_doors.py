"""On PostgreSQL, only the owner of the archive tables opens the purge and re-seal doors, through two functions.

0002's doors were transaction-local settings any session could set. Now the append-only trigger honours them
only when `current_user` owns the table, which for the application role (docs/security.md, "Database roles")
happens only inside the SECURITY DEFINER functions below, owned by whoever runs `migrate`:

- `parley_archive_purge` refuses a range holding a purge record, an entry younger than any retention that
  applies to it, or one an open legal hold covers, then deletes the range;
- `parley_archive_reseal` swaps one entry's payload for another (compare-and-set, for key rotation).

Chain heads only move forward and name the hash of the entry at their position; checkpoints never change. The
triggers bind the owner too, who can still drop them: that is what the copies of checkpoints kept elsewhere are
for. TRUNCATE is not trapped (Django's test flush uses it); the application role is not granted it.
"""

from django.db import migrations

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION parley_archive_append_only() RETURNS trigger AS $$
DECLARE
    -- Inside the definer functions current_user is the owner; the application role never is.
    by_owner boolean := (SELECT relowner FROM pg_catalog.pg_class WHERE oid = TG_RELID)
                        = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user);
BEGIN
    IF by_owner AND TG_OP = 'DELETE' AND current_setting('parley.archive_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF by_owner AND TG_OP = 'UPDATE' AND current_setting('parley.archive_rekey', true) = 'on'
       AND (to_jsonb(NEW) - 'payload') = (to_jsonb(OLD) - 'payload') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'archive entries are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""

# Going back restores 0002's function as it was (copied, not imported: a migration must not change under it).
APPEND_ONLY_0002 = """
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
"""

CHAIN_AND_CHECKPOINTS = """
CREATE FUNCTION parley_archive_chain_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'archive chain heads are never removed' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.conversation_id <> OLD.conversation_id OR NEW.position < OLD.position
       OR NEW.sealed_position < OLD.sealed_position THEN
        RAISE EXCEPTION 'archive chain heads only move forward' USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- archive_record advances the position, then names the new entry's hash: a head may only ever name the
    -- hash of the entry at its position.
    IF NEW.head_hash <> OLD.head_hash AND NOT EXISTS (
        SELECT 1 FROM archive_archiveentry entry
        WHERE entry.conversation_id = NEW.conversation_id AND entry.position = NEW.position
          AND entry.entry_hash = NEW.head_hash
    ) THEN
        RAISE EXCEPTION 'an archive chain head names the hash of the entry at its position'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER archive_chain_forward_only
    BEFORE UPDATE OR DELETE ON archive_archivechain
    FOR EACH ROW EXECUTE FUNCTION parley_archive_chain_forward_only();

CREATE FUNCTION parley_archive_checkpoint_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'archive checkpoints are never changed or removed: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER archive_checkpoint_immutable
    BEFORE UPDATE OR DELETE ON archive_archivecheckpoint
    FOR EACH ROW EXECUTE FUNCTION parley_archive_checkpoint_immutable();
"""

DROP_CHAIN_AND_CHECKPOINTS = """
DROP TRIGGER IF EXISTS archive_chain_forward_only ON archive_archivechain;
DROP FUNCTION IF EXISTS parley_archive_chain_forward_only();
DROP TRIGGER IF EXISTS archive_checkpoint_immutable ON archive_archivecheckpoint;
DROP FUNCTION IF EXISTS parley_archive_checkpoint_immutable();
"""

# The floors are literals on purpose: a migration must mean the same thing whenever it runs. They are
# core/regulation.py's RETENTION_FLOOR_DAYS (1095, three years) and DEFAULT_RETENTION_FLOOR_DAYS (2190, six years,
# the least the default retention may keep); a change there needs a new migration replacing this function.
PURGE = """
CREATE FUNCTION parley_archive_purge(
    conversation_id bigint, from_position bigint, to_position bigint, retention_days integer,
    as_of timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
    clock timestamptz := now();
    refused record;
    removed bigint;
BEGIN
    IF as_of IS NOT NULL THEN
        -- An earlier clock only keeps more. A later one (tests, an owner's shell) is the owner's alone.
        IF as_of > now() AND (SELECT relowner FROM pg_class WHERE oid = 'archive_archiveentry'::regclass)
                             <> (SELECT oid FROM pg_roles WHERE rolname = session_user) THEN
            RAISE EXCEPTION 'parley_archive_purge: only the archive owner may purge as of a time after now()'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        clock := as_of;
    END IF;
    WITH entries AS (
        SELECT entry.position, entry.event_type, entry.occurred_at,
               ARRAY(SELECT jsonb_array_elements_text(entry.participants)::bigint)
                   || CASE WHEN entry.actor_id IS NULL THEN '{}'::bigint[] ELSE ARRAY[entry.actor_id] END AS people
        FROM archive_archiveentry entry
        WHERE entry.conversation_id = parley_archive_purge.conversation_id
          AND entry.position BETWEEN parley_archive_purge.from_position AND parley_archive_purge.to_position
    ), judged AS (
        SELECT entries.*,
               greatest(
                   parley_archive_purge.retention_days,
                   1095,  -- core.regulation.RETENTION_FLOOR_DAYS
                   (SELECT greatest(2190, max(policy.archive_days))  -- DEFAULT_RETENTION_FLOOR_DAYS
                    FROM archive_retentionpolicy policy WHERE policy.scope = 'default'),
                   (SELECT max(policy.archive_days) FROM archive_retentionpolicy policy
                    WHERE policy.scope = 'room' AND policy.room_id = parley_archive_purge.conversation_id),
                   (SELECT max(policy.archive_days) FROM archive_retentionpolicy policy
                    JOIN accounts_user_groups member ON member.group_id = policy.group_id
                    WHERE policy.scope = 'group' AND member.user_id = ANY (entries.people))
               ) AS keep_days,
               EXISTS (
                   SELECT 1 FROM archive_legalhold hold
                   WHERE hold.released_at IS NULL
                     AND (hold.starts_at IS NULL OR entries.occurred_at >= hold.starts_at)
                     AND (hold.ends_at IS NULL OR entries.occurred_at <= hold.ends_at)
                     AND (
                         (NOT EXISTS (SELECT 1 FROM archive_legalhold_users held WHERE held.legalhold_id = hold.id)
                          AND NOT EXISTS (SELECT 1 FROM archive_legalhold_rooms held WHERE held.legalhold_id = hold.id))
                         OR EXISTS (SELECT 1 FROM archive_legalhold_rooms held WHERE held.legalhold_id = hold.id
                                    AND held.conversation_id = parley_archive_purge.conversation_id)
                         OR EXISTS (SELECT 1 FROM archive_legalhold_users held WHERE held.legalhold_id = hold.id
                                    AND held.user_id = ANY (entries.people))
                     )
               ) AS held
        FROM entries
    )
    -- Days of 24 hours, as archive.retention's timedelta counts them, whatever the session's time zone.
    SELECT judged.position,
           CASE WHEN judged.event_type = 'purge' THEN 'is a purge record, which is never purged'
                WHEN judged.occurred_at + judged.keep_days * interval '24 hours' > clock
                    THEN format('is younger than its retention of %s days', judged.keep_days)
                ELSE 'is under an open legal hold' END AS reason
    INTO refused
    FROM judged
    WHERE judged.event_type = 'purge' OR judged.held
       OR judged.occurred_at + judged.keep_days * interval '24 hours' > clock
    ORDER BY judged.position
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'parley_archive_purge refused: entry % of conversation % %; nothing was purged',
            refused.position, parley_archive_purge.conversation_id, refused.reason
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- On only for this statement (a function's SET clause cannot name a custom setting unless by a superuser).
    PERFORM set_config('parley.archive_purge', 'on', true);
    DELETE FROM archive_archiveentry entry
    WHERE entry.conversation_id = parley_archive_purge.conversation_id
      AND entry.position BETWEEN parley_archive_purge.from_position AND parley_archive_purge.to_position;
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('parley.archive_purge', 'off', true);
    RETURN removed;
END
$$;
REVOKE ALL ON FUNCTION parley_archive_purge(bigint, bigint, bigint, integer, timestamptz) FROM PUBLIC;

CREATE FUNCTION parley_archive_reseal(entry_id bigint, old_payload bytea, new_payload bytea) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    changed bigint;
BEGIN
    -- Only the payload, and only if it still holds what the caller read. A payload resealed with other content
    -- no longer matches the entry's hash, which verify_archive reports.
    PERFORM set_config('parley.archive_rekey', 'on', true);
    UPDATE archive_archiveentry SET payload = new_payload WHERE id = entry_id AND payload = old_payload;
    GET DIAGNOSTICS changed = ROW_COUNT;
    PERFORM set_config('parley.archive_rekey', 'off', true);
    RETURN changed > 0;
END
$$;
REVOKE ALL ON FUNCTION parley_archive_reseal(bigint, bytea, bytea) FROM PUBLIC;
"""

DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS parley_archive_purge(bigint, bigint, bigint, integer, timestamptz);
DROP FUNCTION IF EXISTS parley_archive_reseal(bigint, bytea, bytea);
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in (APPEND_ONLY, CHAIN_AND_CHECKPOINTS, PURGE):
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in (DROP_FUNCTIONS, DROP_CHAIN_AND_CHECKPOINTS, APPEND_ONLY_0002):
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0004_reactions_roles_guarded_base_manager"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
