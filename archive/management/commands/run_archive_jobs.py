import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from archive.checkpoints import archive_checkpoint_create
from archive.retention import RetentionBelowFloor, apply_retention


class Command(BaseCommand):
    help = "The background worker: seal an archive checkpoint every hour and apply retention every day."

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint-every", type=int, default=3600, help="Seconds between checkpoints.")
        parser.add_argument("--retention-every", type=int, default=86400, help="Seconds between retention runs.")
        parser.add_argument("--once", action="store_true", help="Run each job once and exit (cron, tests).")

    def handle(self, *args, checkpoint_every: int, retention_every: int, once: bool, **options):
        next_checkpoint = next_retention = time.monotonic()
        while True:
            close_old_connections()
            now = time.monotonic()
            if now >= next_checkpoint:
                checkpoint = archive_checkpoint_create(reason="hourly")
                self.stdout.write(f"checkpoint {checkpoint.pk} sealed")
                next_checkpoint = now + checkpoint_every
            if now >= next_retention:
                # A refused run purges nothing; checkpoints go on, and the refusal shows until someone fixes it.
                try:
                    report = apply_retention()
                    self.stdout.write(f"retention: purged {report.purged_entries} entries")
                except RetentionBelowFloor as refusal:
                    self.stderr.write(f"retention refused: {refusal}")
                next_retention = now + retention_every
            if once:
                return
            time.sleep(max(1.0, min(next_checkpoint, next_retention) - time.monotonic()))
