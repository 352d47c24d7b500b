from django.core.management.base import BaseCommand, CommandError

from archive.checkpoints import archive_checkpoint_create
from archive.outside import checkpoint_copies_write_missing, checkpoint_directory


class Command(BaseCommand):
    help = (
        "Seal the archive's chain heads that moved since the last checkpoint with an Ed25519 signature, and write "
        "it outside the database (PARLEY_CHECKPOINT_DIR). --copy-missing writes the outside copies that are missing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reason", default="manual", help="Recorded in the checkpoint (hourly, export, …).")
        parser.add_argument(
            "--copy-missing",
            action="store_true",
            help="Seal nothing; write the outside copy of every checkpoint that has none (after a failed write).",
        )

    def handle(self, *args, reason: str, copy_missing: bool, **options):
        if copy_missing:
            written, failed = checkpoint_copies_write_missing()
            self.stdout.write(f"wrote {len(written)} missing outside copies to {checkpoint_directory()}")
            if failed:
                raise CommandError(f"{len(failed)} checkpoint(s) still have no outside copy: see the errors above")
            return
        checkpoint = archive_checkpoint_create(reason=reason)
        self.stdout.write(f"checkpoint {checkpoint.pk} sealed ({checkpoint.document_hash})")
