"""End calls still ringing past PARLEY_CALL_RING_SECONDS (a worker stopped before its ring timer ran)."""

from typing import Any

from django.core.management.base import BaseCommand

from calls.services import calls_ring_overdue_expire


class Command(BaseCommand):
    help = "End every call that rang past PARLEY_CALL_RING_SECONDS unanswered: each becomes a missed call."

    def handle(self, *args: Any, **options: Any) -> None:
        ended = calls_ring_overdue_expire()
        self.stdout.write(f"{ended} unanswered call(s) ended as missed.")
