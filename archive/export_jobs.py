"""Exports of any size in the background: the desk queues a job, the worker (`run_archive_jobs`) runs it, the
officer who asked downloads it (docs/compliance.md, "Background exports").

Jobs are rows in our own table rather than a task queue's: one worker process to deploy and watch, and the
job's state, progress and file are where the desk reads them. The worker claims one job at a time; the ZIP
(archive/formats.py) is written straight into a chunked sealed file (core.sealed_stream), so neither memory
nor the disk ever holds it in clear, and progress is written every PROGRESS_EVERY entries (one UPDATE).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from archive.export import ExportBlocked
from archive.export_models import ExportJob
from archive.formats import FORMATS, HashingSink, archive_export_zip
from archive.selectors import ArchiveSearch, conversations_matching, entries_in_range
from archive.services import archive_access_record
from core import crypto
from core.sealed_stream import SealedWriter, sealed_chunks, sealed_file_check

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 500  # entries between progress writes: about one UPDATE a second at export speed
# A running job's heartbeat is written every HEARTBEAT_SECONDS by a thread beside the export, whatever the export
# is doing (matching words before the first entry can take minutes), so a job whose heartbeat is older than
# STALE_AFTER was lost with its worker, not merely slow.
HEARTBEAT_SECONDS = 30
STALE_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 2  # a job lost twice is marked failed rather than tried forever


class ExportUnavailable(Exception):
    """The export cannot be downloaded (not finished, expired, or its file does not open); says why."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


# ---- asking for one, and reading them (the desk) ---------------------------------------------------------


def export_job_request(*, user: User, search: ArchiveSearch, export_format: str) -> ExportJob:
    """Queue an export of the conversations `search` matches; audit-logged as asked for (the worker records
    the export itself when it has run). Which conversations match is decided by the worker, not here: with
    words it means opening entries, which is not for a request."""
    if export_format not in FORMATS:
        raise ValueError(f"Unknown export format {export_format!r}: one of {', '.join(FORMATS)}")
    criteria = search.criteria()
    with transaction.atomic():
        job = ExportJob.objects.create(
            requested_by=user, export_format=export_format, criteria=json.dumps(criteria, ensure_ascii=False)
        )
        details = {"criteria": criteria, "format": export_format, "job": job.pk}
        archive_access_record(user=user, action="export_requested", details=details)
    return job


def export_jobs_of(*, user: User) -> QuerySet[ExportJob]:
    """The exports `user` asked for, newest first: nobody sees another officer's exports."""
    return ExportJob.objects.filter(requested_by=user).order_by("-created_at", "-pk")


def export_job_for(*, user: User, job_id: int) -> ExportJob:
    """The one access helper for a job: `user`'s own, or ExportJob.DoesNotExist (a 404, so whether another
    officer's job exists is not told either)."""
    return ExportJob.objects.get(pk=job_id, requested_by=user)


def export_job_status(job: ExportJob) -> dict[str, Any]:
    """What the desk's progress bar polls."""
    return {
        "id": job.pk,
        "state": job.state,
        "done": job.entries_done,
        "total": job.entries_total,
        "size": job.size,
        "error": job.error,
    }


def export_search_of(job: ExportJob) -> ArchiveSearch:
    """The job's search, rebuilt from its sealed criteria."""
    criteria = json.loads(job.criteria)
    return ArchiveSearch(
        people=tuple(criteria.get("people") or ()),
        conversation_ids=tuple(criteria.get("conversation_ids") or ()),
        since=parse_datetime(criteria["since"]) if criteria.get("since") else None,
        until=parse_datetime(criteria["until"]) if criteria.get("until") else None,
        words=criteria.get("words") or "",
    )


def export_file_path(job: ExportJob) -> Path:
    return Path(settings.PARLEY_EXPORT_DIR) / f"{job.uid}.zip.sealed"


def _file_context(job: ExportJob) -> str:
    return f"export:{job.uid}"  # a sealed file copied over another job's does not open


