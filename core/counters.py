"""Counters advanced by one UPDATE ... RETURNING: a conversation's message seq, an archive chain's position.

The UPDATE's row lock makes concurrent writers of one row take turns until their transaction commits, so
the numbers are unique and gap-free without a MAX()+1 scan, and rows do not wait for each other (SQLite
serializes writers anyway).
"""

from __future__ import annotations

from typing import Any

from django.db import connection, models


def counter_advance(
    model: type[models.Model], *, counter: str, key: str, value: Any, condition: str = "", returning: tuple = ()
) -> tuple | None:
    """Add one to `counter` of the `model` row whose `key` is `value` (and which meets the SQL `condition`,
    written by us, never from input); return (new counter, *returning), or None when no row matched."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(column) for column in (counter, *returning))
    where = f"{quote(key)} = %s" + (f" AND {condition}" if condition else "")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {quote(counter)} = {quote(counter)} + 1 WHERE {where} RETURNING {columns}",  # noqa: S608 (names from the model)
            [value],
        )
        return cursor.fetchone()
