from django.core.management.base import BaseCommand

from archive.checkpoints import archive_checkpoint_create


class Command(BaseCommand):
    help = "Seal the archive's chain heads that moved since the last checkpoint with an Ed25519 signature."

    def add_arguments(self, parser):
        parser.add_argument("--reason", default="manual", help="Recorded in the checkpoint (hourly, export, …).")

    def handle(self, *args, reason: str, **options):
        checkpoint = archive_checkpoint_create(reason=reason)
        self.stdout.write(f"checkpoint {checkpoint.pk} sealed ({checkpoint.document_hash})")
