from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from archive.models import ArchiveEntry
from archive.verification import archive_verify


class Command(BaseCommand):
    help = "Check every archive entry's hash and chain link, and that every message has its entry."

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs and cron).")
        parser.add_argument(
            "--checkpoints",
            metavar="DIR",
            type=Path,
            help="Also check the database against the checkpoints' outside copies in DIR (PARLEY_CHECKPOINT_DIR, "
            "or the third party's copy of it): finds deleted checkpoints, a cut tail, a rewound chain head.",
        )

    def handle(self, *args, no_progress: bool, checkpoints: Path | None, **options):
        if checkpoints is not None and not checkpoints.is_dir():
            raise CommandError(f"--checkpoints {checkpoints}: no such directory")
        total = ArchiveEntry.objects.count()
        with tqdm(total=total, unit="entry", disable=no_progress, file=self.stderr._out) as bar:
            report = archive_verify(on_entry=lambda: bar.update(), checkpoint_dir=checkpoints)
        self.stdout.write(
            f"checked {report.entries_checked} entries in {report.chains_checked} chains "
            f"and {report.messages_checked} messages; {report.checkpoints_checked} checkpoints; "
            f"{len(report.purged)} ranges purged under retention, each vouched for by its purge record"
        )
        if options["verbosity"] > 1:
            for conversation_id, first, last in report.purged:
                self.stdout.write(f"conversation {conversation_id}: positions {first}..{last} purged")
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(f"warning: {warning.detail}"))
        if report.is_intact:
            warned = f" ({len(report.warnings)} warning(s) above)" if report.warnings else ""
            self.stdout.write(self.style.SUCCESS(f"archive intact{warned}"))
            return
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(str(problem)))
        raise CommandError(f"archive verification failed: {len(report.problems)} problem(s)")
