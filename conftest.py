"""Test-wide rules: which real services a test needs, and isolation of the shared Redis between runs."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

IS_CI = os.environ.get("CI", "").lower() == "true"


def _service_gap(marker: str) -> str | None:
    """Why the service a marker names is unavailable in this run, or None when it is there."""
    from django.conf import settings

    if marker == "postgres":
        engine = settings.DATABASES["default"]["ENGINE"]
        if "postgresql" not in engine:
            return "PostgreSQL is not configured (set DATABASE_URL=postgres://...)"
    if marker == "redis" and not settings.REDIS_URL:
        return "Redis is not configured (set REDIS_URL=redis://...)"
    if marker == "clamd":
        from core.antivirus import scanner_ping

        if not settings.PARLEY_CLAMD_ADDRESS:
            return "ClamAV is not configured (set PARLEY_CLAMD_ADDRESS=tcp://127.0.0.1:3310)"
        if not scanner_ping():
            return f"clamd does not answer at {settings.PARLEY_CLAMD_ADDRESS}"
    if marker == "sentinel":
        missing = [binary for binary in ("redis-server", "redis-sentinel") if shutil.which(binary) is None]
        if missing:
            return f"{' and '.join(missing)} not installed (apt-get install redis-sentinel)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("postgres", "redis", "clamd", "sentinel"):
        if item.get_closest_marker(marker) is None:
            continue
        gap = _service_gap(marker)
        if gap is None:
            continue
        if IS_CI:
            pytest.fail(f"{gap}; under CI=true a missing service is a failure, not a skip.", pytrace=False)
        pytest.skip(gap)


@pytest.fixture(autouse=True, scope="session")
def _private_channel_layer_prefix() -> None:
    """Give this test process (and the daphne workers it starts) its own key prefix in the shared Redis."""
    from django.conf import settings

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    settings.PARLEY_CHANNEL_PREFIX = f"parley-test-{worker}-{uuid.uuid4().hex[:8]}"
    layer = settings.CHANNEL_LAYERS["default"]
    if "CONFIG" in layer:
        layer["CONFIG"]["prefix"] = settings.PARLEY_CHANNEL_PREFIX


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say up front which real services this run uses, so a CI log shows PostgreSQL and Redis were tested."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    return [
        f"parley database: {database['ENGINE'].rsplit('.', 1)[-1]} ({database.get('HOST') or database['NAME']})",
        f"parley channel layer: {layer}"
        + (f" at {settings.REDIS_URL}" if settings.REDIS_URL else "")
        + (f" via sentinels {settings.PARLEY_REDIS_SENTINELS}" if settings.PARLEY_REDIS_SENTINELS else ""),
        f"parley CI mode: {IS_CI} (a missing service {'fails' if IS_CI else 'skips'} the tests that need it)",
    ]


@pytest.fixture(autouse=True)
def _fresh_send_rate_limit() -> None:
    """The send rate limit is per process; one test's burst must not throttle the next test's sends."""
    from messenger import services

    services.send_rate_limit.reset()


@pytest.fixture(scope="session")
def django_db_modify_db_settings() -> None:
    """Name the test database after this run, so test runs started side by side never share one.

    xdist workers of one run share PYTEST_XDIST_TESTRUNUID and add their own worker id.
    """
    from django.conf import settings

    # No connection pool in the test process: pooled connections outlive the tests and keep PostgreSQL from
    # dropping the test database. (The daphne workers that tests start use the pool, as production does.)
    settings.DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", _RUN_ID)[:8]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    test_settings = settings.DATABASES["default"].setdefault("TEST", {})
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        test_settings["NAME"] = str(settings.VAR_DIR / f"test-{run_id}-{worker}.sqlite3")
    else:
        test_settings["NAME"] = f"test_{settings.DATABASES['default']['NAME']}_{run_id}_{worker}"


_RUN_ID = uuid.uuid4().hex


@pytest.fixture(autouse=True)
def _private_checkpoint_directory(settings, tmp_path_factory) -> None:
    """Outside copies of checkpoints (archive.outside) go to a directory of this test's own, never to var/.
    Created only when a checkpoint is written."""
    settings.PARLEY_CHECKPOINT_DIR = tmp_path_factory.getbasetemp() / f"checkpoints-{uuid.uuid4().hex}"
    # Background exports likewise (archive.export_jobs), and no scheduled export unless a test configures one.
    settings.PARLEY_EXPORT_DIR = tmp_path_factory.getbasetemp() / f"exports-{uuid.uuid4().hex}"
    settings.PARLEY_SCHEDULED_EXPORT_TARGET = ""


@pytest.fixture
def alice():
    """A user called alice: most behaviour needs someone to do it."""
    from accounts.tests.factories import UserFactory

    return UserFactory(username="alice")


@pytest.fixture
def bob():
    from accounts.tests.factories import UserFactory

    return UserFactory(username="bob")


@pytest.fixture(scope="session", autouse=True)
def _no_lingering_database_sessions(django_db_setup, django_db_blocker):
    """End sessions other threads left open (socket handlers run in a thread pool) so the test database
    can be dropped at the end instead of piling up on the server."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """Before any fixture is torn down: let Web Pushes queued by the test's sends finish. They run after commit
    in a thread of their own (messenger.push) and read subscriptions; a transactional test's TRUNCATE racing
    one of them was a deadlock at teardown (seen on PostgreSQL under load)."""
    from messenger.push import pushes_drain

    pushes_drain()
    return (yield)
