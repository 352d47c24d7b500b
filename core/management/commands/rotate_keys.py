from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core import crypto
from core.key_rotation import encrypted_values_total, keys_rotate


class Command(BaseCommand):
    help = (
        "Re-seal every encrypted value and file under the newest key (the first in PARLEY_ENCRYPTION_KEYS), in "
        "batches, while the server keeps serving. Safe to interrupt and run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows or files per batch (default 500).")
        parser.add_argument("--max-batches", type=int, help="Stop after this many batches (run again to go on).")
        parser.add_argument(
            "--check", action="store_true", help="Rewrite nothing; exit non-zero while any value uses a retired key."
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, batch_size, max_batches, check, no_progress, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        primary = crypto.configured_key_ring().primary_id
        with tqdm(total=encrypted_values_total(), unit="value", disable=no_progress, file=self.stderr._out) as bar:
            report = keys_rotate(batch_size=batch_size, max_batches=max_batches, check_only=check, on_batch=bar.update)
        for label, counter in report.keys_in_use.items():
            in_use = ", ".join(f"{key}: {count}" for key, count in sorted(counter.items())) or "no values"
            self.stdout.write(f"{label}: {in_use}")
        retired = report.values_under_retired_keys(primary)
        if not check:
            self.stdout.write(f"re-sealed {report.rewritten} values under {primary}")
        if report.skipped_concurrent_edits:
            self.stdout.write(f"{report.skipped_concurrent_edits} values changed meanwhile: run again")
        if not report.finished:
            self.stdout.write("stopped before the end: run again to finish")
        if check and (retired or not report.finished):
            raise CommandError(f"{retired} values still use a retired key (or are not sealed); run rotate_keys")
        if not check and report.finished and retired:
            self.stdout.write(f"{retired} values could not be re-sealed (not sealed, or under a key not in the ring)")
        if not check and report.finished and not retired:
            self.stdout.write(self.style.SUCCESS(f"every value uses {primary}"))
        if not check and report.finished:
            # The archive's search tokens are keyed hashes, not sealed values: rotation cannot re-seal them. Until
            # they are rebuilt the search looks a word up under every key in the ring, so removing a key first
            # would hide what was indexed under it.
            self.stdout.write(
                "now run `manage.py rebuild_search_index` (the archive's search index, under the new key); "
                "remove older keys from PARLEY_ENCRYPTION_KEYS only after it finished"
            )
