import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from core.health import REQUIRED_CHECKS
from core.testing import BASE_DIR, free_port

required_ok = {"database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_healthz_is_200_when_database_and_channel_layer_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"] | {"virus_scanner": None} == required_ok | {"virus_scanner": None}


@pytest.mark.django_db
def test_healthz_is_503_and_names_the_channel_layer_when_redis_is_unreachable(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},  # nothing listens there
        }
    }

    response = client.get("/healthz")

    assert response.status_code == 503
    assert {name: response.json()["checks"][name] for name in REQUIRED_CHECKS} == {
        "database": "ok",
        "channel_layer": "down",
    }


def test_healthz_is_503_and_names_the_database_when_postgres_is_unreachable():
    probe = (
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client(HTTP_HOST='localhost').get('/healthz');"
        "print(r.status_code, r.content.decode())"
    )
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"postgres://nobody@127.0.0.1:{free_port()}/nothing",
        PARLEY_DB_POOL_TIMEOUT="1",  # fail fast: nothing will ever answer
        LOG_LEVEL="CRITICAL",
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )

    status, body = result.stdout.split(" ", 1)
    assert status == "503", result.stderr
    assert {name: json.loads(body)["checks"][name] for name in REQUIRED_CHECKS} == {
        "database": "down",
        "channel_layer": "ok",
    }


@pytest.mark.redis
@pytest.mark.django_db
def test_healthz_checks_the_redis_channel_layer_when_redis_url_is_set(client):
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"

    response = client.get("/healthz")

    assert response.json()["checks"]["channel_layer"] == "ok"


@pytest.mark.postgres
@pytest.mark.django_db
def test_tests_run_on_postgresql_when_database_url_says_so():
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()

    assert connection.vendor == "postgresql"
    assert version.startswith("PostgreSQL")


@pytest.mark.django_db
def test_healthz_reports_a_down_virus_scanner_but_stays_ready(client, settings):
    settings.PARLEY_CLAMD_ADDRESS = "tcp://127.0.0.1:9"

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["virus_scanner"] == "down"


@pytest.mark.django_db
@pytest.mark.clamd
def test_healthz_reports_a_running_virus_scanner(client):
    assert client.get("/healthz").json()["checks"]["virus_scanner"] == "ok"


@pytest.mark.redis
async def test_the_channel_layer_check_recovers_after_a_check_that_timed_out(monkeypatch):
    """A timed-out read is cancelled, and cancelling a read unsubscribes its channel on the pub/sub layer: a probe
    that kept that channel would have failed every check after the first timeout."""
    from channels.layers import get_channel_layer

    from core import health

    layer = get_channel_layer()
    assert await health.channel_layer_is_up()

    async def lost(channel: str, message: dict) -> None:
        """The ping goes nowhere, as when Redis drops it."""

    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(layer, "send", lost, raising=False)
    assert not await health.channel_layer_is_up()
    monkeypatch.undo()

    assert await health.channel_layer_is_up()
