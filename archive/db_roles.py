"""Least-privilege PostgreSQL roles: the owner runs migrations, the application role gets only what it needs.

The role that runs `migrate` owns every table. After each migrate, `database_app_role_grant` gives the role named
by PARLEY_DATABASE_APP_ROLE (web and worker connect as it) the ordinary reads and writes on every table, except
the protected tables below, where it only reads and appends; purges and key rotation reach the archive through
the owner's SECURITY DEFINER functions (archive/migrations/0005). It runs after every migrate, not once, because
ALTER DEFAULT PRIVILEGES cannot tell a protected table from any other. docs/security.md, "Database roles".
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from archive.models import ENTRY_TABLE

# Table -> all the application role may do to it: never UPDATE of what is sealed, never DELETE or TRUNCATE.
# Another table that must only grow is one more line here.
PROTECTED_TABLES: dict[str, str] = {
    ENTRY_TABLE: "SELECT, INSERT",
    "archive_archivecheckpoint": "SELECT, INSERT",
    # A chain head moves forward with each entry and each checkpoint; its trigger refuses anything else.
    "archive_archivechain": "SELECT, INSERT, UPDATE (position, head_hash, sealed_position)",
    # Writing an archive access seals the searched words into the new row (archive_access_record), and key
    # rotation re-seals them and the sealed original `changes` (core.sealed_audit): those two columns only.
    "auditlog_logentry": "SELECT, INSERT, UPDATE (changes, additional_data)",
    # One receipt per audit row, written by the owner's trigger (archive/migrations/0006): read, never written.
    "archive_auditreceipt": "SELECT",
    # The search index (archive.search_index): tokens are written with each entry and swapped for new ones by
    # `rebuild_search_index` after a key rotation, hence DELETE; never UPDATE. Deleting tokens can hide an entry
    # from a keyword search, not from the archive: exports by date, transcripts and verify_archive read entries.
    "archive_archivesearchtoken": "SELECT, INSERT, DELETE",
    # Supervision decisions are evidence (FINRA 3110): recorded once, never changed (archive.supervision).
    "archive_supervisiondecision": "SELECT, INSERT",
    # A matter's tags are kept with who took them off (archive.matters): a removal is stamped, never deleted.
    "archive_mattertag": "SELECT, INSERT, UPDATE (removed_by_id, removed_at)",
}

# The doors, owned by the owner: the application role may call them and nothing else of the kind.
DEFINER_FUNCTIONS = (
    "parley_archive_purge(bigint, bigint, bigint, integer, timestamptz)",
    "parley_archive_reseal(bigint, bytea, bytea)",
    "parley_audit_log_hold_for_checkpoint()",
)

ORDINARY_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"

# A plain role name: it is written into GRANT statements, which take no parameters.
ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def database_app_role_grant(*, role: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Grant `role` what web and worker need, as the owner of the tables (whoever runs this). Idempotent: every
    table's privileges for `role` are revoked and granted afresh, so a table that became protected loses what it
    had. Raises ImproperlyConfigured for a role that would defeat the point (missing, superuser, the owner)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    if not ROLE_NAME.fullmatch(role):
        raise ImproperlyConfigured(f"PARLEY_DATABASE_APP_ROLE={role!r} is not a plain PostgreSQL role name.")
    quoted = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolname = current_user, pg_has_role(rolname, current_user, 'MEMBER') "
            "FROM pg_roles WHERE rolname = %s",
            [role],
        )
        found = cursor.fetchone()
        if found is None:
            raise ImproperlyConfigured(
                f"PARLEY_DATABASE_APP_ROLE={role!r}: no such role; create it first (docs/security.md, "
                f'"Database roles").'
            )
        if any(found):
            raise ImproperlyConfigured(
                f"PARLEY_DATABASE_APP_ROLE={role!r} is a superuser, the owner running migrate, or a member of the "
                f"owner's role: it could change the archive. Use a role of its own."
            )
        cursor.execute(
            "SELECT c.relname FROM pg_class c "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') "
            "AND pg_get_userbyid(c.relowner) = current_user ORDER BY c.relname"
        )
        tables = [name for (name,) in cursor.fetchall()]
        cursor.execute("SELECT current_schema()")
        schema = connection.ops.quote_name(cursor.fetchone()[0])
        cursor.execute(f"GRANT USAGE ON SCHEMA {schema} TO {quoted}")
        for table in tables:
            quoted_table = connection.ops.quote_name(table)
            cursor.execute(f"REVOKE ALL ON {quoted_table} FROM {quoted}")
            cursor.execute(
                f"GRANT {PROTECTED_TABLES.get(table, ORDINARY_TABLE_PRIVILEGES)} ON {quoted_table} TO {quoted}"
            )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {quoted}")
        for function in DEFINER_FUNCTIONS:
            cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", [function])
            if cursor.fetchone()[0]:
                cursor.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {quoted}")


def grant_app_role_after_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate (sent once per app after the whole plan ran; connected for this app only)."""
    if settings.PARLEY_DATABASE_APP_ROLE:
        database_app_role_grant(role=settings.PARLEY_DATABASE_APP_ROLE, using=using)


def database_role_warnings(connection: BaseDatabaseWrapper) -> list[checks.CheckMessage]:
    """Why the role `connection` logs in as could change the archive: a superuser, or the archive's owner."""
    if connection.vendor != "postgresql":
        return []
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rolsuper, (SELECT pg_get_userbyid(relowner) = current_user FROM pg_class "
                "WHERE oid = to_regclass(%s)) FROM pg_roles WHERE rolname = current_user",
                [ENTRY_TABLE],
            )
            is_superuser, owns_archive = cursor.fetchone()
    except DatabaseError:
        return []  # no database to ask: nothing to say about its roles
    warnings = []
    if is_superuser:
        warnings.append(
            checks.Warning(
                "The application connects to PostgreSQL as a superuser, which can rewrite or empty the archive.",
                hint="Connect web and worker as the role PARLEY_DATABASE_APP_ROLE names (docs/security.md, "
                '"Database roles").',
                id="parley.W010",
            )
        )
    if owns_archive:
        warnings.append(
            checks.Warning(
                f"The application connects to PostgreSQL as the owner of {ENTRY_TABLE}, which can drop its "
                f"triggers and rewrite or empty the archive.",
                hint="Run migrate as the owner with PARLEY_DATABASE_APP_ROLE set, and connect web and worker as "
                'that role (docs/security.md, "Database roles").',
                id="parley.W011",
            )
        )
    return warnings


def database_role_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """`manage.py check --deploy`: the default connection's role."""
    return database_role_warnings(connections[DEFAULT_DB_ALIAS])
