import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connections

from archive.checkpoints import archive_checkpoint_create
from archive.export_jobs import export_jobs_step
from archive.retention import RetentionBelowFloor, apply_retention
from archive.scheduled_exports import ScheduledExportMisconfigured, scheduled_export_step
from archive.supervision import supervision_step
from core.worker import worker_jobs

logger = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 5  # how long a stop waits for a running export (compose's SIGKILL follows after 10 s)


@dataclass
class Job:
    """One of the worker's jobs: what it runs, how often, and when it is next due (time.monotonic)."""

    name: str
    run: Callable[[], None]
    every: float
    due: float = 0.0


class Command(BaseCommand):
    help = (
        "The background worker: check new archive entries against the supervision lexicons every few seconds "
        "(and draw the daily sample), run the exports the desk queues and the daily scheduled export, seal an "
        "archive checkpoint every hour and apply retention every day; with LDAP configured, sync accounts with the "
        "directory every PARLEY_LDAP_SYNC_MINUTES. Exports run in a thread of their own, so a long one holds up "
        "no checkpoint; a job that fails is logged and tried again when next due. SIGTERM stops it."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = threading.Event()  # set by SIGTERM (or a test): each lane ends after its current job

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
        archive_jobs = [
            Job("supervision", self._supervise, supervise_every),
            Job("checkpoint", self._checkpoint, checkpoint_every),
            Job("retention", self._retention, retention_every),
            # Apps above the archive hand theirs over (core.worker): calls ends the calls nobody answered.
            *(Job(job.name, partial(self._report, job.name, job.run), job.every_seconds) for job in worker_jobs()),
        ]
        if settings.PARLEY_LDAP_SERVER_URI:
            archive_jobs.append(Job("directory sync", self._sync_directory, settings.PARLEY_LDAP_SYNC_MINUTES * 60))
        export_jobs = [Job("exports", self._exports, export_every)]
        if once:  # every job, in turn; a failure is the exit status, for cron
            failed = self._run_due([*archive_jobs[:1], *export_jobs, *archive_jobs[1:]])
            if failed:
                raise CommandError(f"{', '.join(failed)} failed (the log has the error)")
            return
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        # Exports in their own lane: an export of millions of entries takes many minutes, and checkpoints,
        # supervision and retention keep their times meanwhile (each lane has its own database connection).
        exports = threading.Thread(target=self._run_lane, args=(export_jobs,), name="exports", daemon=True)
        exports.start()
        try:
            self._run_lane(archive_jobs)
        finally:
            self.stopping.set()
            # An export may have minutes to go: it is cut off with the process (its transaction rolls back) and
            # taken back by the next worker once its heartbeat is stale (archive.export_jobs).
            exports.join(timeout=STOP_GRACE_SECONDS)

    def _run_lane(self, jobs: list[Job]) -> None:
        try:
            while not self.stopping.is_set():
                self._run_due(jobs)
                self.stopping.wait(max(0.2, min(job.due for job in jobs) - time.monotonic()))
        finally:
            connections.close_all()  # this thread's

    def _run_due(self, jobs: list[Job]) -> list[str]:
        """Run the jobs that are due, each once; the names of those that failed."""
        failed = []
        for job in jobs:
            if time.monotonic() < job.due:
                continue
            close_old_connections()
            try:
                job.run()
            except Exception:  # the database away for a moment, a bug: the worker goes on, the job runs when due
                logger.exception("Worker job %s failed", job.name)
                self.stderr.write(f"{job.name} failed; trying again in {job.every} s (the log has the error)")
                failed.append(job.name)
            job.due = time.monotonic() + job.every
        return failed

    def _report(self, name: str, run: Callable[[], str | None]) -> None:
        if said := run():
            self.stdout.write(f"{name}: {said}")

    def _supervise(self) -> None:
        # Here, not on the send path: sending pays nothing for supervision (archive.supervision).
        report = supervision_step()
        if report.checked or report.days_sampled:
            self.stdout.write(
                f"supervision: checked {report.checked} entries, flagged {report.flagged}, sampled {report.sampled}"
            )
        if report.unopenable:
            self.stderr.write(f"supervision: {report.unopenable} entries did not open; run verify_archive")

    def _exports(self) -> None:
        # One job a turn, run to the end in this lane (archive.export_jobs).
        exports = export_jobs_step()
        if exports.ran is not None:
            self.stdout.write(f"export {exports.ran.pk}: {exports.ran.state} {exports.ran.error}".rstrip())
        if exports.recovered or exports.failed_lost:
            self.stderr.write(
                f"exports: {exports.recovered} lost with a stopped worker queued again, {exports.failed_lost} failed"
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

    def _checkpoint(self) -> None:
        checkpoint = archive_checkpoint_create(reason="hourly")
        self.stdout.write(f"checkpoint {checkpoint.pk} sealed")

    def _retention(self) -> None:
        # A refused run purges nothing; checkpoints go on, and the refusal shows until someone fixes it.
        try:
            report = apply_retention()
            self.stdout.write(f"retention: purged {report.purged_entries} entries")
        except RetentionBelowFloor as refusal:
            self.stderr.write(f"retention refused: {refusal}")

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
