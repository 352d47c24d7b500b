"""Redis behind Sentinel: PARLEY_REDIS_SENTINELS points the channel layer and presence at whichever Redis the
sentinels call primary, and both keep working when the primary dies and a replica is promoted.

The failover test runs real Debian redis-server and redis-sentinel processes on loopback (core.testing).
"""

from __future__ import annotations

import asyncio
import runpy
import time

import pytest
from channels.layers import get_channel_layer

from accounts import presence
from config.tests.test_settings import run_django
from core.health import channel_layer_is_up
from core.testing import BASE_DIR, RedisProcess, start_redis

MASTER = "parley-test"
USER_BEFORE, USER_AFTER = 4001, 4002


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


# ---- failover against real redis-sentinel ------------------------------------------------------------------


class SentinelSet:
    """A primary, one replica and three sentinels (quorum 2), as the deployment docs describe."""

    def __init__(self, tmp_path) -> None:
        self.processes: list[RedisProcess] = []
        self.primary = self._start(tmp_path, [])
        self.replica = self._start(tmp_path, [f"replicaof 127.0.0.1 {self.primary.port}"])
        self.sentinels = [
            self._start(
                tmp_path,
                [
                    f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2",
                    # Low, so the test fails over in seconds; production keeps Debian's defaults (docs).
                    f"sentinel down-after-milliseconds {MASTER} 500",
                    f"sentinel failover-timeout {MASTER} 3000",
                ],
                sentinel=True,
            )
            for _ in range(3)
        ]

    def _start(self, tmp_path, directives: list[str], *, sentinel: bool = False) -> RedisProcess:
        process = start_redis(tmp_path, directives=directives, sentinel=sentinel)
        self.processes.append(process)
        return process

    @property
    def addresses(self) -> str:
        return ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)

    def replica_is_promoted(self) -> bool:
        """Whether every sentinel now names the replica as a healthy primary (what redis-py asks them).

        Until they agree, a client may be told there is no primary at all: for those seconds Redis is down.
        """
        for sentinel in self.sentinels:
            state = sentinel.client().sentinel_master(MASTER)
            if state["port"] != self.replica.port or not state["is_master"] or state["is_sdown"] or state["is_odown"]:
                return False
        return True

    def wait_until(self, condition, what: str, *, seconds: float = 60) -> None:
        # Not a speed check: only a bound, so a broken setup fails instead of hanging the run.
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"sentinels: {what} within {seconds} s; logs:\n{self.logs()}")
            time.sleep(0.1)

    def wait_until_watched(self) -> None:
        """Until every sentinel knows the replica (in sync) and the other two: only then can they fail over."""

        def ready() -> bool:
            for sentinel in self.sentinels:
                client = sentinel.client()
                replicas = client.sentinel_slaves(MASTER)
                in_sync = [r for r in replicas if r["port"] == self.replica.port and r["master-link-status"] == "ok"]
                if not in_sync or len(client.sentinel_sentinels(MASTER)) < 2:
                    return False
            return True

        self.wait_until(ready, "did not all see the replica and each other")

    def logs(self) -> str:
        return "\n".join(f"-- port {p.port}\n{p.log()[-3000:]}" for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


@pytest.fixture
def sentinel_set(tmp_path):
    servers = SentinelSet(tmp_path)
    yield servers
    servers.stop()


async def deliver_through_group(text: str, channel: str) -> dict:
    """Send to the group until the channel hears it: what is published while a worker's subscriber is still
    reconnecting to the new primary reaches nobody (pub/sub keeps nothing; clients fill such gaps with sync).
    The receive is never cancelled in between: cancelling it would unsubscribe the channel."""
    layer = get_channel_layer()
    receiving = asyncio.ensure_future(layer.receive(channel))
    for _attempt in range(60):  # not a speed check: a bound of 30 s, so a broken failover fails
        await layer.group_send("sentinel-room", {"type": "chat.message", "text": text})
        done, _ = await asyncio.wait({receiving}, timeout=0.5)
        if done:
            return receiving.result()
    receiving.cancel()
    raise AssertionError(f"{text!r} never reached the group's channel")


@pytest.mark.sentinel
async def test_channel_layer_and_presence_carry_on_after_the_primary_dies(
    sentinel_set, settings, monkeypatch, tmp_path
):
    await asyncio.to_thread(sentinel_set.wait_until_watched)
    defined = settings_from_environment(
        monkeypatch,
        tmp_path,
        PARLEY_REDIS_SENTINELS=sentinel_set.addresses,
        PARLEY_REDIS_SENTINEL_MASTER=MASTER,
        PARLEY_CHANNEL_PREFIX=settings.PARLEY_CHANNEL_PREFIX,
    )
    settings.REDIS_URL = ""
    settings.REDIS_HOST = defined["REDIS_HOST"]
    settings.CHANNEL_LAYERS = defined["CHANNEL_LAYERS"]
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("sentinel-room", channel)

    assert (await deliver_through_group("before", channel))["text"] == "before"
    opened = await presence.connection_opened(user_id=USER_BEFORE, connection_id="tab-1", choice="auto")
    assert opened.state == "available"
    assert await presence.connections_refreshed([(USER_BEFORE, "tab-1")]) == []  # the heartbeat's script, loaded
    # Replication is asynchronous: make sure the replica holds presence before the primary dies.
    assert sentinel_set.primary.client().wait(1, 10_000) == 1

    sentinel_set.primary.kill()
    await asyncio.to_thread(sentinel_set.wait_until, sentinel_set.replica_is_promoted, "no promotion")

    assert (await deliver_through_group("after", channel))["text"] == "after"
    assert await channel_layer_is_up()  # what the load balancer's /healthz probe asks
    assert (await presence.shown_states([USER_BEFORE]))[USER_BEFORE][0] == "available"
    assert await presence.connections_refreshed([(USER_BEFORE, "tab-1")]) == []  # the promoted replica runs it too
    after = await presence.connection_opened(user_id=USER_AFTER, connection_id="tab-1", choice="busy")
    assert after.state == "busy"
    promoted = sentinel_set.replica.client()
    assert promoted.hget(f"{settings.PARLEY_CHANNEL_PREFIX}:presence:user:{USER_AFTER}", "choice") == "busy"
