"""The presence store: shown state from tabs and choice, atomic per user, expiry and sweep, growing versions, the
worker's batched heartbeat.

Each test runs against the in-memory store and, when Redis is configured, against Redis.
"""

import asyncio
import math
import threading
import uuid

import pytest

from accounts import presence
from core.testing import MovableClock


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store_kind(request, settings):
    if request.param == "memory":
        settings.REDIS_HOST = None
    return request.param


TTL = 30.0


@pytest.fixture
def clock(settings, monkeypatch) -> MovableClock:
    """The store's time, moved by the test: expiry is checked to the millisecond, with no sleeping."""
    settings.PARLEY_PRESENCE_TTL_SECONDS = TTL
    moved = MovableClock()
    monkeypatch.setattr(presence, "clock", moved)
    return moved


USER = 1001


async def test_first_tab_makes_the_user_available_and_says_so_once(store_kind):
    first = await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")
    second = await presence.connection_opened(user_id=USER, connection_id="tab-2", choice="auto")

    assert (first.user_id, first.state) == (USER, "available")
    assert second is None  # a second tab changes nothing anyone sees
    await presence.connection_closed(user_id=USER, connection_id="tab-1")
    await presence.connection_closed(user_id=USER, connection_id="tab-2")


async def test_user_stays_online_while_any_tab_is_connected(store_kind):
    await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")
    await presence.connection_opened(user_id=USER, connection_id="tab-2", choice="auto")

    assert await presence.connection_closed(user_id=USER, connection_id="tab-1") is None
    last = await presence.connection_closed(user_id=USER, connection_id="tab-2")

    assert last.state == "offline"
    assert await presence.shown_states([USER]) == {}


async def test_away_only_when_every_tab_is_idle(store_kind):
    await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")
    await presence.connection_opened(user_id=USER, connection_id="tab-2", choice="auto")

    one_idle = await presence.connection_refreshed(user_id=USER, connection_id="tab-1", tab_state="idle")
    both_idle = await presence.connection_refreshed(user_id=USER, connection_id="tab-2", tab_state="idle")
    back = await presence.connection_refreshed(user_id=USER, connection_id="tab-1", tab_state="active")

    assert one_idle is None
    assert both_idle.state == "away"
    assert back.state == "available"
    assert back.version > both_idle.version
    for tab in ("tab-1", "tab-2"):
        await presence.connection_closed(user_id=USER, connection_id=tab)


@pytest.mark.parametrize(("choice", "shown"), [("busy", "busy"), ("away", "away"), ("invisible", "offline")])
async def test_an_explicit_choice_wins_over_the_tabs(store_kind, choice, shown):
    await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")

    await presence.choice_changed(user_id=USER, choice=choice)

    assert (await presence.shown_states([USER]))[USER][0] == shown
    await presence.connection_closed(user_id=USER, connection_id="tab-1")


async def test_invisible_user_connecting_is_not_announced(store_kind):
    assert await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="invisible") is None
    await presence.connection_closed(user_id=USER, connection_id="tab-1")


async def swept_for(user_id: int) -> list[tuple[int, str]]:
    """What a sweep announces about one user (other tests' leftovers in the shared store are not ours)."""
    return [(change.user_id, change.state) for change in await presence.sweep_expired() if change.user_id == user_id]


async def test_a_connection_nobody_refreshes_expires_at_its_ttl_and_the_sweep_announces_offline(store_kind, clock):
    await presence.connection_opened(user_id=USER, connection_id="dead-worker-tab", choice="auto")

    clock.advance(TTL - 0.001)
    assert await swept_for(USER) == []  # still fresh
    assert (await presence.shown_states([USER]))[USER][0] == "available"
    clock.advance(0.001)

    assert await swept_for(USER) == [(USER, "offline")]
    assert await swept_for(USER) == []  # announced once, by whichever worker swept first


async def test_a_crashed_workers_user_is_offline_by_the_first_sweep_after_ttl_from_its_last_heartbeat(
    store_kind, clock
):
    """The documented bound (docs/presence.md): a ghost lasts at most TTL + SWEEP. Its last heartbeat came at
    or before the crash, so its connection expires at most TTL after it, and every worker sweeps every SWEEP."""
    await presence.connection_opened(user_id=USER, connection_id="tab-on-crashed-worker", choice="auto")
    clock.advance(TTL / 2)
    assert await presence.connections_refreshed([(USER, "tab-on-crashed-worker")]) == []  # the last heartbeat
    clock.advance(TTL / 3)  # the worker dies here, between two beats

    clock.advance(TTL - TTL / 3 - 0.001)
    assert await swept_for(USER) == []  # one TTL after the heartbeat, less a millisecond: still shown
    clock.advance(0.001)

    assert await swept_for(USER) == [(USER, "offline")]


async def test_the_worker_heartbeat_keeps_connections_alive_with_their_tab_state(store_kind, clock):
    tabs = [(USER, "tab-1"), (USER, "tab-2")]
    for _, tab in tabs:
        await presence.connection_opened(user_id=USER, connection_id=tab, choice="auto")
        await presence.connection_refreshed(user_id=USER, connection_id=tab, tab_state="idle")
    for _ in range(3):  # three beats half a TTL apart: past the first TTL
        clock.advance(TTL / 2)
        assert await presence.connections_refreshed(tabs) == []

    assert await swept_for(USER) == []
    assert (await presence.shown_states([USER]))[USER][0] == "away"  # both tabs still idle
    for _, tab in tabs:
        await presence.connection_closed(user_id=USER, connection_id=tab)


