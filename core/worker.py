"""Jobs that apps hand to the background worker (`manage.py run_archive_jobs`), which lives in archive and may
not import the apps above it (calls, games; docs/architecture.md, "Layers"). An app registers its jobs in its
AppConfig.ready(); the worker runs them in its lane beside checkpoints and supervision, each every so often,
surviving a failure like its own jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerJob:
    name: str
    run: Callable[[], str | None]  # what to print, if anything
    every_seconds: float


_registered: dict[str, WorkerJob] = {}


def worker_job_register(*, name: str, run: Callable[[], str | None], every_seconds: float) -> None:
    """Have the worker call `run` every `every_seconds` (and once with --once); a name registered again replaces
    its job (ready() may run more than once in tests)."""
    _registered[name] = WorkerJob(name=name, run=run, every_seconds=every_seconds)


def worker_jobs() -> list[WorkerJob]:
    return list(_registered.values())
