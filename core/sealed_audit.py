"""Sealed values inside audit-log rows (django-auditlog's JSON columns), which no EncryptedTextField covers.

Two uses. Words a compliance officer searched the archive for are stored as `{"sealed": "<base64>"}`. And rows
written before a field became sealed (a file's name, a room's topic) keep their original `changes` sealed under
SEALED_CHANGES_KEY, with the clear values removed: checkpoints (archive.checkpoints) hashed those rows as they
were, and verifying a checkpoint opens the original again instead of reporting the row as altered.

Each value is bound to its log row's id, so a ciphertext copied into another row does not open.
"""

from __future__ import annotations

import base64
import copy
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.db.models import Q

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


def additional_data_opened(data: Any, *, log_id: int) -> Any:
    """A row's `additional_data` with sealed search words opened: what a checkpoint digests, so re-sealing them
    under a new key (rotate_keys) changes nothing it sealed. Words that do not open are left sealed, so a
    checkpoint over the row reports it as changed."""
    criteria = data.get("criteria") if isinstance(data, dict) else None
    if not isinstance(criteria, dict) or not is_sealed_json_value(criteria.get("words")):
        return data
    try:
        words = opened_json_value(criteria["words"], purpose=SEARCH_WORDS_PURPOSE, log_id=log_id)
    except (crypto.DecryptionError, ValueError, TypeError):
        return data
    return {**data, "criteria": {**criteria, "words": words}}


def changes_shown(changes: Any) -> Any:
    """`changes` without the sealed original: what the audit log shows to anyone."""
    if not isinstance(changes, dict) or SEALED_CHANGES_KEY not in changes:
        return changes
    return {name: change for name, change in changes.items() if name != SEALED_CHANGES_KEY}


# ---- key rotation (core.key_rotation walks these besides the EncryptedTextFields) -----------------------------


def _sealed_places(changes: Any, data: Any) -> Iterator[tuple[str, dict, str]]:
    """(purpose, the dict holding the value, its key there) for each sealed value in one row."""
    if isinstance(changes, dict) and isinstance(changes.get(SEALED_CHANGES_KEY), dict):
        holder = changes[SEALED_CHANGES_KEY]
        yield _changes_purpose(list(holder.get("fields", []))), holder, "sealed"
    criteria = data.get("criteria") if isinstance(data, dict) else None
    if isinstance(criteria, dict) and is_sealed_json_value(criteria.get("words")):
        yield SEARCH_WORDS_PURPOSE, criteria["words"], "sealed"


def sealed_row_batches(batch_size: int) -> Iterator[list[tuple[int, Any, Any]]]:
    """(pk, changes, additional_data) of the audit-log rows holding sealed values, in ascending pk batches."""
    if not apps.is_installed("auditlog"):
        return
    LogEntry = apps.get_model("auditlog", "LogEntry")
    rows = LogEntry.objects.filter(
        Q(changes__has_key=SEALED_CHANGES_KEY) | Q(additional_data__criteria__words__has_key="sealed")
    ).order_by("pk")
    last_pk = 0
    while batch := list(rows.filter(pk__gt=last_pk).values_list("pk", "changes", "additional_data")[:batch_size]):
        yield batch
        last_pk = batch[-1][0]


def sealed_rows_reseal(
    batch: list[tuple[int, Any, Any]], counter: Counter, *, ring: crypto.KeyRing, report: Any, check_only: bool
) -> None:
    """Re-seal the batch's values under the primary key, each row written only if nobody changed it meanwhile;
    count values per key on `counter` and rewrites on `report` (core.key_rotation.RotationReport)."""
    LogEntry = apps.get_model("auditlog", "LogEntry")
    for pk, changes, data in batch:
        new_changes, new_data = copy.deepcopy(changes), copy.deepcopy(data)
        resealed = 0
        for purpose, holder, key in _sealed_places(new_changes, new_data):
            sealed = base64.b64decode(holder[key])
            key_id = crypto.sealed_key_id(sealed)
            if check_only or key_id == ring.primary_id or key_id not in ring.keys:
                counter[key_id] += 1
                continue
            context = _context(purpose, pk)
            again = crypto.seal(crypto.unseal(sealed, context=context, ring=ring), context=context, ring=ring)
            holder[key] = base64.b64encode(again).decode()
            resealed += 1
        if not resealed:
            continue
        unchanged = _holds("changes", changes) & _holds("additional_data", data)
        if LogEntry.objects.filter(unchanged, pk=pk).update(changes=new_changes, additional_data=new_data):
            report.rewritten += resealed
            counter[ring.primary_id] += resealed
        else:  # changed meanwhile: looked at again by the next run
            report.skipped_concurrent_edits += resealed


def _holds(column: str, value: Any) -> Q:
    # None is SQL NULL in these columns, which `column=None` would not match (Django reads it as JSON null).
    return Q(**{f"{column}__isnull": True}) if value is None else Q(**{column: value})