async def test_the_worker_heartbeat_hands_back_connections_gone_or_expired_and_does_not_revive_them(store_kind, clock):
    await presence.connection_opened(user_id=USER, connection_id="stalled", choice="auto")
    clock.advance(TTL)  # expired, not swept yet
    await presence.connection_opened(user_id=USER + 1, connection_id="live", choice="auto")

    gone = await presence.connections_refreshed([(USER, "stalled"), (USER + 1, "live"), (USER + 2, "never-opened")])

    assert gone == [(USER, "stalled"), (USER + 2, "never-opened")]
    assert await swept_for(USER) == [(USER, "offline")]  # left for the full path, which announces
    assert set(await presence.shown_states([USER, USER + 1, USER + 2])) == {USER + 1}
    await presence.connection_closed(user_id=USER + 1, connection_id="live")


@pytest.mark.redis
async def test_the_worker_heartbeat_refreshes_hundreds_of_connections_in_a_few_redis_commands(settings):
    """Counted with MONITOR on a prefix of this test's own: what reaches Redis, not how long it took."""
    settings.PARLEY_CHANNEL_PREFIX = f"{settings.PARLEY_CHANNEL_PREFIX}-batch-{uuid.uuid4().hex[:6]}"
    tabs = [(user_id, f"tab-{tab}") for user_id in range(USER, USER + 300) for tab in (1, 2)]
    for user_id, tab in tabs:
        await presence.connection_opened(user_id=user_id, connection_id=tab, choice="auto")
    await presence.connections_refreshed(tabs[:1])  # redis-py loads the script on first use
    before = await presence._store().read_many([user_id for user_id, _ in tabs])

    commands, gone = await commands_during(presence.connections_refreshed(tabs), settings.PARLEY_CHANNEL_PREFIX)

    after = await presence._store().read_many([user_id for user_id, _ in tabs])
    assert gone == []
    assert all(
        after[user_id].connections[tab][1] > before[user_id].connections[tab][1] for user_id, tab in tabs
    )  # every connection's expiry moved forward
    sent = [command.split()[0].upper() for client, command in commands if client != "lua"]
    assert sent == ["EVALSHA"] * math.ceil(len(tabs) / presence.HEARTBEAT_BATCH)  # 3 calls for 600 sockets
    for user_id, tab in tabs:
        await presence.connection_closed(user_id=user_id, connection_id=tab)


async def commands_during(work, prefix: str) -> tuple[list[tuple[str, str]], object]:
    """The Redis commands that mention `prefix` while `work` runs, as (client type, command), and its result.
    Commands a script runs are listed with the client type "lua"."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    done = f"{prefix}-done"
    listening = threading.Event()
    seen: list[tuple[str, str]] = []

    def listen() -> None:
        with client.monitor() as monitor:
            listening.set()
            while (command := monitor.next_command())["command"] != f"ECHO {done}":
                if prefix in command["command"]:
                    seen.append((command["client_type"], command["command"]))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    await asyncio.to_thread(listening.wait, 10)
    result = await work
    await asyncio.to_thread(client.echo, done)
    await asyncio.to_thread(listener.join, 30)
    assert not listener.is_alive()
    return seen, result


async def test_concurrent_tabs_on_many_workers_leave_the_right_state(store_kind):
    tabs = [f"tab-{index}" for index in range(20)]
    await asyncio.gather(*(presence.connection_opened(user_id=USER, connection_id=tab, choice="auto") for tab in tabs))
    await asyncio.gather(*(presence.connection_closed(user_id=USER, connection_id=tab) for tab in tabs[1:]))

    assert (await presence.shown_states([USER]))[USER][0] == "available"
    assert (await presence.connection_closed(user_id=USER, connection_id=tabs[0])).state == "offline"


def test_redis_keys_live_under_the_channel_prefix(settings):
    store = presence.RedisPresenceStore({"address": "redis://unused"}, settings.PARLEY_CHANNEL_PREFIX)

    assert store._user_key(7).startswith(f"{settings.PARLEY_CHANNEL_PREFIX}:presence:")
    assert settings.PARLEY_PRESENCE_TTL_SECONDS > settings.PARLEY_PRESENCE_HEARTBEAT_SECONDS


async def test_online_count_counts_people_with_a_live_connection_not_tabs(store_kind, settings, clock):
    settings.PARLEY_CHANNEL_PREFIX = f"{settings.PARLEY_CHANNEL_PREFIX}-count-{store_kind}"
    await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")
    await presence.connection_opened(user_id=USER, connection_id="tab-2", choice="busy")
    await presence.connection_opened(user_id=USER + 1, connection_id="tab-1", choice="invisible")
    both = await presence.online_count()
    await presence.connection_closed(user_id=USER + 1, connection_id="tab-1")
    one = await presence.online_count()
    clock.advance(TTL)  # expired, before any sweep: expired connections are not online

    assert (both, one, await presence.online_count()) == (2, 1, 0)
