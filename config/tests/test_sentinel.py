"""Redis behind Sentinel: PARLEY_REDIS_SENTINELS points the channel layer and presence at whichever Redis the
sentinels call primary, and both keep working when the primary dies and a replica is promoted.
"""

from __future__ import annotations

import runpy

import pytest

from config.tests.test_settings import run_django
from core.testing import BASE_DIR


def settings_from_environment(monkeypatch, tmp_path, **variables: str) -> dict:
    """Run config/settings.py as a deployment would, with these variables, and return what it defines."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("PARLEY_VAR_DIR", str(tmp_path / "var"))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_DIR / "config" / "settings.py"))


def test_the_channel_layer_and_presence_both_ask_the_sentinels(monkeypatch, tmp_path):
    defined = settings_from_environment(
        monkeypatch,
        tmp_path,
        PARLEY_REDIS_SENTINELS="10.0.0.1:26379, sentinel-b:26380,[::1]:26381",
        PARLEY_REDIS_SENTINEL_MASTER="chat",
    )

    host = defined["REDIS_HOST"]
    assert host["sentinels"] == [("10.0.0.1", 26379), ("sentinel-b", 26380), ("::1", 26381)]
    assert host["master_name"] == "chat"
    assert defined["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"] == [host]
    assert host["socket_timeout"] == defined["REDIS_CONNECTION_OPTIONS"]["socket_timeout"]


def test_redis_url_alone_keeps_its_single_redis(monkeypatch, tmp_path):
    defined = settings_from_environment(monkeypatch, tmp_path, REDIS_URL="redis://127.0.0.1:6379/0")

    assert defined["REDIS_HOST"]["address"] == "redis://127.0.0.1:6379/0"
    assert defined["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"] == [defined["REDIS_HOST"]]


@pytest.mark.parametrize(
    ("variables", "complaint"),
    [
        ({"PARLEY_REDIS_SENTINELS": "sentinel-a"}, "PARLEY_REDIS_SENTINELS must be host:port pairs"),
        ({"PARLEY_REDIS_SENTINELS": "sentinel-a:port"}, "not 'sentinel-a:port'"),
        ({"PARLEY_REDIS_SENTINELS": "sentinel-a:70000"}, "host:port pairs"),
        (
            {"PARLEY_REDIS_SENTINELS": "sentinel-a:26379", "REDIS_URL": "redis://127.0.0.1:6379/0"},
            "Set REDIS_URL or PARLEY_REDIS_SENTINELS, not both.",
        ),
    ],
)
def test_a_bad_sentinel_setting_stops_startup_with_a_clear_message(tmp_path, variables, complaint):
    result = run_django(["-c", "import django; django.setup()"], tmp_path, **variables)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert complaint in result.stderr
