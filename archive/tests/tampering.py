"""Changing the archive the way an attacker with database access would: raw SQL, with the PostgreSQL triggers
that guard the tables switched off first."""

from django.db import connection

# Every table the archive's integrity rests on. Cutting a chain's tail unseen takes all three: the entries, the
# chain head that counts them, and the checkpoints that sealed them.
ARCHIVE_TABLES = ("archive_archiveentry", "archive_archivechain", "archive_archivecheckpoint")


def tamper(*statements: str, params=(), tables: tuple[str, ...] | None = None) -> None:
    """Run `statements` with the user triggers of `tables` disabled (by default, of the archive tables the
    statements name), as the tables' owner can (ALTER TABLE ... DISABLE TRIGGER USER). A superuser can do the
    same, or more (DISABLE TRIGGER ALL, SET session_replication_role = replica); the tests' role owns the tables
    but is no superuser."""
    if tables is None:
        tables = tuple(table for table in ARCHIVE_TABLES if any(table in statement for statement in statements))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A table with foreign-key checks still to run at commit cannot be altered: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            for statement in statements:
                cursor.execute(statement, params)
        finally:
            if connection.vendor == "postgresql":
                for table in tables:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def swap_payload_of(entry_id: int, with_payload_of: int) -> None:
    """Give one entry another's sealed payload: it no longer opens (a payload is bound to its row)."""
    tamper(
        "UPDATE archive_archiveentry SET payload = (SELECT payload FROM archive_archiveentry WHERE id = %s) "
        "WHERE id = %s",
        params=[with_payload_of, entry_id],
    )
