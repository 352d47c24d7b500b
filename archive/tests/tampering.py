"""Changing the archive the way an attacker with database access would: raw SQL, with the PostgreSQL
triggers that keep entries append-only and chain heads moving forward switched off first (as the owner can)."""

from django.db import connection

TRIGGERS = (
    ("archive_archiveentry", "archive_entry_append_only"),
    ("archive_archivechain", "archive_chain_forward_only"),
)


def tamper(*statements: str, params=()) -> None:
    triggers = [(table, trigger) for table, trigger in TRIGGERS if any(table in statement for statement in statements)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A table with deferred foreign-key checks pending (a chain made in this test's transaction) cannot
            # be altered until they have run.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table, trigger in triggers:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        for statement in statements:
            cursor.execute(statement, params)
        if connection.vendor == "postgresql":
            for table, trigger in triggers:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def swap_payload_of(entry_id: int, with_payload_of: int) -> None:
    """Give one entry another's sealed payload: it no longer opens (a payload is bound to its row)."""
    tamper(
        "UPDATE archive_archiveentry SET payload = (SELECT payload FROM archive_archiveentry WHERE id = %s) "
        "WHERE id = %s",
        params=[with_payload_of, entry_id],
    )
