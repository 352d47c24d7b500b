"""Background exports (ExportJob) and the daily scheduled export's record of days (ScheduledExportRun).

Imported by archive.models, so they belong to the archive app. The logic is in archive.export_jobs and
archive.scheduled_exports.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from core.fields import EncryptedTextField


class ExportJob(models.Model):
    """An export a compliance officer asked for, run by the worker (`run_archive_jobs`), stored sealed in chunks
    (core.sealed_stream) under PARLEY_EXPORT_DIR and downloadable by that officer alone until it expires."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        EXPIRED = "expired"  # done, and its file deleted after PARLEY_EXPORT_KEEP_DAYS

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # binds the criteria and the file
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    export_format = models.CharField(max_length=10)
    # The search (archive.selectors.ArchiveSearch.criteria()) as JSON, sealed: what compliance looks for is as
    # confidential as what it finds (the audit log seals the words too).
    criteria = EncryptedTextField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    entries_done = models.PositiveBigIntegerField(default=0)
    entries_total = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved on with every progress write: a running job whose heartbeat stops was lost with its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    file_name = models.CharField(max_length=200, blank=True)  # under PARLEY_EXPORT_DIR; "" when none is kept
    size = models.PositiveBigIntegerField(null=True, blank=True)  # of the clear ZIP
    sha256 = models.CharField(max_length=64, blank=True)  # of the clear ZIP, checked again at each download

    class Meta:
        ordering = ("-created_at", "-pk")
        indexes = [models.Index(fields=("state", "created_at"), name="archive_exportjob_state_idx")]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.export_format}, {self.state})"


class ScheduledExportRun(models.Model):
    """One day of the daily export to PARLEY_SCHEDULED_EXPORT_TARGET: one row per day, so a day is sent once
    (the unique day) and a missed or failed day is found and sent later (archive.scheduled_exports)."""

    class State(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    day = models.DateField(unique=True)
    target = models.CharField(max_length=500)  # without any password: the target as configured
    export_format = models.CharField(max_length=10)
    state = models.CharField(max_length=8, choices=State.choices, default=State.RUNNING)
    attempts = models.PositiveSmallIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    entries = models.PositiveBigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ("-day",)

    def __str__(self) -> str:
        return f"scheduled export of {self.day} ({self.state})"
