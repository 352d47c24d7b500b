"""Re-sealing every encrypted value under the newest key, online and resumably (docs/security.md).

Three kinds of values: every EncryptedTextField of every installed model, the sealed values inside audit-log rows
(core.sealed_audit), and the files of the encrypted storage at MEDIA_ROOT. Rows are walked in primary-key batches,
files name by name. Each value's key id is read from its header without decrypting; values under an older key are
opened and re-sealed under the primary key. Rows are written back with a compare-and-set (only if the row still
holds the old ciphertext) and files are replaced under their lock (core.storage), so a concurrent edit or delete is
never undone: the value is simply looked at again by the next run. Values already under the primary key are
skipped, which is what makes an interrupted rotation resumable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction

from core import crypto, sealed_audit
from core.fields import EncryptedTextField, Sealed, field_context
from core.storage import EncryptedFileSystemStorage

# The "key id" under which files that are not sealed at all (clear text on disk) are counted.
NOT_SEALED = "not sealed"


@dataclass
class RotationReport:
    rewritten: int = 0
    skipped_concurrent_edits: int = 0
    # "app.model.field" or "files in <dir>" -> {key id: number of values}
    keys_in_use: dict[str, Counter] = field(default_factory=dict)
    finished: bool = True

    def values_under_retired_keys(self, primary_id: str) -> int:
        """Values still under a key other than the primary (or not sealed at all): the ones --check fails on."""
        return sum(
            count for counter in self.keys_in_use.values() for key, count in counter.items() if key != primary_id
        )


def encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedTextField]]:
    for model in apps.get_models():
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedTextField):
                yield model, model_field


def encrypted_storages() -> list[EncryptedFileSystemStorage]:
    """Where sealed files live: MEDIA_ROOT, through the storage that sealed them."""
    return [EncryptedFileSystemStorage(location=settings.MEDIA_ROOT)]


def encrypted_values_total() -> int:
    """How many rows and files a full rotation looks at (the progress bar's end)."""
    rows = sum(model._base_manager.count() for model, _ in encrypted_fields())
    rows += sum(len(batch) for batch in sealed_audit.sealed_row_batches(5000))
    return rows + sum(1 for storage in encrypted_storages() for _ in storage.sealed_names())


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
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    ring = crypto.configured_key_ring()
    report = RotationReport()
    sources: list[tuple[str, Iterator[list], Callable[[list, Counter], None]]] = [
        (
            f"{model._meta.label_lower}.{model_field.name}",
            _row_batches(model, model_field, batch_size),
            partial(
                _rotate_rows, model=model, model_field=model_field, ring=ring, report=report, check_only=check_only
            ),
        )
        for model, model_field in encrypted_fields()
    ]
    sources.append(
        (
            "sealed values in audit-log rows",
            sealed_audit.sealed_row_batches(batch_size),
            partial(sealed_audit.sealed_rows_reseal, ring=ring, report=report, check_only=check_only),
        )
    )
    sources += [
        (
            f"files in {storage.location}",
            _file_batches(storage, batch_size),
            partial(_rotate_files, storage=storage, ring=ring, report=report, check_only=check_only),
        )
        for storage in encrypted_storages()
    ]
    batches = 0
    for label, batches_of_values, rotate in sources:
        counter = report.keys_in_use.setdefault(label, Counter())
        for batch in batches_of_values:
            if max_batches is not None and batches >= max_batches:
                report.finished = False
                return report
            rotate(batch, counter)
            batches += 1
            if on_batch:
                on_batch(len(batch))
    if report.skipped_concurrent_edits:
        report.finished = False
    return report


def _row_batches(model: type[models.Model], model_field: EncryptedTextField, batch_size: int) -> Iterator[list]:
    """(pk, binding, Sealed) in ascending pk batches; each batch is read when the previous one is done."""
    last_pk = None
    while True:
        rows = model._base_manager.order_by("pk")
        if last_pk is not None:
            rows = rows.filter(pk__gt=last_pk)
        batch = list(rows.values_list("pk", model_field.bind_to, model_field.attname)[:batch_size])
        if not batch:
            return
        yield batch
        last_pk = batch[-1][0]


def _file_batches(storage: EncryptedFileSystemStorage, batch_size: int) -> Iterator[list]:
    names = storage.sealed_names()
    while batch := list(islice(names, batch_size)):
        yield batch


def _rotate_rows(
    batch: list,
    counter: Counter,
    *,
    model: type[models.Model],
    model_field: EncryptedTextField,
    ring: crypto.KeyRing,
    report: RotationReport,
    check_only: bool,
) -> None:
    stale = []
    for pk, binding, sealed in batch:
        if sealed is None:
            continue
        key_id = crypto.sealed_key_id(sealed.data)
        if key_id == ring.primary_id or check_only:
            counter[key_id] += 1
        else:
            stale.append((pk, binding, sealed))
    if not stale:
        return
    missed = _reseal(model, model_field, stale, ring)
    report.rewritten += len(stale) - len(missed)
    report.skipped_concurrent_edits += len(missed)
    counter[ring.primary_id] += len(stale) - len(missed)
    for sealed in missed:  # edited meanwhile: still counted under the key we saw; next run takes it
        counter[crypto.sealed_key_id(sealed.data)] += 1


def _rotate_files(
    names: list,
    counter: Counter,
    *,
    storage: EncryptedFileSystemStorage,
    ring: crypto.KeyRing,
    report: RotationReport,
    check_only: bool,
) -> None:
    for name in names:
        try:
            key_id = storage.sealed_key_id(name) or NOT_SEALED
        except FileNotFoundError:  # deleted since the walk listed it
            continue
        # A clear file, or one under a key no longer in the ring, cannot be re-sealed: it is only reported.
        if check_only or key_id == ring.primary_id or key_id not in ring.keys:
            counter[key_id] += 1
        elif storage.reseal(name, ring=ring):
            report.rewritten += 1
            counter[ring.primary_id] += 1
        else:  # deleted or replaced meanwhile: whatever is there now is looked at by the next run
            report.skipped_concurrent_edits += 1


def _reseal(model: type[models.Model], model_field: EncryptedTextField, stale: list, ring: crypto.KeyRing) -> list:
    """Re-seal each stale value; return the ones a concurrent write changed first (left for the next run)."""
    missed = []
    with transaction.atomic():
        for pk, binding, sealed in stale:
            context = field_context(model, model_field.name, binding)
            resealed = crypto.seal(crypto.unseal(sealed.data, context=context, ring=ring), context=context, ring=ring)
            if not _compare_and_set(model, model_field, pk, sealed, Sealed(resealed)):
                missed.append(sealed)
    return missed


def _compare_and_set(model: type[models.Model], model_field: EncryptedTextField, pk, old: Sealed, new: Sealed) -> int:
    reseal_function = getattr(model, "RESEAL_FUNCTION", None)
    if connection.vendor == "postgresql" and reseal_function:
        # An append-only table (the archive's): the application role may not UPDATE it; its owner's function
        # swaps the payload alone.
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {reseal_function}(%s, %s, %s)", [pk, old.data, new.data])
            return int(cursor.fetchone()[0])
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
