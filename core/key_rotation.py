"""Re-sealing every encrypted value under the newest key, online and resumably (docs/security.md).

Rows are walked in primary-key batches. Each value's key id is read from its header without decrypting;
values under an older key are opened and re-sealed under the primary key, and written back with a
compare-and-set (only if the row still holds the old ciphertext), so a concurrent edit is never overwritten:
the row is simply picked up again by the next run. Rows already under the primary key are skipped, which is
what makes an interrupted rotation resumable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection, models, transaction

from core import crypto
from core.fields import EncryptedTextField, Sealed, field_context


@dataclass
class RotationReport:
    rewritten: int = 0
    skipped_concurrent_edits: int = 0
    # "app.model.field" -> {key id: number of values}
    keys_in_use: dict[str, Counter] = field(default_factory=dict)
    finished: bool = True

    def values_under_retired_keys(self, primary_id: str) -> int:
        return sum(
            count for counter in self.keys_in_use.values() for key, count in counter.items() if key != primary_id
        )


def encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedTextField]]:
    for model in apps.get_models():
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedTextField):
                yield model, model_field


def keys_rotate(
    *,
    batch_size: int = 500,
    max_batches: int | None = None,
    check_only: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> RotationReport:
    """Re-seal values not under the primary key (unless `check_only`), then count values per key.

    `max_batches` stops early (an operator's time box, or a test of resuming); the report says so.
    """
    ring = crypto.configured_key_ring()
    report = RotationReport()
    batches = 0
    for model, model_field in encrypted_fields():
        label = f"{model._meta.label_lower}.{model_field.name}"
        counter = report.keys_in_use.setdefault(label, Counter())
        last_pk = None
        while True:
            rows = model._base_manager.order_by("pk")
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            batch = list(rows.values_list("pk", model_field.bind_to, model_field.attname)[:batch_size])
            if not batch:
                break
            stale = []
            for pk, binding, sealed in batch:
                if sealed is None:
                    continue
                key_id = crypto.sealed_key_id(sealed.data)
                if key_id == ring.primary_id or check_only:
                    counter[key_id] += 1
                else:
                    stale.append((pk, binding, sealed))
            if stale:
                missed = _reseal(model, model_field, stale, ring)
                report.rewritten += len(stale) - len(missed)
                report.skipped_concurrent_edits += len(missed)
                counter[ring.primary_id] += len(stale) - len(missed)
                for sealed in missed:  # edited meanwhile: still counted under the key we saw; next run takes it
                    counter[crypto.sealed_key_id(sealed.data)] += 1
            last_pk = batch[-1][0]
            batches += 1
            if on_batch:
                on_batch(len(batch))
            if max_batches is not None and batches >= max_batches:
                report.finished = False
                return report
    if not check_only and report.skipped_concurrent_edits:
        report.finished = False
    return report


def _reseal(model: type[models.Model], model_field: EncryptedTextField, stale: list, ring: crypto.KeyRing) -> list:
    """Re-seal each stale value; return the ones a concurrent write changed first (left for the next run)."""
    missed = []
    with transaction.atomic():
        if connection.vendor == "postgresql" and model._meta.db_table == "archive_archiveentry":
            # The archive's append-only trigger lets exactly this through: a new sealing of the same payload.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL parley.archive_rekey = 'on'")
        for pk, binding, sealed in stale:
            context = field_context(model, model_field.name, binding)
            resealed = crypto.seal(crypto.unseal(sealed.data, context=context, ring=ring), context=context, ring=ring)
            if not _compare_and_set(model, model_field, pk, sealed, Sealed(resealed)):
                missed.append(sealed)
    return missed


def _compare_and_set(model: type[models.Model], model_field: EncryptedTextField, pk, old: Sealed, new: Sealed) -> int:
    # A raw UPDATE: the archive's ORM refuses updates on purpose, and the ciphertext is all that changes here.
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model_field.column)
    pk_column = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s AND {column} = %s",  # noqa: S608 (names from the model)
            [new.data, pk, old.data],
        )
        return cursor.rowcount
