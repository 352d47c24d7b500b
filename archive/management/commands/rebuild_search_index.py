from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from archive.models import ArchiveEntry
from archive.services import REBUILD_BATCH, RebuildProgress, search_index_rebuild
from core.crypto import configured_key_ring


class Command(BaseCommand):
    help = (
        "Re-tokenize the archive's search index under the primary key (the first in PARLEY_ENCRYPTION_KEYS), in "
        "batches, while the server keeps serving: run it after rotate_keys, before removing the old key. Safe to "
        "interrupt; --after-id resumes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=REBUILD_BATCH, help=f"Entries per batch (default {REBUILD_BATCH})."
        )
        parser.add_argument("--after-id", type=int, default=0, help="Resume after this entry id (printed on stop).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs and cron).")

    def handle(self, *args, batch_size: int, after_id: int, no_progress: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if after_id < 0:
            raise CommandError("--after-id must not be negative")
        primary = configured_key_ring().primary_id
        total = ArchiveEntry.objects.filter(pk__gt=after_id).count()
        progress = RebuildProgress(after_id=after_id)
        try:
            with tqdm(total=total, unit="entry", disable=no_progress, file=self.stderr._out) as bar:
                for progress in search_index_rebuild(after_id=after_id, batch_size=batch_size):
                    bar.update(progress.entries - bar.n)
        except KeyboardInterrupt:
            raise CommandError(f"interrupted: run again with --after-id {progress.after_id} to go on") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"re-indexed {progress.entries} entries ({progress.tokens} tokens) under {primary}: "
                f"no token of an older key is left"
            )
        )
