from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.user_import import Outcome, users_import
from core.errors import ParleyError


class Command(BaseCommand):
    help = (
        "Create and update users from a CSV file (docs/administration.md): all rows or none. "
        "--dry-run reports what would happen and writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", type=Path, help="The CSV file: username,email,name,department,title,groups[,active]"
        )
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report; write nothing.")

    def handle(self, *args, file: Path, dry_run: bool, **options):
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            report = users_import(data=data, dry_run=dry_run, actor=None)
        except ParleyError as error:
            raise CommandError(error.message) from None
        width = max((len(row.username) for row in report.rows), default=0)
        for row in report.rows:
            style = self.style.ERROR if row.outcome == Outcome.ERROR else str
            self.stdout.write(style(f"line {row.line:>5}  {row.username:<{width}}  {row.describe()}"))
        if report.has_errors:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))
