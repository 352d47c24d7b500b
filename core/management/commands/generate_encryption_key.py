import time

from django.core.management.base import BaseCommand

from core.crypto import new_key_entry


class Command(BaseCommand):
    help = "Print a fresh key-ring entry (<id>:<base64 of 32 random bytes>) for PARLEY_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("key_id", nargs="?", default=None, help="Name for the key (default: k<timestamp>).")

    def handle(self, *args, key_id, **options):
        self.stdout.write(new_key_entry(key_id or f"k{int(time.time())}"))
