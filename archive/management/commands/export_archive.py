from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from archive.export import ExportBlocked, archive_export


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = parse_datetime(value)
    if moment is None:
        raise CommandError(f"{value!r} is not an ISO 8601 date and time")
    return moment


class Command(BaseCommand):
    help = "Export archive chains as verifiable JSON Lines (see docs/compliance.md); seals a checkpoint first."

    def add_arguments(self, parser):
        parser.add_argument("output", help="File to write (JSON Lines).")
        parser.add_argument("--conversation", type=int, action="append", help="Only these conversations.")
        parser.add_argument("--since", help="Mark entries from this moment (ISO 8601) as in range.")
        parser.add_argument("--until", help="Mark entries up to this moment (ISO 8601) as in range.")
        parser.add_argument("--requested-by", default="operator", help="Recorded in the export header.")

    def handle(self, *args, output, conversation, since, until, requested_by, **options):
        try:
            with open(output, "w", encoding="utf-8") as out:
                counts = archive_export(
                    out=out,
                    conversation_ids=conversation,
                    since=_moment(since),
                    until=_moment(until),
                    requested_by=requested_by,
                )
        except ExportBlocked as blocked:
            raise CommandError(str(blocked)) from None
        self.stdout.write(
            f"wrote {counts['entries']} entries ({counts['in_range']} in range), {counts['files']} shared files and "
            f"{counts['checkpoints']} checkpoints to {output}"
        )