def export_download(*, user: User, job_id: int) -> tuple[ExportJob, Iterator[bytes]]:
    """`user`'s finished export as clear ZIP chunks, checked whole first (every chunk opens, the last is there,
    the SHA-256 is the one recorded when it was made) so an altered or cut file is refused before a byte is
    sent. Audit-logged. Raises ExportJob.DoesNotExist for anyone else's job, ExportUnavailable otherwise."""
    job = export_job_for(user=user, job_id=job_id)
    if job.state == ExportJob.State.EXPIRED:
        raise ExportUnavailable("This export has expired and its file was deleted; export again.", status=410)
    if job.state != ExportJob.State.DONE:
        raise ExportUnavailable(f"This export is {job.state}, not ready to download.", status=409)
    path = export_file_path(job)
    try:
        digest = sealed_file_check(path, context=_file_context(job))
    except FileNotFoundError:
        raise ExportUnavailable("This export's file is missing from storage; export again.", status=410) from None
    except crypto.DecryptionError as error:
        logger.error("export %s does not open: %s", job.pk, error)
        raise ExportUnavailable(
            f"This export's file does not open ({error}); it was not sent. Export again, and tell IT.", status=409
        ) from None
    if digest != job.sha256:
        raise ExportUnavailable("This export's file is not the one made; it was not sent. Export again.", status=409)
    archive_access_record(
        user=user, action="export_download", details={"job": job.pk, "format": job.export_format, "sha256": digest}
    )

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as source:
            yield from sealed_chunks(source, context=_file_context(job))

    return job, chunks()


# ---- the worker ----------------------------------------------------------------------------------------------


@dataclass
class ExportJobsReport:
    ran: ExportJob | None = None
    recovered: int = 0
    failed_lost: int = 0
    expired: int = 0


def export_jobs_step() -> ExportJobsReport:
    """One turn of the worker: take back jobs lost with a crashed worker, run the oldest queued job, delete
    expired files."""
    report = ExportJobsReport()
    report.recovered, report.failed_lost = export_jobs_recover_lost()
    job = export_job_claim()
    if job is not None:
        export_job_run(job)
        report.ran = job
    report.expired = export_jobs_expire()
    return report


def export_job_claim() -> ExportJob | None:
    """Mark the oldest queued job running and return it, or None.

    Concurrency: on PostgreSQL the row is locked with SELECT ... FOR UPDATE SKIP LOCKED, so two workers never
    take the same job and neither waits for the other. SQLite has no row locks (Django ignores
    select_for_update there), but its transactions start IMMEDIATE (config/settings.py), taking the database's
    write lock at BEGIN: claims take turns.
    """
    with transaction.atomic():
        job = (
            ExportJob.objects.select_for_update(skip_locked=True)
            .filter(state=ExportJob.State.QUEUED)
            .order_by("created_at", "pk")
            .first()
        )
        if job is None:
            return None
        now = timezone.now()
        job.state, job.started_at, job.heartbeat_at, job.attempts = ExportJob.State.RUNNING, now, now, job.attempts + 1
        job.save(update_fields=["state", "started_at", "heartbeat_at", "attempts"])
    return job


