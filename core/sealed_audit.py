"""Sealed values inside audit-log rows (django-auditlog's JSON columns), which no EncryptedTextField covers.

Two uses. Words a compliance officer searched the archive for are stored as `{"sealed": "<base64>"}`. And rows
written before a field became sealed (a file's name, a room's topic) keep their original `changes` sealed under
SEALED_CHANGES_KEY, with the clear values removed: checkpoints (archive.checkpoints) hashed those rows as they
were, and verifying a checkpoint opens the original again instead of reporting the row as altered.

Each value is bound to its log row's id, so a ciphertext copied into another row does not open.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from core import crypto

SEALED_CHANGES_KEY = "parley_sealed_changes"
# What the words of an archive search are bound to, besides their row (archive.services.archive_access_record).
SEARCH_WORDS_PURPOSE = "search_words"


def _context(purpose: str, log_id: int) -> str:
    return f"auditlog.logentry.{purpose}:{log_id}"


def sealed_json_value(value: str, *, purpose: str, log_id: int) -> dict[str, str]:
    """`value` sealed for a JSON column, bound to the log row and to what it is (say "search_words")."""
    sealed = crypto.seal_text(value, context=_context(purpose, log_id))
    return {"sealed": base64.b64encode(sealed).decode()}


def is_sealed_json_value(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"sealed"} and isinstance(value["sealed"], str)


def opened_json_value(value: Any, *, purpose: str, log_id: int) -> Any:
    """The clear text of a value made by sealed_json_value (anything else as it is); DecryptionError if it
    does not open (another row's, tampered, or its key left the ring)."""
    if not is_sealed_json_value(value):
        return value
    return crypto.unseal_text(base64.b64decode(value["sealed"]), context=_context(purpose, log_id))


def _changes_purpose(fields: list[str]) -> str:
    # The removed fields are part of what the seal is bound to: a row cannot be made to hide another field.
    return "changes-without-" + ",".join(fields)


def changes_with_fields_sealed(changes: dict[str, Any], *, fields: set[str], log_id: int) -> dict[str, Any]:
    """`changes` without `fields`, plus the whole original sealed (for checkpoints already made over it)."""
    removed = sorted(fields & set(changes))
    original = json.dumps(changes, ensure_ascii=False)
    sealed = crypto.seal_text(original, context=_context(_changes_purpose(removed), log_id))
    kept = {name: change for name, change in changes.items() if name not in fields}
    return {**kept, SEALED_CHANGES_KEY: {"fields": removed, "sealed": base64.b64encode(sealed).decode()}}


def changes_as_written(changes: Any, *, log_id: int) -> Any:
    """A row's `changes` as auditlog wrote them: the sealed original where there is one. If the original does not
    open, or the fields still shown differ from it, the row is returned as stored, so a checkpoint over it
    reports it as changed."""
    if not isinstance(changes, dict) or SEALED_CHANGES_KEY not in changes:
        return changes
    try:
        removed = list(changes[SEALED_CHANGES_KEY]["fields"])
        sealed = base64.b64decode(changes[SEALED_CHANGES_KEY]["sealed"])
        original = json.loads(crypto.unseal_text(sealed, context=_context(_changes_purpose(removed), log_id)))
    except (crypto.DecryptionError, ValueError, TypeError, KeyError):
        return changes
    if {name: change for name, change in original.items() if name not in removed} != changes_shown(changes):
        return changes
    return original


def changes_shown(changes: Any) -> Any:
    """`changes` without the sealed original: what the audit log shows to anyone."""
    if not isinstance(changes, dict) or SEALED_CHANGES_KEY not in changes:
        return changes
    return {name: change for name, change in changes.items() if name != SEALED_CHANGES_KEY}
