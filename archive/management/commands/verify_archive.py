from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from archive.models import ArchiveEntry
from archive.verification import archive_verify


class Command(BaseCommand):
    help = "Check every archive entry's hash and chain link, and that every message has its entry."

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs and cron).")

    def handle(self, *args, no_progress: bool, **options):
        total = ArchiveEntry.objects.count()
        with tqdm(total=total, unit="entry", disable=no_progress, file=self.stderr._out) as bar:
            report = archive_verify(on_entry=lambda: bar.update())
        self.stdout.write(
            f"checked {report.entries_checked} entries in {report.chains_checked} chains "
            f"and {report.messages_checked} messages; {report.checkpoints_checked} checkpoints; "
            f"{len(report.purged)} ranges purged under retention, each vouched for by its purge record"
        )
        if options["verbosity"] > 1:
            for conversation_id, first, last in report.purged:
                self.stdout.write(f"conversation {conversation_id}: positions {first}..{last} purged")
        if report.is_intact:
            self.stdout.write(self.style.SUCCESS("archive intact"))
            return
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(str(problem)))
        raise CommandError(f"archive verification failed: {len(report.problems)} problem(s)")
