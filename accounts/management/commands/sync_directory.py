import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.errors import ParleyError


class Command(BaseCommand):
    help = (
        "Create, update and deactivate accounts from the LDAP / Active Directory directory (docs/directory.md). "
        "--dry-run reports what would change and writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Read the directory and report; write nothing.")

    def handle(self, *args, dry_run: bool, **options):
        if not settings.PARLEY_LDAP_SERVER_URI:
            raise CommandError("LDAP is not configured: set PARLEY_LDAP_SERVER_URI (docs/directory.md).")
        # Here, not at the top: python-ldap is an optional dependency (requirements-ldap.txt).
        from accounts.ldap_sync import directory_sync

        with tqdm(unit="person", disable=not sys.stderr.isatty(), file=sys.stderr) as bar:

            def progress(count: int, total: int) -> None:
                bar.total = total
                bar.update(count)

            try:
                report = directory_sync(dry_run=dry_run, progress=progress)
            except ParleyError as error:
                raise CommandError(error.message) from None
        width = max((len(row.username) for row in report.rows), default=0)
        for row in report.rows:
            if row.outcome == "unchanged" and options["verbosity"] < 2:
                continue
            style = self.style.ERROR if row.outcome == "error" else str
            self.stdout.write(style(f"{row.username:<{width}}  {row.describe()}"))
        self.stdout.write(self.style.SUCCESS(report.summary()))
        if report.errors:
            raise CommandError(f"{len(report.errors)} people were skipped; see the errors above.")