def export_jobs_recover_lost(*, now=None) -> tuple[int, int]:
    """Running jobs whose heartbeat stopped (the worker died, the machine restarted) go back to the queue, or
    are marked failed after MAX_ATTEMPTS: (requeued, failed). Their partial files are deleted."""
    now = now or timezone.now()
    lost = ExportJob.objects.filter(state=ExportJob.State.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    requeued = failed = 0
    for job in lost:
        _partial_path(job).unlink(missing_ok=True)
        if job.attempts < MAX_ATTEMPTS:
            # Conditional on the heartbeat read: a job that came back to life meanwhile is left alone.
            requeued += ExportJob.objects.filter(pk=job.pk, state=job.state, heartbeat_at=job.heartbeat_at).update(
                state=ExportJob.State.QUEUED, entries_done=0, entries_total=None
            )
        else:
            failed += ExportJob.objects.filter(pk=job.pk, state=job.state, heartbeat_at=job.heartbeat_at).update(
                state=ExportJob.State.FAILED,
                finished_at=now,
                error=f"The worker stopped while running this export, {job.attempts} times; export again.",
            )
    return requeued, failed


def _partial_path(job: ExportJob) -> Path:
    return Path(settings.PARLEY_EXPORT_DIR) / f".{job.uid}.partial"


class _Heartbeat(threading.Thread):
    """Moves a running job's heartbeat on every HEARTBEAT_SECONDS until stopped, on a connection of its own."""

    def __init__(self, job_id: int) -> None:
        super().__init__(name=f"export-{job_id}-heartbeat", daemon=True)
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(HEARTBEAT_SECONDS):
                ExportJob.objects.filter(pk=self.job_id, state=ExportJob.State.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        except Exception:  # the export goes on; at worst the job is taken back as lost and run again
            logger.exception("heartbeat of export %s stopped", self.job_id)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def export_job_run(job: ExportJob) -> None:
    """Run a claimed job to done or failed, with a heartbeat beside it."""
    heartbeat = _Heartbeat(job.pk)
    heartbeat.start()
    try:
        _export_job_run(job)
    finally:
        heartbeat.stop()


def _export_job_run(job: ExportJob) -> None:
    """The file is written aside and renamed when whole and sealed."""
    search = export_search_of(job)
    directory = Path(settings.PARLEY_EXPORT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    partial, final = _partial_path(job), export_file_path(job)
    done = 0

    def progress(count: int) -> None:
        nonlocal done
        done += count
        if done % PROGRESS_EVERY == 0:
            ExportJob.objects.filter(pk=job.pk, state=ExportJob.State.RUNNING).update(
                entries_done=done, heartbeat_at=timezone.now()
            )

    try:
        conversation_ids = conversations_matching(search=search)
        total = entries_in_range(conversation_ids=conversation_ids, since=search.since, until=search.until).count()
        ExportJob.objects.filter(pk=job.pk).update(entries_total=total, heartbeat_at=timezone.now())
        with open(partial, "wb") as raw:
            sealed = SealedWriter(raw, context=_file_context(job))
            sink = HashingSink(sealed)
            counts = archive_export_zip(
                out=sink,
                export_format=job.export_format,
                conversation_ids=conversation_ids,
                since=search.since,
                until=search.until,
                requested_by=job.requested_by.get_username(),
                progress=progress,
            )
            sealed.close()
            os.fsync(raw.fileno())
        os.replace(partial, final)
    except ExportBlocked as blocked:
        _finish_failed(job, str(blocked), partial)
        return
    except Exception as error:  # the worker goes on with its other jobs; the officer sees that it failed
        logger.exception("export %s failed", job.pk)
        _finish_failed(
            job, f"The export failed ({type(error).__name__}); IT can find why in the worker's log.", partial
        )
        return
    ExportJob.objects.filter(pk=job.pk).update(
        state=ExportJob.State.DONE,
        entries_done=done,
        finished_at=timezone.now(),
        file_name=final.name,
        size=sink.size,
        sha256=sink.digest.hexdigest(),
    )
    job.refresh_from_db()
    details = {"job": job.pk, "format": job.export_format, "conversation_ids": conversation_ids, **counts}
    archive_access_record(user=job.requested_by, action="export", details={"criteria": search.criteria(), **details})


def _finish_failed(job: ExportJob, error: str, partial: Path) -> None:
    partial.unlink(missing_ok=True)
    ExportJob.objects.filter(pk=job.pk).update(state=ExportJob.State.FAILED, finished_at=timezone.now(), error=error)
    job.refresh_from_db()


def export_jobs_expire(*, now=None) -> int:
    """Delete the files of exports finished more than PARLEY_EXPORT_KEEP_DAYS ago; the rows stay, as expired,
    so the desk and the audit log still say what was exported. Returns how many expired."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.PARLEY_EXPORT_KEEP_DAYS)
    expired = 0
    for job in ExportJob.objects.filter(state=ExportJob.State.DONE, finished_at__lt=cutoff):
        export_file_path(job).unlink(missing_ok=True)
        expired += ExportJob.objects.filter(pk=job.pk, state=ExportJob.State.DONE).update(
            state=ExportJob.State.EXPIRED, file_name=""
        )
    return expired
