from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

from archive.export import ExportBlocked, archive_export
from archive.formats import FORMATS, archive_export_zip
from archive.selectors import entries_in_range
from archive.services import archive_access_record


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = parse_datetime(value)
    if moment is None:
        raise CommandError(f"{value!r} is not an ISO 8601 date and time")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)  # no zone: the server's


class Command(BaseCommand):
    help = (
        "Export archive chains as verifiable JSON Lines, or with --format a ZIP of EML, Actiance XML, CSV or JSON "
        "Lines with a signed manifest (see docs/compliance.md); seals a checkpoint first."
    )

    def add_arguments(self, parser):
        parser.add_argument("output", help="File to write (JSON Lines; with --format, a ZIP).")
        parser.add_argument(
            "--format",
            dest="export_format",
            choices=FORMATS,
            help="Write a ZIP in this format with a signed manifest (archive/formats.py).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        parser.add_argument("--conversation", type=int, action="append", help="Only these conversations.")
        parser.add_argument("--since", help="Only entries from this moment (ISO 8601; no zone: the server's).")
        parser.add_argument("--until", help="Only entries up to this moment (ISO 8601; no zone: the server's).")
        parser.add_argument("--requested-by", default="operator", help="Recorded in the export header.")

    def handle(self, *args, output, conversation, since, until, requested_by, export_format, no_progress, **options):
        """Written beside `output` and renamed into place only when whole: a refused export leaves no file."""
        target = Path(output)
        partial = target.with_name(f".{target.name}.partial")
        since_moment, until_moment = _moment(since), _moment(until)
        try:
            total = entries_in_range(conversation_ids=conversation, since=since_moment, until=until_moment).count()
            bar = tqdm(total=total, unit="entry", disable=no_progress, file=self.stderr._out)
            with bar:
                if export_format is None:
                    # The bar counts entries in range; chain context before and after them is written besides.
                    with partial.open("w", encoding="utf-8") as out:
                        counts = archive_export(
                            out=out,
                            conversation_ids=conversation,
                            since=since_moment,
                            until=until_moment,
                            requested_by=requested_by,
                            progress=bar.update,
                        )
                else:
                    with partial.open("wb") as out:
                        counts = archive_export_zip(
                            out=out,
                            export_format=export_format,
                            conversation_ids=conversation,
                            since=since_moment,
                            until=until_moment,
                            requested_by=requested_by,
                            progress=bar.update,
                        )
        except ExportBlocked as blocked:
            partial.unlink(missing_ok=True)
            raise CommandError(str(blocked)) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        # Who took what out of the archive is kept like an export from admin (the operator has no account here).
        criteria = {"conversation_ids": conversation, "since": since, "until": until, "format": export_format}
        details = {"via": "command line", "requested_by": requested_by, "output": str(target), "criteria": criteria}
        archive_access_record(user=None, action="export", details={**details, **counts})
        if export_format is not None:
            self.stdout.write(
                f"wrote {counts['entries']} entries and {counts['files']} shared files as a {export_format} ZIP "
                f"to {output}"
            )
            return
        self.stdout.write(
            f"wrote {counts['entries']} entries ({counts['in_range']} in range), {counts['stubs']} stubs, "
            f"{counts['files']} shared files, {counts['people']} people and {counts['checkpoints']} checkpoints "
            f"to {output}"
        )
