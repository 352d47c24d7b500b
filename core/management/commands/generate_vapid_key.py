from django.core.management.base import BaseCommand

from core.webpush import application_server_key, new_vapid_private_key


class Command(BaseCommand):
    help = "Print a fresh VAPID private key for PARLEY_VAPID_PRIVATE_KEY (and, on stderr, its public half)."

    def handle(self, *args, **options):
        key = new_vapid_private_key()
        self.stdout.write(key)
        self.stderr.write(f"public key (what browsers subscribe with): {application_server_key(key)}")
