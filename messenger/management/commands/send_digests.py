import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from messenger.digest import digests_enabled, digests_send


class Command(BaseCommand):
    help = (
        "Mail each person a digest of the direct messages and mentions still unread PARLEY_DIGEST_AFTER_MINUTES "
        "after they arrived. Once (cron), or every --every seconds (a worker of its own)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=int, default=0, help="Run again every this many seconds (0: once).")

    def handle(self, *args, every: int, **options):
        if not digests_enabled():
            self.stderr.write("Digests are off: PARLEY_DIGEST_AFTER_MINUTES is 0, or EMAIL_HOST is not set.")
            return
        while True:
            run = digests_send()
            self.stdout.write(f"digests: {run.sent} sent, {run.failed} failed")
            if not every:
                return
            time.sleep(every)
            close_old_connections()  # a database restart while asleep must not end the loop
