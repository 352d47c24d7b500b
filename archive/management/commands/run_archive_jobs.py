import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from archive.checkpoints import archive_checkpoint_create
from archive.export_jobs import export_jobs_step
from archive.retention import RetentionBelowFloor, apply_retention
from archive.scheduled_exports import ScheduledExportMisconfigured, scheduled_export_step
from archive.supervision import supervision_step


class Command(BaseCommand):
    help = (
        "The background worker: check new archive entries against the supervision lexicons every few seconds "
        "(and draw the daily sample), run the exports the desk queues and the daily scheduled export, seal an "
        "archive checkpoint every hour and apply retention every day; with LDAP configured, sync accounts with the "
        "directory every PARLEY_LDAP_SYNC_MINUTES."
    )

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint-every", type=int, default=3600, help="Seconds between checkpoints.")
        parser.add_argument("--retention-every", type=int, default=86400, help="Seconds between retention runs.")
        parser.add_argument(
            "--supervise-every", type=int, default=10, help="Seconds between supervision steps (lexicons, sampling)."
        )
        parser.add_argument(
            "--export-every", type=int, default=5, help="Seconds between looks for queued exports (and expired ones)."
        )
        parser.add_argument("--once", action="store_true", help="Run each job once and exit (cron, tests).")

    def handle(
        self,
        *args,
        checkpoint_every: int,
        retention_every: int,
        supervise_every: int,
        export_every: int,
        once: bool,
        **options,
    ):
        next_checkpoint = next_retention = next_supervision = next_export = next_directory = time.monotonic()
        directory_every = settings.PARLEY_LDAP_SYNC_MINUTES * 60 if settings.PARLEY_LDAP_SERVER_URI else None
        while True:
            close_old_connections()
            now = time.monotonic()
            if now >= next_supervision:
                # Here, not on the send path: sending pays nothing for supervision (archive.supervision).
                report = supervision_step()
                if report.checked or report.days_sampled:
                    self.stdout.write(
                        f"supervision: checked {report.checked} entries, flagged {report.flagged}, "
                        f"sampled {report.sampled}"
                    )
                if report.unopenable:
                    self.stderr.write(f"supervision: {report.unopenable} entries did not open; run verify_archive")
                next_supervision = now + supervise_every
            if now >= next_export:
                # One job a turn, run here to the end: a long export delays the other jobs of this loop, which
                # catch up on the next turn (supervision reads from a cursor, checkpoints and retention by time).
                exports = export_jobs_step()
                if exports.ran is not None:
                    self.stdout.write(f"export {exports.ran.pk}: {exports.ran.state} {exports.ran.error}".rstrip())
                if exports.recovered or exports.failed_lost:
                    self.stderr.write(
                        f"exports: {exports.recovered} lost with a stopped worker queued again, "
                        f"{exports.failed_lost} failed"
                    )
                if exports.expired:
                    self.stdout.write(f"exports: {exports.expired} expired and deleted")
                # The daily file for an outside archiver: a query when nothing is due (archive.scheduled_exports).
                try:
                    for run in scheduled_export_step():
                        line = f"scheduled export of {run.day}: {run.state} {run.error}".rstrip()
                        (self.stdout if run.state == "done" else self.stderr).write(line)
                except ScheduledExportMisconfigured as refusal:
                    self.stderr.write(f"scheduled export refused: {refusal}")
                next_export = time.monotonic() + export_every
            if now >= next_checkpoint:
                checkpoint = archive_checkpoint_create(reason="hourly")
                self.stdout.write(f"checkpoint {checkpoint.pk} sealed")
                next_checkpoint = now + checkpoint_every
            if now >= next_retention:
                # A refused run purges nothing; checkpoints go on, and the refusal shows until someone fixes it.
                try:
                    report = apply_retention()
                    self.stdout.write(f"retention: purged {report.purged_entries} entries")
                except RetentionBelowFloor as refusal:
                    self.stderr.write(f"retention refused: {refusal}")
                next_retention = now + retention_every
            if directory_every is not None and now >= next_directory:
                self._sync_directory()
                next_directory = time.monotonic() + directory_every
            if once:
                return
            due = [next_checkpoint, next_retention, next_supervision, next_export]
            if directory_every is not None:
                due.append(next_directory)
            time.sleep(max(1.0, min(due) - time.monotonic()))

    def _sync_directory(self) -> None:
        """Accounts in step with LDAP (accounts.ldap): joiners created, leavers deactivated (their sockets close)."""
        # Imported here: python-ldap is optional (requirements-ldap.txt) and needed only when LDAP is configured.
        from accounts.ldap_sync import directory_sync
        from core.errors import ParleyError

        try:
            report = directory_sync()
        except ParleyError as refusal:
            self.stderr.write(f"directory sync refused: {refusal.message}")
            return
        for row in report.errors:
            self.stderr.write(f"directory sync skipped {row.username}: {row.describe()}")
        self.stdout.write(f"directory sync: {report.summary()}")
