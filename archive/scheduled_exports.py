"""The daily export for an outside archiver: every day the worker exports the previous day (server time zone) to
PARLEY_SCHEDULED_EXPORT_TARGET, a directory or an SFTP server (docs/compliance.md, "Scheduled exports").

One ScheduledExportRun row per day makes it exact: the day after the last one sent is the next to send, so a
worker that was down catches up day by day, a day that failed is tried again (after RETRY_AFTER), and a day
sent is never sent again. Each file is written under a temporary name and renamed when whole, so the archiver
never picks up half a file. Over SFTP the server's host key must be in PARLEY_SCHEDULED_EXPORT_KNOWN_HOSTS: an
unknown or changed key is refused, never accepted on first use.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.utils import timezone

from archive.export import ExportBlocked
from archive.export_models import ScheduledExportRun
from archive.formats import FORMATS, HashingSink, archive_export_zip
from archive.services import archive_access_record

logger = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=10)  # a failed day (target down) is tried again this long after, not every turn
STALE_AFTER = timedelta(hours=6)  # a day "running" this long was lost with its worker; it is run again
CONNECT_TIMEOUT_SECONDS = 30


class ScheduledExportMisconfigured(Exception):
    """PARLEY_SCHEDULED_EXPORT_* cannot be used as set; says which and why."""


@dataclass(frozen=True)
class ExportTarget:
    """Where the daily files go: a local directory, or a directory on an SFTP server."""

    path: str
    host: str = ""
    port: int = 22
    username: str = ""

    @property
    def is_sftp(self) -> bool:
        return bool(self.host)

    def describe(self) -> str:
        if self.is_sftp:
            return f"sftp://{self.username}@{self.host}:{self.port}{self.path}"
        return self.path


def scheduled_export_target() -> ExportTarget | None:
    """The configured target, None when scheduled exports are off; ScheduledExportMisconfigured when set wrong."""
    spec = settings.PARLEY_SCHEDULED_EXPORT_TARGET.strip()
    if not spec:
        return None
    if settings.PARLEY_SCHEDULED_EXPORT_FORMAT not in FORMATS:
        raise ScheduledExportMisconfigured(
            f"PARLEY_SCHEDULED_EXPORT_FORMAT={settings.PARLEY_SCHEDULED_EXPORT_FORMAT!r}: one of {', '.join(FORMATS)}."
        )
    if not spec.startswith("sftp://"):
        if "://" in spec:
            raise ScheduledExportMisconfigured(
                f"PARLEY_SCHEDULED_EXPORT_TARGET={spec!r}: a directory or sftp://user@host:port/path."
            )
        if not Path(spec).is_absolute():
            raise ScheduledExportMisconfigured(f"PARLEY_SCHEDULED_EXPORT_TARGET={spec!r}: give an absolute directory.")
        return ExportTarget(path=spec)
    parts = urlsplit(spec)
    try:
        port = parts.port or 22
    except ValueError:
        raise ScheduledExportMisconfigured(
            f"PARLEY_SCHEDULED_EXPORT_TARGET={spec!r}: the port is not a number."
        ) from None
    if parts.password is not None:
        raise ScheduledExportMisconfigured(
            "PARLEY_SCHEDULED_EXPORT_TARGET holds a password: use a key (PARLEY_SCHEDULED_EXPORT_SSH_KEY) instead."
        )
    if not (parts.username and parts.hostname and parts.path not in ("", "/")):
        raise ScheduledExportMisconfigured(
            f"PARLEY_SCHEDULED_EXPORT_TARGET={spec!r}: sftp://user@host:port/path, with a user, a host and a path."
        )
    for name in ("PARLEY_SCHEDULED_EXPORT_SSH_KEY", "PARLEY_SCHEDULED_EXPORT_KNOWN_HOSTS"):
        if not getattr(settings, name) or not Path(getattr(settings, name)).is_file():
            raise ScheduledExportMisconfigured(f"{name} must name a readable file for an SFTP target.")
    return ExportTarget(path=unquote(parts.path), host=parts.hostname, port=port, username=unquote(parts.username))


# ---- writing a file whole or not at all ------------------------------------------------------------------------


@contextmanager
def _directory_file(target: ExportTarget, name: str) -> Iterator[IO[bytes]]:
    directory = Path(target.path)
    directory.mkdir(parents=True, exist_ok=True)
    partial, final = directory / f".{name}.partial", directory / name
    try:
        with partial.open("wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _sftp_file(target: ExportTarget, name: str) -> Iterator[IO[bytes]]:
    import paramiko  # only a deployment with an SFTP target pays for loading it

    client = paramiko.SSHClient()
    client.load_host_keys(settings.PARLEY_SCHEDULED_EXPORT_KNOWN_HOSTS)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())  # pinning: an unknown host is refused
    try:
        client.connect(
            target.host,
            port=target.port,
            username=target.username,
            key_filename=settings.PARLEY_SCHEDULED_EXPORT_SSH_KEY,
            look_for_keys=False,
            allow_agent=False,
            timeout=CONNECT_TIMEOUT_SECONDS,
            banner_timeout=CONNECT_TIMEOUT_SECONDS,
            auth_timeout=CONNECT_TIMEOUT_SECONDS,
        )
        sftp = client.open_sftp()
        directory = target.path.rstrip("/")
        partial, final = f"{directory}/.{name}.partial", f"{directory}/{name}"
        try:
            with sftp.open(partial, "wb") as out:
                out.set_pipelined(True)  # do not wait for each write's answer: streams at the link's speed
                yield out
            sftp.posix_rename(partial, final)  # replaces a file left by an earlier try of the same day
        except BaseException:
            with suppress(OSError):
                sftp.remove(partial)
            raise
    finally:
        client.close()


# ---- the worker's step ----------------------------------------------------------------------------------------


def scheduled_export_days_due(*, today: date) -> list[date]:
    """The days to send, oldest first: from the day after the last one sent (or, before any was sent, the first
    day tried, or yesterday) up to yesterday."""
    yesterday = today - timedelta(days=1)
    last_sent = ScheduledExportRun.objects.filter(state=ScheduledExportRun.State.DONE).order_by("-day").first()
    if last_sent is not None:
        start = last_sent.day + timedelta(days=1)
    else:
        first_tried = ScheduledExportRun.objects.order_by("day").first()
        start = first_tried.day if first_tried is not None else yesterday
    return [start + timedelta(days=offset) for offset in range((yesterday - start).days + 1)]


def scheduled_export_step(*, now: datetime | None = None) -> list[ScheduledExportRun]:
    """Send every day that is due, in order, stopping at the first that fails (it is tried again after
    RETRY_AFTER, and later days wait for it, so the archiver receives days in order). Returns the runs made."""
    target = scheduled_export_target()
    if target is None:
        return []
    now = now or timezone.now()
    clock = timezone.now()  # waits are measured by the clock; `now` (tests: another day) decides what is due
    runs = []
    for day in scheduled_export_days_due(today=timezone.localdate(now)):
        run = ScheduledExportRun.objects.filter(day=day).first()
        if run is not None and run.state == ScheduledExportRun.State.FAILED and run.finished_at > clock - RETRY_AFTER:
            break
        if run is not None and run.state == ScheduledExportRun.State.RUNNING and run.started_at > clock - STALE_AFTER:
            break  # another worker is sending it
        run = scheduled_export_run(day=day, target=target)
        runs.append(run)
        if run.state != ScheduledExportRun.State.DONE:
            break
    return runs


def scheduled_export_run(*, day: date, target: ExportTarget) -> ScheduledExportRun:
    """Export one day (midnight to midnight, server time zone) to the target; the day's row says how it went."""
    export_format = settings.PARLEY_SCHEDULED_EXPORT_FORMAT
    name = f"parley-{day.isoformat()}-{export_format}.zip"
    run, _ = ScheduledExportRun.objects.update_or_create(
        day=day,
        defaults={
            "target": target.describe(),
            "export_format": export_format,
            "state": ScheduledExportRun.State.RUNNING,
            "started_at": timezone.now(),
            "finished_at": None,
            "error": "",
            "file_name": name,
        },
    )
    ScheduledExportRun.objects.filter(pk=run.pk).update(attempts=run.attempts + 1)
    since = timezone.make_aware(datetime.combine(day, time.min))
    until = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min)) - timedelta(microseconds=1)
    opener = _sftp_file if target.is_sftp else _directory_file
    try:
        with opener(target, name) as out:
            sink = HashingSink(out)
            counts = archive_export_zip(
                out=sink, export_format=export_format, since=since, until=until, requested_by="scheduled export"
            )
    except ExportBlocked as blocked:
        return _failed(run, str(blocked))
    except Exception as error:  # the target is down, refuses us, is full: say so and try again later
        logger.exception("scheduled export of %s to %s failed", day, target.describe())
        return _failed(run, f"{type(error).__name__}: {error}")
    ScheduledExportRun.objects.filter(pk=run.pk).update(
        state=ScheduledExportRun.State.DONE,
        finished_at=timezone.now(),
        size=sink.size,
        sha256=sink.digest.hexdigest(),
        entries=counts["entries"],
    )
    run.refresh_from_db()
    details = {"via": "scheduled export", "day": day.isoformat(), "target": target.describe(), "file": name}
    archive_access_record(user=None, action="export", details={**details, "sha256": run.sha256, **counts})
    return run


def _failed(run: ScheduledExportRun, error: str) -> ScheduledExportRun:
    ScheduledExportRun.objects.filter(pk=run.pk).update(
        state=ScheduledExportRun.State.FAILED, finished_at=timezone.now(), error=error[:2000]
    )
    run.refresh_from_db()
    return run
