"""Changing the archive the way an attacker with database access would: raw SQL, with the PostgreSQL
append-only trigger switched off first."""

from django.db import connection


def tamper(*statements: str, params=()) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE archive_archiveentry DISABLE TRIGGER archive_entry_append_only")
        for statement in statements:
            cursor.execute(statement, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE archive_archiveentry ENABLE TRIGGER archive_entry_append_only")


def swap_payload_of(entry_id: int, with_payload_of: int) -> None:
    """Give one entry another's sealed payload: it no longer opens (a payload is bound to its row)."""
    tamper(
        "UPDATE archive_archiveentry SET payload = (SELECT payload FROM archive_archiveentry WHERE id = %s) "
        "WHERE id = %s",
        params=[with_payload_of, entry_id],
    )
