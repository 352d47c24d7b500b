from django.core.management.base import BaseCommand

from archive.signing import public_key_hex


class Command(BaseCommand):
    help = "Print the public key (hex, Ed25519) that verifies archive checkpoints; hand it to your auditor."

    def handle(self, *args, **options):
        self.stdout.write(public_key_hex())
